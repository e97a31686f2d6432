/* promparse.h -- a reader of the Prometheus text format, for `switchyard
 * status` (cli/status.c), which reads the /metrics pages of running
 * processes. A page is input from outside (any URL the operator names, or
 * whatever answers there): every line, name, label and value is bounded
 * here, malformed lines are skipped and counted, and nothing read is
 * trusted to be printable (cli/status.c escapes before the terminal).
 *
 * What it reads: "name{label="value",...} number [timestamp]" sample lines;
 * comments (# HELP, # TYPE) and blank lines are skipped. Label values keep
 * their escapes decoded (\\, \", \n). Values: decimal numbers, +Inf, -Inf,
 * NaN.
 *
 * Base layer (base/), pure: no I/O. */
#ifndef SY_PROMPARSE_H
#define SY_PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>

#define SY_PROMP_NAME 96       /* metric and label names, with the NUL */
#define SY_PROMP_VALUE 256     /* label values, with the NUL */
#define SY_PROMP_LABELS 8      /* labels per sample */
#define SY_PROMP_MAX_SAMPLES 20000 
#define SY_PROMP_MAX_LINE 8192

typedef struct sy_promp_label {
    char name[SY_PROMP_NAME];
    char value[SY_PROMP_VALUE];
} sy_promp_label;

typedef struct sy_promp_sample {
    char name[SY_PROMP_NAME];
    sy_promp_label labels[SY_PROMP_LABELS];
    size_t nlabels;
    double value;
} sy_promp_sample;

typedef struct sy_promp_page {
    sy_promp_sample *s;
    size_t n, cap;
    size_t bad;       /* lines skipped as malformed or over a bound */
    bool truncated;   /* more than SY_PROMP_MAX_SAMPLES samples */
} sy_promp_page;

/* One line (without its newline): 1 a sample in *out, 0 a comment or blank
 * line, -1 malformed or over a bound. */
int sy_promp_line(const char *line, size_t len, sy_promp_sample *out);
/* A whole page (len bytes, NUL not needed) into p (emptied first). */
void sy_promp_parse(sy_promp_page *p, const char *text, size_t len);
void sy_promp_free(sy_promp_page *p);
/* The label's value, or NULL. */
const char *sy_promp_label_of(const sy_promp_sample *s, const char *name);
/* Sum of the samples named name whose labels include every pair of want
 * (k1, v1, k2, v2, ...; nwant pairs); *found says whether any matched
 * (may be NULL). */
double sy_promp_sum(const sy_promp_page *p, const char *name, const char *const *want, size_t nwant, bool *found);

#endif
