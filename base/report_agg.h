/* report_agg.h -- the arithmetic of `switchyard report`: results grouped by
 * chosen fields, with sums, latency percentiles and error counts.
 *
 * Pure: no I/O, no Kafka, no JSON. cli/report.c reads the topics and feeds
 * one sample per result (or dead letter) here; it prints the groups.
 * Memory is bounded whatever the input: at most max_groups groups (later
 * distinct values all go to one group whose values read "other"), a fixed
 * histogram per group for latency (log-linear buckets, at most 1/64
 * relative error), at most SY_AGG_CLASSES - 1 error classes per group (the
 * rest counted under "other"). Sums are held below overflow.
 *
 * Base layer (base/): uses nothing of switchyard's above it. */
#ifndef SY_REPORT_AGG_H
#define SY_REPORT_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keymap.h"

/* Latency histogram: values below 32 exactly, above in 32 buckets per
 * power of two, up to 2^40 (larger values count as 2^40). */
#define SY_HIST_BUCKETS (32 + 36 * 32)
typedef struct sy_hist {
    uint64_t n;
    uint64_t count[SY_HIST_BUCKETS];
} sy_hist;

void sy_hist_add(sy_hist *h, int64_t v);
/* The q-quantile (0 < q <= 1) of the values added: the middle of the bucket
 * that holds the ceil(q*n)-th smallest; -1 when empty. */
int64_t sy_hist_quantile(const sy_hist *h, double q);

#define SY_AGG_MAX_BY 8
#define SY_AGG_CLASSES 8

/* One result (or dead letter) as the report counts it. */
typedef struct sy_agg_sample {
    bool ok;              /* answered; else failed */
    bool deduplicated;    /* answered from the store: counted, not paid */
    int64_t tokens_in, tokens_out;
    double cost_usd;      /* NaN, infinite or negative counts as 0 */
    int64_t latency_ms;   /* < 0: none */
    const char *error;    /* class when failed, or NULL */
} sy_agg_sample;

typedef struct sy_agg_count {
    char *name;
    int64_t n;
} sy_agg_count;

typedef struct sy_agg_group {
    char *values[SY_AGG_MAX_BY]; /* copies; "other" in the overflow group */
    int64_t jobs, ok, failed, deduplicated;
    int64_t tokens_in, tokens_out;
    double cost_usd;
    sy_hist latency;
    sy_agg_count classes[SY_AGG_CLASSES]; /* the last one may be "other" */
    size_t nclasses;
} sy_agg_group;

typedef struct sy_agg {
    size_t nby, max_groups;
    sy_keymap index;      /* group key -> group */
    sy_agg_group **groups;
    size_t ngroups;
    sy_agg_group *other;  /* NULL until the cap is reached */
    sy_agg_group total;   /* every sample (its values are NULL) */
} sy_agg;

void sy_agg_init(sy_agg *a, size_t nby, size_t max_groups);
void sy_agg_free(sy_agg *a);
/* Count s in the group of values[0..nby-1] (NULL reads as "-"). */
void sy_agg_add(sy_agg *a, const char *const *values, const sy_agg_sample *s);
/* The groups ordered by cost, then jobs (descending), then values; the
 * overflow group last. Returns a new array of ngroups (+1 with other);
 * *n receives its length. */
sy_agg_group **sy_agg_sorted(const sy_agg *a, size_t *n);

#endif
