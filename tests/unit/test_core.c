/* test_core.c -- the worker's pure core: offset tracking (commit only the
 * done prefix), retry timers, and routing decisions (retry, fall back,
 * give up; weighted arms sticky by key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "offsets.h"
#include "route.h"
#include "timers.h"

/* ---- offsets ---- */

static void test_offsets_prefix(void **state)
{
    (void)state;
    sy_offsets *o = sy_offsets_new();
    sy_offset_handle h[200];
    for (int i = 0; i < 200; i++) h[i] = sy_offsets_track(o, "t", 0, 1000 + i * 2); /* gaps */
    assert_int_equal(sy_offsets_pending_total(o), 200);
    for (int i = 199; i >= 1; i--) sy_offsets_done(o, h[i]); /* all but the first */
    assert_int_equal(sy_offsets_window(o, "t", 0), 200);        /* prefix held by #0 */
    assert_int_equal(sy_offsets_window_of(o, h[0]), 200);      /* the same, by handle */
    sy_offsets_done(o, h[0]);
    assert_int_equal(sy_offsets_window(o, "t", 0), 0);
    assert_int_equal(sy_offsets_pending_total(o), 0);
    sy_offsets_done(o, h[0]); /* twice: ignored */
    assert_int_equal(sy_offsets_pending_total(o), 0);
    sy_offsets_free(o);
}

/* The prefix handed to a transaction: only positions that moved, all of
 * them again after an abort (untake). */
static void test_offsets_take(void **state)
{
    (void)state;
    sy_offsets *o = sy_offsets_new();
    sy_offset_handle a = sy_offsets_track(o, "t", 0, 10), b = sy_offsets_track(o, "t", 1, 20);
    assert_null(sy_offsets_take(o)); /* nothing done yet */
    sy_offsets_done(o, a);
    rd_kafka_topic_partition_list_t *l = sy_offsets_take(o);
    assert_non_null(l);
    assert_int_equal(l->cnt, 1);
    assert_int_equal(l->elems[0].partition, 0);
    assert_int_equal(l->elems[0].offset, 11);
    rd_kafka_topic_partition_list_destroy(l);
    assert_null(sy_offsets_take(o)); /* not moved since */
    sy_offsets_done(o, b);
    sy_offsets_untake(o); /* the last take was aborted */
    l = sy_offsets_take(o);
    assert_non_null(l);
    assert_int_equal(l->cnt, 2);
    rd_kafka_topic_partition_list_destroy(l);
    sy_offsets_free(o);
}

static void test_offsets_revoke_ignores_late(void **state)
{
    (void)state;
    sy_offsets *o = sy_offsets_new();
    sy_offset_handle a = sy_offsets_track(o, "t", 3, 5);
    sy_offset_handle b = sy_offsets_track(o, "u", 3, 5);
    sy_offsets_revoke(o, "t", 3);
    assert_int_equal(sy_offsets_pending_total(o), 1);
    sy_offsets_done(o, a); /* late completion of a revoked partition */
    assert_int_equal(sy_offsets_pending_total(o), 1);
    sy_offsets_done(o, b);
    assert_int_equal(sy_offsets_pending_total(o), 0);
    sy_offsets_free(o);
}

/* ---- timers ---- */

static void test_timers_order_and_cancel(void **state)
{
    (void)state;
    sy_timers t;
    sy_timers_init(&t);
    int items[100];
    size_t pos[100];
    for (int i = 0; i < 100; i++) {
        items[i] = i;
        sy_timers_add(&t, (int64_t)((i * 37) % 100), &items[i], &pos[i]);
    }
    sy_timers_cancel(&t, &pos[37 % 100 == 37 ? 1 : 0]); /* item 1 is due at 37 */
    int64_t last = -1;
    int n = 0;
    int *it;
    assert_int_equal(sy_timers_wait_us(&t, 0), 0);
    while ((it = sy_timers_pop_due(&t, 1000))) {
        int64_t due = (*it * 37) % 100;
        assert_true(due >= last);
        assert_int_not_equal(*it, 1);
        last = due;
        n++;
    }
    assert_int_equal(n, 99);
    assert_int_equal(sy_timers_wait_us(&t, 0), -1);
    sy_timers_free(&t);
}

/* ---- routing ---- */

static sy_provider prov = {.name = "p"};
static sy_model m_a = {.alias = "a", .provider = &prov}, m_b = {.alias = "b", .provider = &prov},
                m_c = {.alias = "c", .provider = &prov};

/* Every model fits the job and can take calls. */
static const sy_model_view ok_views[SY_ROUTE_MAX_MODELS] = {
    [0 ... SY_ROUTE_MAX_MODELS - 1] = {.fits = true, .usable = true, .latency_ms = -1, .headroom = 1},
};

static sy_tier make_tier(sy_tier_model *models, size_t n, sy_tier_strategy s)
{
    return (sy_tier){.name = "t", .strategy = s, .models = models, .nmodels = n,
                     .retry = {.attempts_per_model = 2, .base_ms = 100, .cap_ms = 1000,
                               .timeout_ms = 1000}};
}

static sy_outcome outcome(sy_err_class c)
{
    return (sy_outcome){.error = c, .retry_after_ms = -1, .should_retry = -1};
}

static void test_route_retry_then_fallback(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_a, 1}, {&m_b, 1}};
    sy_tier tier = make_tier(ms, 2, SY_TIER_ORDERED);
    sy_job job = {.id = "j", .idempotency_key = "j"};
    sy_route r;
    int64_t delay;
    sy_route_begin(&r, &tier, &job, ok_views);
    assert_string_equal(sy_route_model(&r, &tier)->alias, "a");
    sy_outcome o = outcome(SY_ERR_SERVER);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &tier, &o, 12345, &delay), SY_ROUTE_RETRY);
    assert_in_range(delay, 0, 100);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &tier, &o, 1, &delay), SY_ROUTE_FALLBACK);
    assert_string_equal(sy_route_model(&r, &tier)->alias, "b");
    o = outcome(SY_ERR_BAD_REQUEST); /* never retried */
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &tier, &o, 1, &delay), SY_ROUTE_GIVE_UP);
}

static void test_route_retry_after_and_should_retry(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_a, 1}};
    sy_tier tier = make_tier(ms, 1, SY_TIER_ORDERED);
    sy_job job = {.id = "j", .idempotency_key = "j"};
    sy_route r;
    int64_t delay;
    sy_route_begin(&r, &tier, &job, ok_views);
    sy_outcome o = outcome(SY_ERR_RATE_LIMITED);
    o.retry_after_ms = 2500;
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &tier, &o, 1, &delay), SY_ROUTE_RETRY);
    assert_int_equal(delay, 2500);
    o = outcome(SY_ERR_SERVER);
    o.should_retry = 0; /* x-should-retry: false wins */
    sy_route_begin(&r, &tier, &job, ok_views);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &tier, &o, 1, &delay), SY_ROUTE_GIVE_UP);
}

static void test_route_weighted_sticky(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_a, 80}, {&m_b, 15}, {&m_c, 5}};
    sy_tier tier = make_tier(ms, 3, SY_TIER_WEIGHTED);
    int hits[3] = {0};
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        sy_job job = {.id = key, .idempotency_key = key};
        sy_route r1, r2;
        sy_route_begin(&r1, &tier, &job, ok_views);
        sy_route_begin(&r2, &tier, &job, ok_views);
        assert_int_equal(r1.order[0], r2.order[0]); /* sticky */
        assert_int_equal(r1.n, 3);
        hits[r1.order[0]]++;
    }
    assert_in_range(hits[0], 15600, 16400); /* 80% +- 2% */
    assert_in_range(hits[1], 2600, 3400);
    assert_in_range(hits[2], 800, 1200);
}

/* A job naming a model of its tier (metadata openai.model, from an OpenAI
 * batch file's body.model) gets it first, the others after it in order;
 * a name not in the tier, or a model that cannot take calls now, changes
 * nothing. */
static void test_route_named_model(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_a, 1}, {&m_b, 1}, {&m_c, 1}};
    sy_tier tier = make_tier(ms, 3, SY_TIER_ORDERED);
    sy_kv meta[] = {{"team", "x"}, {SY_META_MODEL, "c"}};
    sy_job job = {.id = "j", .idempotency_key = "j", .metadata = meta, .nmetadata = 2};
    sy_route r;
    sy_route_begin(&r, &tier, &job, ok_views);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.order[0], 2);
    assert_int_equal(r.order[1], 0);
    assert_int_equal(r.order[2], 1);
    assert_non_null(strstr(r.why, "named by the job (openai.model): c"));
    sy_model_view views[SY_ROUTE_MAX_MODELS];
    memcpy(views, ok_views, sizeof views);
    views[2].usable = false;
    sy_route_begin(&r, &tier, &job, views);
    assert_string_equal(sy_route_model(&r, &tier)->alias, "a");
    meta[1].value = "gpt-4o"; /* not a model of the tier */
    sy_route_begin(&r, &tier, &job, ok_views);
    assert_string_equal(sy_route_model(&r, &tier)->alias, "a");
    assert_null(strstr(r.why, "named"));
    meta[1].value = "b";
    tier.strategy = SY_TIER_WEIGHTED; /* over the weighted arm too */
    sy_route_begin(&r, &tier, &job, ok_views);
    assert_string_equal(sy_route_model(&r, &tier)->alias, "b");
    assert_int_equal(r.n, 3);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    sy_retry_policy p = {.base_ms = 500, .cap_ms = 8000};
    for (uint64_t rnd = 0; rnd < 5000; rnd += 7) {
        assert_in_range(sy_backoff_ms(&p, 0, rnd), 0, 500);
        assert_in_range(sy_backoff_ms(&p, 3, rnd), 0, 4000);
        assert_in_range(sy_backoff_ms(&p, 10, rnd), 0, 8000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_prefix),
        cmocka_unit_test(test_offsets_take),
        cmocka_unit_test(test_offsets_revoke_ignores_late),
        cmocka_unit_test(test_timers_order_and_cancel),
        cmocka_unit_test(test_route_retry_then_fallback),
        cmocka_unit_test(test_route_retry_after_and_should_retry),
        cmocka_unit_test(test_route_weighted_sticky),
        cmocka_unit_test(test_route_named_model),
        cmocka_unit_test(test_backoff_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
