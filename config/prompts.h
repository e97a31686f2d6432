/* prompts.h -- the prompt registry: prompts in their own files, versioned.
 *
 * A task may name a prompt kept apart from the pipeline instead of writing
 * it inline:
 *
 *   prompt: {ref: summarize, version: 2, rollout: {3: 10%}}
 *
 * The prompt is the file prompts/<ref>.yaml in the folder of the pipeline
 * file that names it (pipelines/README.md, "Prompt registry"):
 *
 *   versions:
 *     1: {system: "...", user: "Summarise {{text}}"}
 *     2: {user: "..."}
 *
 * `version` is the task's current version; `rollout` sends a share of the
 * jobs to one other version, sticky by idempotency key (a resubmitted job
 * gets the version it got before); a job pins a version with its metadata
 * key `prompt_version`. Each file is read once per load into the config
 * (sy_config.prompts); errors are at file:line:column like the pipeline's.
 * A reload (cfgreload.h) reads the prompt files again with the pipelines.
 *
 * Config layer (config/), called by the loader (pipeline.c); sy_prompt_pick
 * and sy_prompt_for_job are pure, used by the worker for each job. */
#ifndef SY_PROMPTS_H
#define SY_PROMPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "job.h"
#include "template.h"

#define SY_PROMPT_MAX_VERSION 1000000
#define SY_PROMPT_ID_MAX 100
#define SY_PROMPT_PIN_KEY "prompt_version" /* the job metadata key that pins a version */

typedef struct sy_prompt_version {
    int version;
    sy_template system, user; /* user: required; system: may be absent */
    bool has_system;
    int line;                 /* where it is defined in the prompt file */
} sy_prompt_version;

typedef struct sy_prompt {
    char *id;
    char *file;               /* prompts/<id>.yaml, as opened */
    sy_prompt_version *versions; /* in the file's order */
    size_t nversions;
} sy_prompt;

struct yn_map;
/* Compile the template <where><key> of m (yamlnode.h): *has set, or an
 * error pointing into the scalar (a missing key only when required).
 * Shared by inline prompts (pipeline.c) and prompt files. */
void sy_template_from_yaml(const struct yn_map *m, const char *where, const char *key, bool required,
                           sy_template *tpl, bool *has);

/* A safe prompt id (a file name): [A-Za-z0-9._-], 1..SY_PROMPT_ID_MAX,
 * not starting with '.'. */
bool sy_prompt_id_ok(const char *id);

/* The prompt `id` for a task of pipeline_file: found in list, or read from
 * <dir of pipeline_file>/prompts/<id>.yaml and added to it. NULL when it
 * cannot be read or is invalid: every error is in diags (an absent file at
 * the referring place at_file:at_line:at_column). */
const sy_prompt *sy_prompt_get(sy_prompt ***list, size_t *n, const char *pipeline_file, const char *id,
                               sy_diags *diags, const char *at_file, int at_line, int at_column);
const sy_prompt_version *sy_prompt_version_of(const sy_prompt *p, int version);
void sy_prompts_free(sy_prompt **list, size_t n);

/* Which version a job with this key gets: rollout_version for a share of
 * rollout_bp / 10000 of keys (sticky: the same key, the same answer), else
 * current. Independent of the model arms' pick (worker/route.c). */
int sy_prompt_pick(int current, int rollout_version, int rollout_bp, const char *key);

/* The version of p a job runs with: its pin (metadata prompt_version), else
 * the pick. -1 with the reason in err when the pin is not a version of p. */
int sy_prompt_for_job(const sy_prompt *p, int current, int rollout_version, int rollout_bp, const sy_job *job,
                      char *err, size_t errlen);

/* `switchyard check`: the variables each version of p uses, against the
 * ones the task's current version uses (what its jobs carry). A rollout
 * version that uses another is an error (in errors, counted in the
 * return), any other version a warning (a job pinning it needs it). */
size_t sy_prompt_check_vars(const sy_prompt *p, int current, int rollout, const char *task, sy_diags *errors,
                            sy_diags *warnings);

#endif
