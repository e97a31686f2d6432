/* fuzz_template.c -- libFuzzer target for prompt templates: compile any
 * text (as a pipeline file can hold) and render it with a job's variables.
 *
 * Input: the template up to the first NUL, then "name=value" lines that
 * become the job's variables. A compile error must point inside the
 * source; a render that succeeds must give exactly the literal text plus
 * each variable's value (the parts' lengths add up). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "util.h"

/* "name=value" lines of text[0..len) -> job vars (values may be empty). */
static void vars_from(const char *text, size_t len, sy_job *job)
{
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        if (eq) {
            job->vars = sy_xrealloc(job->vars, (job->nvars + 1) * sizeof *job->vars);
            job->vars[job->nvars++] = (sy_kv){sy_xstrndup(p, (size_t)(eq - p)),
                                              sy_xstrndup(eq + 1, (size_t)(eol - eq - 1))};
        }
        p = eol + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t slen = nul ? (size_t)(nul - (const char *)data) : size;
    char *source = sy_xstrndup((const char *)data, slen);
    sy_job job = {0};
    if (nul) vars_from(nul + 1, size - slen - 1, &job);

    sy_template t;
    char err[256];
    size_t at = SIZE_MAX;
    if (sy_template_compile(&t, source, err, sizeof err, &at) != 0) {
        if (at >= slen) abort();
    } else {
        size_t want = 0;
        for (size_t i = 0; i < t.nparts; i++) {
            const sy_tpl_part *part = &t.parts[i];
            if (!part->is_var) want += part->len;
            else {
                char *name = sy_xstrndup(part->text, part->len);
                const char *v = sy_job_var(&job, name);
                want += v ? strlen(v) : 0;
                free(name);
            }
        }
        sy_buf out;
        sy_buf_init(&out);
        if (sy_template_render(&t, &job, &out, err, sizeof err) == 0 && out.len != want) abort();
        sy_buf_free(&out);
        sy_template_free(&t);
    }
    sy_job_free(&job);
    free(source);
    return 0;
}
