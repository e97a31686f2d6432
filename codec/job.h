/* job.h -- the job: what producers put on the jobs topic.
 *
 * A job names a task ("classify"), carries either template variables (vars)
 * or a full chat (messages), a string map of metadata echoed into the result,
 * and an idempotency key (defaults to the id; it is also the Kafka key).
 *
 * Wire format: a msgpack map is canonical; a JSON object is accepted too, so
 * kcat or any Kafka client can submit. sy_job_decode tells them apart by the
 * first non-blank byte ('{' means JSON). schemas/job.schema.json documents it.
 * Decoding never crashes on bad data: it returns -1 and a reason for the
 * dead-letter topic.
 *
 * Codec layer (codec/): wire formats, on base/ only. */
#ifndef SY_JOB_H
#define SY_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SY_JOB_MAX_BYTES (512 * 1024) /* larger values are rejected as oversize */

typedef struct sy_kv {
    char *key;
    char *value;
} sy_kv;

typedef struct sy_msg {
    char *role;    /* "system", "user" or "assistant" */
    char *content;
} sy_msg;

typedef struct sy_job {
    char *id;              /* required, non-empty */
    char *task;            /* required, non-empty */
    char *idempotency_key; /* defaults to id */
    sy_kv *vars;           /* template variables (values are strings; numbers
                              and booleans in the input are converted to text) */
    size_t nvars;
    sy_msg *messages;      /* full chat instead of (or besides) vars */
    size_t nmessages;
    sy_kv *metadata;       /* string map: team, workflow, env ... */
    size_t nmetadata;
    int priority;          /* default 0; higher runs first */
    int64_t deadline_ms;   /* unix time in ms; 0 = none */
} sy_job;

/* Decode a msgpack or JSON job. On error returns -1, leaves *job empty (safe
 * to sy_job_free) and writes a one-line reason into err. */
int sy_job_decode(const void *data, size_t len, sy_job *job, char *err, size_t errlen);
/* Encode as the canonical msgpack map (appends to out). */
void sy_job_encode_msgpack(const sy_job *job, sy_buf *out);
/* Encode as a JSON object (appends to out). */
void sy_job_encode_json(const sy_job *job, sy_buf *out);
void sy_job_free(sy_job *job);

/* Parse JSON text and re-pack it as msgpack (appends to out); -1 with a
 * reason on invalid JSON. Used for JSON jobs and for output_json. */
int sy_json_to_msgpack(const void *json_text, size_t len, sy_buf *out, char *err, size_t errlen);

/* Lookups; NULL when absent. */
const char *sy_job_var(const sy_job *job, const char *name);
const char *sy_job_meta(const sy_job *job, const char *name);
/* The metadata key that names the model a job asks for: body.model of an
 * OpenAI Batch API line (submit --openai-batch). When it is the alias of a
 * model of the job's tier that can take calls, the worker tries that model
 * first (worker/route.h); else it is only echoed in the result. */
#define SY_META_MODEL "openai.model"

#endif
