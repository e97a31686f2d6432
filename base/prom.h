/* prom.h -- the Prometheus text exposition format, written into an sy_buf.
 *
 * Pure: no I/O, no clocks. The worker and the scheduler render their
 * counters with it (worker/metrics.c, scheduler/scheduler.c) and the HTTP
 * endpoint (httpd.h) serves the text. Label values come from outside (task
 * names, models, job metadata): they are escaped here (\\, \", \n) and a
 * metadata tag's values go through a capped set (sy_prom_capset) so that a
 * flood of distinct values cannot grow the page without bound.
 *
 * Base layer (base/). */
#ifndef SY_PROM_H
#define SY_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum { SY_PROM_COUNTER, SY_PROM_GAUGE, SY_PROM_HISTOGRAM } sy_prom_type;

/* One label: name (a fixed identifier of ours) and value (escaped). */
typedef struct sy_prom_label {
    const char *name;
    const char *value;
} sy_prom_label;

/* "# HELP name help\n# TYPE name type\n" (help escaped: \\ and \n). */
void sy_prom_family(sy_buf *b, const char *name, const char *help, sy_prom_type type);
/* name{l1="v1",...} value\n (no braces without labels). */
void sy_prom_sample(sy_buf *b, const char *name, const sy_prom_label *l, size_t nl, double value);
/* A label value as the format wants it: \ -> \\, " -> \", LF -> \n. */
void sy_prom_escape(sy_buf *b, const char *value);

/* A histogram of fixed bounds (seconds), cumulative only when written. */
#define SY_PROM_BUCKETS 14
typedef struct sy_prom_hist {
    uint64_t counts[SY_PROM_BUCKETS + 1]; /* per bucket, the last one is +Inf */
    double sum;
    uint64_t count;
} sy_prom_hist;
/* The upper bounds, in seconds (0.005 .. 600). */
extern const double sy_prom_bounds[SY_PROM_BUCKETS];
void sy_prom_observe(sy_prom_hist *h, double seconds);
/* name_bucket{...,le="..."} (cumulative), name_sum, name_count. */
void sy_prom_hist_write(sy_buf *b, const char *name, const sy_prom_label *l, size_t nl,
                        const sy_prom_hist *h);

/* The values of one label, at most `cap` distinct ones; the rest share the
 * slot "other" (the last slot). */
#define SY_PROM_OTHER "other"
typedef struct sy_prom_capset {
    char **values; /* n of them; values[cap] is "other" once used */
    size_t n, cap;
} sy_prom_capset;
void sy_prom_capset_init(sy_prom_capset *s, size_t cap);
void sy_prom_capset_free(sy_prom_capset *s);
/* The slot of value (0 .. cap; cap is "other"). A value longer than 128
 * bytes counts as other too. */
size_t sy_prom_capset_slot(sy_prom_capset *s, const char *value);
/* The label value of a slot. */
const char *sy_prom_capset_value(const sy_prom_capset *s, size_t slot);

#endif
