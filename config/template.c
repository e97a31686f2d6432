/* template.c -- see template.h. Compilation splits the source once into
 * literal and variable parts; rendering appends them in one pass. */
#include "template.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_part(sy_template *t, const char *text, size_t len, int is_var)
{
    if (len == 0 && !is_var) return;
    t->parts = sy_xrealloc(t->parts, (t->nparts + 1) * sizeof(sy_tpl_part));
    t->parts[t->nparts++] = (sy_tpl_part){.text = text, .len = len, .is_var = is_var};
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Parse "{{ name }}" at p (p points at the first '{'). Returns the length
 * consumed, or 0 on a syntax error (with *why set). */
static size_t parse_var(const char *p, const char **name, size_t *len, const char **why)
{
    const char *q = p + 2;
    while (*q == ' ') q++;
    const char *start = q;
    while (name_char(*q)) q++;
    *name = start;
    *len = (size_t)(q - start);
    while (*q == ' ') q++;
    if (q[0] != '}' || q[1] != '}') {
        *why = strstr(p + 2, "}}") ? "bad character in a variable name" : "unclosed '{{'";
        return 0;
    }
    if (*len == 0) {
        *why = "empty variable name in '{{ }}'";
        return 0;
    }
    return (size_t)(q + 2 - p);
}

int sy_template_compile(sy_template *t, const char *source, char *err, size_t errlen,
                        size_t *err_offset)
{
    memset(t, 0, sizeof *t);
    t->source = sy_xstrdup(source);
    const char *lit = t->source, *p = t->source;
    while ((p = strstr(p, "{{"))) {
        const char *name, *why = NULL;
        size_t len, used = parse_var(p, &name, &len, &why);
        if (!used) {
            snprintf(err, errlen, "%s", why);
            if (err_offset) *err_offset = (size_t)(p - t->source);
            sy_template_free(t);
            return -1;
        }
        add_part(t, lit, (size_t)(p - lit), 0);
        add_part(t, name, len, 1);
        p += used;
        lit = p;
    }
    add_part(t, lit, strlen(lit), 0);
    return 0;
}

static const char *find_var(const sy_job *job, const char *name, size_t len)
{
    for (size_t i = 0; i < job->nvars; i++)
        if (strlen(job->vars[i].key) == len && !memcmp(job->vars[i].key, name, len))
            return job->vars[i].value;
    return NULL;
}

int sy_template_render(const sy_template *t, const sy_job *job, sy_buf *out, char *err,
                       size_t errlen)
{
    size_t start = out->len;
    for (size_t i = 0; i < t->nparts; i++) {
        const sy_tpl_part *part = &t->parts[i];
        const char *text = part->text;
        size_t len = part->len;
        if (part->is_var) {
            text = find_var(job, part->text, part->len);
            if (!text) {
                snprintf(err, errlen, "template variable '%.*s' is not set in the job",
                         (int)part->len, part->text);
                return -1;
            }
            len = strlen(text);
        }
        if (len > SY_PROMPT_MAX_BYTES - (out->len - start)) {
            snprintf(err, errlen, "the rendered prompt is larger than %u bytes",
                     SY_PROMPT_MAX_BYTES);
            out->len = start;
            return -1;
        }
        sy_buf_append(out, text, len);
    }
    return 0;
}

void sy_template_free(sy_template *t)
{
    free(t->source);
    free(t->parts);
    memset(t, 0, sizeof *t);
}
