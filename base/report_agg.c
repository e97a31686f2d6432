/* report_agg.c -- see report_agg.h. */
#include "report_agg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

#define SUM_CAP (INT64_MAX / 4)
#define HIST_MAX ((int64_t)1 << 40)

static int bucket_of(int64_t v)
{
    if (v < 0) v = 0;
    if (v >= HIST_MAX) v = HIST_MAX - 1;
    if (v < 32) return (int)v;
    int msb = 63 - __builtin_clzll((unsigned long long)v);
    int sub = (int)((v >> (msb - 5)) & 31);
    return 32 + (msb - 5) * 32 + sub;
}

static int64_t bucket_middle(int i)
{
    if (i < 32) return i;
    int shift = (i - 32) / 32, sub = (i - 32) % 32;
    int64_t lower = (int64_t)(32 + sub) << shift;
    return lower + (((int64_t)1 << shift) >> 1);
}

void sy_hist_add(sy_hist *h, int64_t v)
{
    h->count[bucket_of(v)]++;
    h->n++;
}

int64_t sy_hist_quantile(const sy_hist *h, double q)
{
    if (!h->n) return -1;
    if (!(q > 0)) q = 0;
    if (q > 1) q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;
    if (rank < 1) rank = 1;
    for (int i = 0; i < SY_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) return bucket_middle(i);
    }
    return bucket_middle(SY_HIST_BUCKETS - 1);
}

void sy_agg_init(sy_agg *a, size_t nby, size_t max_groups)
{
    memset(a, 0, sizeof *a);
    a->nby = nby > SY_AGG_MAX_BY ? SY_AGG_MAX_BY : nby;
    a->max_groups = max_groups ? max_groups : 1;
    sy_keymap_init(&a->index);
}

static void group_free(sy_agg_group *g)
{
    if (!g) return;
    for (size_t i = 0; i < SY_AGG_MAX_BY; i++) free(g->values[i]);
    for (size_t i = 0; i < g->nclasses; i++) free(g->classes[i].name);
    free(g);
}

void sy_agg_free(sy_agg *a)
{
    for (size_t i = 0; i < a->ngroups; i++) group_free(a->groups[i]);
    free(a->groups);
    group_free(a->other);
    for (size_t i = 0; i < a->total.nclasses; i++) free(a->total.classes[i].name);
    sy_keymap_free(&a->index);
    memset(a, 0, sizeof *a);
}

static int64_t sum(int64_t a, int64_t b)
{
    if (b < 0) b = 0;
    return a > SUM_CAP - b ? SUM_CAP : a + b;
}

/* Named classes take the first SY_AGG_CLASSES - 1 slots; the last one,
 * named "other", counts every class that found no slot. */
static void count_class(sy_agg_group *g, const char *name)
{
    size_t i;
    for (i = 0; i < g->nclasses; i++)
        if (!strcmp(g->classes[i].name, name)) break;
    if (i == g->nclasses && g->nclasses >= SY_AGG_CLASSES - 1) {
        i = SY_AGG_CLASSES - 1;
        if (g->nclasses < SY_AGG_CLASSES) g->classes[g->nclasses++].name = sy_xstrdup("other");
    } else if (i == g->nclasses) {
        g->classes[g->nclasses++].name = sy_xstrdup(name);
    }
    g->classes[i].n++;
}

static void count(sy_agg_group *g, const sy_agg_sample *s)
{
    g->jobs++;
    if (s->ok) g->ok++;
    else g->failed++;
    if (s->deduplicated) {
        g->deduplicated++;
    } else {
        g->tokens_in = sum(g->tokens_in, s->tokens_in);
        g->tokens_out = sum(g->tokens_out, s->tokens_out);
        if (isfinite(s->cost_usd) && s->cost_usd > 0 && s->cost_usd < 1e12) g->cost_usd += s->cost_usd;
        if (s->latency_ms >= 0) sy_hist_add(&g->latency, s->latency_ms);
    }
    if (!s->ok) count_class(g, s->error && *s->error ? s->error : "unknown");
}

static sy_agg_group *group_new(const sy_agg *a, const char *const *values)
{
    sy_agg_group *g = sy_xcalloc(1, sizeof *g);
    for (size_t i = 0; i < a->nby; i++) g->values[i] = sy_xstrdup(values ? values[i] ? values[i] : "-" : "other");
    return g;
}

void sy_agg_add(sy_agg *a, const char *const *values, const sy_agg_sample *s)
{
    /* The key: each value with its length, so no value can fake a boundary. */
    sy_buf key;
    sy_buf_init(&key);
    for (size_t i = 0; i < a->nby; i++) {
        const char *v = values[i] ? values[i] : "-";
        sy_buf_printf(&key, "%zu:", strlen(v));
        sy_buf_puts(&key, v);
    }
    sy_buf_putc(&key, 0);
    sy_agg_group *g = sy_keymap_get(&a->index, key.data);
    if (!g && a->ngroups < a->max_groups) {
        g = group_new(a, values);
        a->groups = sy_xrealloc(a->groups, (a->ngroups + 1) * sizeof *a->groups);
        a->groups[a->ngroups++] = g;
        sy_keymap_put(&a->index, key.data, g);
    } else if (!g) {
        if (!a->other) a->other = group_new(a, NULL);
        g = a->other;
    }
    sy_buf_free(&key);
    count(g, s);
    count(&a->total, s);
}

static int by_cost(const void *x, const void *y)
{
    const sy_agg_group *a = *(sy_agg_group *const *)x, *b = *(sy_agg_group *const *)y;
    if (a->cost_usd != b->cost_usd) return a->cost_usd > b->cost_usd ? -1 : 1;
    if (a->jobs != b->jobs) return a->jobs > b->jobs ? -1 : 1;
    for (size_t i = 0; i < SY_AGG_MAX_BY && a->values[i] && b->values[i]; i++) {
        int c = strcmp(a->values[i], b->values[i]);
        if (c) return c;
    }
    return 0;
}

sy_agg_group **sy_agg_sorted(const sy_agg *a, size_t *n)
{
    sy_agg_group **v = sy_xcalloc(a->ngroups + 1, sizeof *v);
    if (a->ngroups) memcpy(v, a->groups, a->ngroups * sizeof *v);
    qsort(v, a->ngroups, sizeof *v, by_cost);
    *n = a->ngroups;
    if (a->other) v[(*n)++] = a->other;
    return v;
}
