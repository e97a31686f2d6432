/* template.h -- prompt templates with {{var}} substitution.
 *
 * A task's prompt has a system and a user template. "{{name}}" (spaces
 * inside the braces allowed) is replaced by the job's variable `name`; "{{"
 * always opens a variable (there is no escape). A missing variable is an
 * error (the job goes to the dead-letter topic), never an empty string, and
 * so is a rendered prompt over SY_PROMPT_MAX_BYTES (a template naming a
 * large variable many times must not size an allocation from job text). Templates are compiled once per
 * pipeline load into a list of literal and variable parts, so rendering a job
 * is a single pass with no parsing.
 *
 * Config layer (config/): pipeline files, on codec/ and base/. */
#ifndef SY_TEMPLATE_H
#define SY_TEMPLATE_H

#include <stddef.h>

#include "buf.h"
#include "job.h"

typedef struct sy_tpl_part {
    const char *text; /* literal text, or variable name */
    size_t len;
    int is_var;
} sy_tpl_part;

typedef struct sy_template {
    char *source;       /* owned copy of the template text */
    sy_tpl_part *parts;
    size_t nparts;
} sy_template;

/* Compile; on a syntax error (unclosed "{{", empty name) returns -1 with a
 * reason and the byte offset of the problem in *err_offset. */
int sy_template_compile(sy_template *t, const char *source, char *err, size_t errlen,
                        size_t *err_offset);
#define SY_PROMPT_MAX_BYTES (8u << 20)

/* Render into out (appends). Returns -1 and names the missing variable, or
 * says the prompt is too large, in err. */
int sy_template_render(const sy_template *t, const sy_job *job, sy_buf *out,
                       char *err, size_t errlen);
void sy_template_free(sy_template *t);

#endif
