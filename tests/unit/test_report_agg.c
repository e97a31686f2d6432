/* test_report_agg.c -- the arithmetic of `switchyard report`
 * (base/report_agg.h): percentiles against sorted arrays, grouping, the
 * caps on groups and error classes, what deduplicated results count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_agg.h"

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact q-quantile of a sorted array (the ceil(q*n)-th smallest). */
static int64_t exact(const int64_t *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank ? rank - 1 : 0];
}

static void test_percentiles_within_bucket_error(void **state)
{
    (void)state;
    static sy_hist h;
    enum { N = 20000 };
    static int64_t v[N];
    srand(3);
    for (int i = 0; i < N; i++) {
        /* latencies from 0 to ~100 s, most of them short */
        v[i] = (int64_t)(pow((double)rand() / RAND_MAX, 3) * 100000);
        sy_hist_add(&h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp64);
    const double qs[] = {0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        int64_t want = exact(v, N, qs[i]), got = sy_hist_quantile(&h, qs[i]);
        double err = fabs((double)(got - want));
        if (want < 32) assert_int_equal(got, want);
        else assert_true(err <= (double)want / 64 + 1);
    }
}

static void test_hist_small_exact_empty_and_clamped(void **state)
{
    (void)state;
    static sy_hist h;
    assert_int_equal(sy_hist_quantile(&h, 0.5), -1);
    for (int i = 1; i <= 10; i++) sy_hist_add(&h, i);
    assert_int_equal(sy_hist_quantile(&h, 0.5), 5);
    assert_int_equal(sy_hist_quantile(&h, 0.95), 10);
    assert_int_equal(sy_hist_quantile(&h, 0.1), 1);
    static sy_hist g;
    sy_hist_add(&g, -5);
    assert_int_equal(sy_hist_quantile(&g, 1), 0);
    sy_hist_add(&g, INT64_MAX);
    int64_t top = sy_hist_quantile(&g, 1);
    assert_true(top > ((int64_t)1 << 39) && top < ((int64_t)1 << 41));
}

static sy_agg_sample ok_sample(int64_t in, int64_t out, double cost, int64_t ms)
{
    return (sy_agg_sample){.ok = true, .tokens_in = in, .tokens_out = out, .cost_usd = cost, .latency_ms = ms};
}

static const sy_agg_group *find(const sy_agg *a, const char *v0, const char *v1)
{
    for (size_t i = 0; i < a->ngroups; i++)
        if (!strcmp(a->groups[i]->values[0], v0) && (!v1 || !strcmp(a->groups[i]->values[1], v1)))
            return a->groups[i];
    return NULL;
}

static void test_groups_sums_dedup_and_errors(void **state)
{
    (void)state;
    sy_agg a;
    sy_agg_init(&a, 2, 100);
    const char *search_gpt[] = {"search", "gpt"}, *search_claude[] = {"search", "claude"},
               *ads_gpt[] = {"ads", "gpt"}, *none[] = {NULL, "gpt"};
    sy_agg_sample s = ok_sample(100, 10, 0.5, 200);
    sy_agg_add(&a, search_gpt, &s);
    sy_agg_add(&a, search_gpt, &s);
    s.deduplicated = true; /* answered from the store: counted, not paid */
    sy_agg_add(&a, search_gpt, &s);
    s = ok_sample(1000, 100, 2.0, 900);
    sy_agg_add(&a, search_claude, &s);
    s = (sy_agg_sample){.error = "timeout", .latency_ms = 5000, .tokens_in = 7};
    sy_agg_add(&a, ads_gpt, &s);
    s.error = "server_error";
    sy_agg_add(&a, ads_gpt, &s);
    sy_agg_add(&a, ads_gpt, &s);
    s = (sy_agg_sample){.error = NULL, .latency_ms = -1};
    sy_agg_add(&a, none, &s);

    const sy_agg_group *g = find(&a, "search", "gpt");
    assert_non_null(g);
    assert_int_equal(g->jobs, 3);
    assert_int_equal(g->ok, 3);
    assert_int_equal(g->deduplicated, 1);
    assert_int_equal(g->tokens_in, 200);
    assert_int_equal(g->tokens_out, 20);
    assert_true(fabs(g->cost_usd - 1.0) < 1e-12);
    assert_int_equal(g->latency.n, 2);
    g = find(&a, "ads", "gpt");
    assert_int_equal(g->failed, 3);
    assert_int_equal(g->nclasses, 2);
    assert_string_equal(g->classes[0].name, "timeout");
    assert_int_equal(g->classes[0].n, 1);
    assert_string_equal(g->classes[1].name, "server_error");
    assert_int_equal(g->classes[1].n, 2);
    g = find(&a, "-", "gpt"); /* a missing value reads "-" */
    assert_non_null(g);
    assert_string_equal(g->classes[0].name, "unknown");
    assert_int_equal(g->latency.n, 0);
    assert_int_equal(a.ngroups, 4);
    assert_int_equal(a.total.jobs, 8);
    assert_int_equal(a.total.tokens_in, 200 + 1000 + 21);
    assert_true(fabs(a.total.cost_usd - 3.0) < 1e-12);

    size_t n;
    sy_agg_group **v = sy_agg_sorted(&a, &n);
    assert_int_equal(n, 4);
    assert_string_equal(v[0]->values[1], "claude"); /* most cost first */
    assert_string_equal(v[1]->values[1], "gpt");
    assert_string_equal(v[2]->values[0], "ads"); /* then most jobs */
    free(v);
    sy_agg_free(&a);
}

static void test_cap_on_groups_and_classes(void **state)
{
    (void)state;
    sy_agg a;
    sy_agg_init(&a, 1, 3);
    char val[16], cls[16];
    double want = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(val, sizeof val, "team-%d", i % 10);
        snprintf(cls, sizeof cls, "class-%d", i % 12);
        const char *vals[] = {val};
        sy_agg_sample s = ok_sample(i, 1, 0.25 * i, i);
        if (i % 2) {
            s.ok = false;
            s.error = cls;
        }
        want += 0.25 * i;
        sy_agg_add(&a, vals, &s);
    }
    assert_int_equal(a.ngroups, 3);
    assert_non_null(a.other);
    assert_string_equal(a.other->values[0], "other");
    assert_int_equal(a.other->jobs, 50 - 3 * 5);
    int64_t jobs = a.other->jobs;
    for (size_t i = 0; i < a.ngroups; i++) jobs += a.groups[i]->jobs;
    assert_int_equal(jobs, 50);
    assert_true(fabs(a.total.cost_usd - want) < 1e-9);
    /* 6 distinct failing classes in total (odd i mod 12): all named */
    assert_int_equal(a.total.nclasses, 6);
    sy_agg_free(&a);

    sy_agg_init(&a, 1, 10);
    const char *one[] = {"x"};
    for (int i = 0; i < 20; i++) {
        snprintf(cls, sizeof cls, "c%d", i);
        sy_agg_sample s = {.error = cls, .latency_ms = -1};
        sy_agg_add(&a, one, &s);
    }
    const sy_agg_group *g = a.groups[0];
    assert_int_equal(g->nclasses, SY_AGG_CLASSES);
    assert_string_equal(g->classes[SY_AGG_CLASSES - 1].name, "other");
    assert_int_equal(g->classes[SY_AGG_CLASSES - 1].n, 20 - (SY_AGG_CLASSES - 1));
    size_t n;
    sy_agg_group **v = sy_agg_sorted(&a, &n);
    assert_int_equal(n, 1);
    free(v);
    sy_agg_free(&a);
}

static void test_values_cannot_fake_a_boundary_and_sums_hold(void **state)
{
    (void)state;
    sy_agg a;
    sy_agg_init(&a, 2, 10);
    const char *x[] = {"a1:b", "c"}, *y[] = {"a", "1:b1:c"};
    sy_agg_sample s = ok_sample(INT64_MAX, -5, NAN, 1);
    sy_agg_add(&a, x, &s);
    sy_agg_add(&a, y, &s);
    s.cost_usd = INFINITY;
    sy_agg_add(&a, y, &s);
    s.cost_usd = -1;
    sy_agg_add(&a, y, &s);
    assert_int_equal(a.ngroups, 2);
    assert_int_equal(a.total.tokens_in, INT64_MAX / 4); /* held, not wrapped */
    assert_int_equal(a.total.tokens_out, 0);            /* negative counts as 0 */
    assert_true(a.total.cost_usd == 0);
    sy_agg_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_within_bucket_error),
        cmocka_unit_test(test_hist_small_exact_empty_and_clamped),
        cmocka_unit_test(test_groups_sums_dedup_and_errors),
        cmocka_unit_test(test_cap_on_groups_and_classes),
        cmocka_unit_test(test_values_cannot_fake_a_boundary_and_sums_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
