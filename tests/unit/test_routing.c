/* test_routing.c -- choosing models and surviving their failures: the
 * dynamic strategies (cheapest, fastest, most-headroom), context-window and
 * refusal fallbacks, account errors, the circuit breaker over a driven
 * clock, the fair priority queue of waiting jobs, and account cool-down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "pacing.h"
#include "route.h"
#include "waitq.h"

static sy_provider prov = {.name = "p"};
static sy_model m_a = {.alias = "a", .provider = &prov, .context_window = 8000},
                m_b = {.alias = "b", .provider = &prov, .context_window = 32000},
                m_c = {.alias = "c", .provider = &prov, .context_window = 128000};
static sy_tier_model three[] = {{&m_a, 1}, {&m_b, 1}, {&m_c, 1}};
static sy_job job = {.id = "j", .idempotency_key = "j"};

static sy_tier tier_of(sy_tier_strategy s)
{
    return (sy_tier){.name = "t", .strategy = s, .models = three, .nmodels = 3,
                     .refusal_model = -1,
                     .retry = {.attempts_per_model = 2, .base_ms = 100, .cap_ms = 1000,
                               .timeout_ms = 1000}};
}

static void views_ok(sy_model_view *v)
{
    for (int i = 0; i < 3; i++)
        v[i] = (sy_model_view){.fits = true, .usable = true, .latency_ms = -1, .headroom = 1};
}

static const char *order_of(const sy_route *r, const sy_tier *t, char *buf)
{
    buf[0] = '\0';
    for (int i = 0; i < r->n; i++) strcat(buf, t->models[r->order[i]].model->alias);
    return buf;
}

static sy_outcome outcome(sy_err_class c, int status)
{
    return (sy_outcome){.error = c, .http_status = status, .retry_after_ms = -1,
                        .should_retry = -1};
}

/* ---- strategies ---- */

static void test_cheapest_orders_by_expected_cost(void **state)
{
    (void)state;
    sy_tier t = tier_of(SY_TIER_CHEAPEST);
    sy_model_view v[3];
    views_ok(v);
    v[0].cost_usd = 0.003, v[1].cost_usd = 0.0001, v[2].cost_usd = 0.002;
    sy_route r;
    char buf[8];
    assert_int_equal(sy_route_begin(&r, &t, &job, v), 0);
    assert_string_equal(order_of(&r, &t, buf), "bca");
    assert_non_null(strstr(r.why, "cheapest: b, expected $0.000100"));
}

static void test_fastest_measures_unknown_first(void **state)
{
    (void)state;
    sy_tier t = tier_of(SY_TIER_FASTEST);
    sy_model_view v[3];
    views_ok(v);
    v[0].latency_ms = 900, v[1].latency_ms = 300, v[2].latency_ms = -1;
    sy_route r;
    char buf[8];
    sy_route_begin(&r, &t, &job, v);
    assert_string_equal(order_of(&r, &t, buf), "cba"); /* c not measured yet */
    v[2].latency_ms = 500;
    sy_route_begin(&r, &t, &job, v);
    assert_string_equal(order_of(&r, &t, buf), "bca");
    assert_non_null(strstr(r.why, "300 ms"));
}

static void test_most_headroom_and_unusable_last(void **state)
{
    (void)state;
    sy_tier t = tier_of(SY_TIER_MOST_HEADROOM);
    sy_model_view v[3];
    views_ok(v);
    v[0].headroom = 0.2, v[1].headroom = 0.9, v[2].headroom = 0.5;
    v[1].usable = false; /* breaker open: goes last despite its headroom */
    sy_route r;
    char buf[8];
    sy_route_begin(&r, &t, &job, v);
    assert_string_equal(order_of(&r, &t, buf), "cab");
    assert_non_null(strstr(r.why, "50%"));
    assert_non_null(strstr(r.why, "1 unavailable"));
}

static void test_models_too_small_are_left_out(void **state)
{
    (void)state;
    sy_tier t = tier_of(SY_TIER_ORDERED);
    sy_model_view v[3];
    views_ok(v);
    v[0].fits = false;
    sy_route r;
    char buf[8];
    sy_route_begin(&r, &t, &job, v);
    assert_string_equal(order_of(&r, &t, buf), "bc");
    assert_non_null(strstr(r.why, "1 too small"));
    v[1].fits = v[2].fits = false;
    assert_int_equal(sy_route_begin(&r, &t, &job, v), -1);
    assert_non_null(strstr(r.why, "context window"));
}

static void test_weighted_arm_unusable_moves_back(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_a, 1000}, {&m_b, 0.001}, {&m_c, 0.001}};
    sy_tier t = tier_of(SY_TIER_WEIGHTED);
    t.models = ms;
    sy_model_view v[3];
    views_ok(v);
    sy_route r;
    sy_route_begin(&r, &t, &job, v);
    assert_int_equal(r.order[0], 0);
    assert_non_null(strstr(r.why, "arm a"));
    v[0].usable = false;
    sy_route_begin(&r, &t, &job, v);
    assert_int_equal(r.order[0], 1);
    assert_int_equal(r.order[2], 0);
}

/* ---- failures that jump ---- */

static void test_context_window_jumps_to_larger(void **state)
{
    (void)state;
    sy_tier_model ms[] = {{&m_b, 1}, {&m_a, 1}, {&m_c, 1}}; /* 32k, 8k, 128k */
    sy_tier t = tier_of(SY_TIER_ORDERED);
    t.models = ms;
    sy_model_view v[3];
    views_ok(v);
    sy_route r;
    int64_t delay;
    sy_route_begin(&r, &t, &job, v);
    sy_route_attempt(&r);
    sy_outcome o = outcome(SY_ERR_CONTEXT_WINDOW, 400);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_FALLBACK);
    assert_string_equal(sy_route_model(&r, &t)->alias, "c"); /* not the smaller a */
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_GIVE_UP);
}

static void test_refusal_goes_to_configured_model(void **state)
{
    (void)state;
    sy_tier t = tier_of(SY_TIER_ORDERED);
    t.refusal_model = 2;
    sy_model_view v[3];
    views_ok(v);
    sy_route r;
    int64_t delay;
    sy_route_begin(&r, &t, &job, v);
    sy_route_attempt(&r);
    sy_outcome o = outcome(SY_ERR_REFUSED, 200);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_FALLBACK);
    assert_string_equal(sy_route_model(&r, &t)->alias, "c");
}

static void test_account_errors(void **state)
{
    (void)state;
    sy_tier_model one[] = {{&m_a, 1}};
    sy_tier t = tier_of(SY_TIER_ORDERED);
    sy_model_view v[3];
    views_ok(v);
    sy_route r;
    int64_t delay;
    sy_outcome o = outcome(SY_ERR_AUTH, 401);
    o.retry_after_ms = 60000; /* the worker puts the cool-down here */
    sy_route_begin(&r, &t, &job, v);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_FALLBACK);
    t.models = one, t.nmodels = 1; /* nothing to fall back to: wait out the cool-down */
    sy_route_begin(&r, &t, &job, v);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_RETRY);
    assert_int_equal(delay, 60000);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &t, &o, 1, &delay), SY_ROUTE_GIVE_UP);
    sy_outcome forbidden = outcome(SY_ERR_AUTH, 403); /* the model's, not the account's */
    assert_false(sy_route_account_error(&forbidden));
    sy_route_begin(&r, &t, &job, v);
    sy_route_attempt(&r);
    assert_int_equal(sy_route_after_failure(&r, &t, &forbidden, 1, &delay), SY_ROUTE_GIVE_UP);
}

/* ---- circuit breaker ---- */

static const sy_breaker_policy policy = {.consecutive = 3, .ratio = 0.5, .min_calls = 10,
                                         .window_ms = 10000, .cooldown_ms = 5000, .probes = 2};

static void test_breaker_opens_on_a_run_and_recovers(void **state)
{
    (void)state;
    sy_health h;
    sy_health_init(&h, &policy);
    int64_t t = 1000000;
    assert_false(sy_health_record(&h, SY_ERR_SERVER, 10, 0, t));
    assert_false(sy_health_record(&h, SY_ERR_RATE_LIMITED, 10, 0, t)); /* pacing's, not counted */
    assert_false(sy_health_record(&h, SY_ERR_BAD_REQUEST, 10, 0, t));  /* the job's */
    assert_false(sy_health_record(&h, SY_ERR_TIMEOUT, 10, 0, t));
    assert_true(sy_health_record(&h, SY_ERR_CONNECTION, 10, 0, t)); /* third in a row */
    assert_false(sy_health_allow(&h, t + 4999));
    assert_int_equal(sy_health_wait_ms(&h, t + 4000), 1000);
    /* half-open: two probes, a third waits */
    assert_true(sy_health_allow(&h, t + 5000));
    assert_true(sy_health_allow(&h, t + 5000));
    assert_false(sy_health_allow(&h, t + 5001));
    sy_health_record(&h, SY_ERR_NONE, 100, 20, t + 5100);
    assert_int_equal(h.state, SY_BREAKER_HALF_OPEN);
    sy_health_record(&h, SY_ERR_NONE, 100, 20, t + 5200);
    assert_int_equal(h.state, SY_BREAKER_CLOSED);
    assert_true(sy_health_allow(&h, t + 5300));
    assert_int_equal(h.opened, 1);
}

static void test_breaker_probe_failure_reopens(void **state)
{
    (void)state;
    sy_health h;
    sy_health_init(&h, &policy);
    int64_t t = 50000;
    for (int i = 0; i < 3; i++) sy_health_record(&h, SY_ERR_OVERLOADED, 10, 0, t);
    assert_true(sy_health_allow(&h, t + 5000));
    assert_true(sy_health_record(&h, SY_ERR_SERVER, 10, 0, t + 5010));
    assert_false(sy_health_allow(&h, t + 9000));
    assert_true(sy_health_allow(&h, t + 10010));
}

static void test_breaker_ratio_in_window(void **state)
{
    (void)state;
    sy_health h;
    sy_health_init(&h, &policy);
    int64_t t = 200000;
    /* alternate: never 3 in a row, but half of 10 calls fail */
    bool opened = false;
    for (int i = 0; i < 10; i++)
        opened |= sy_health_record(&h, i % 2 ? SY_ERR_SERVER : SY_ERR_NONE, 10, 0, t + i);
    assert_true(opened);
    /* old failures leave the window: 4 failures, then 6 s later 6 successes */
    sy_health_init(&h, &policy);
    for (int i = 0; i < 4; i++) sy_health_record(&h, i % 2 ? SY_ERR_SERVER : SY_ERR_NONE, 10, 0, t);
    for (int i = 0; i < 8; i++) assert_false(sy_health_record(&h, SY_ERR_NONE, 10, 0, t + 11000));
    assert_false(sy_health_record(&h, SY_ERR_SERVER, 10, 0, t + 11000));
}

static void test_latency_average(void **state)
{
    (void)state;
    sy_health h;
    sy_health_init(&h, &policy);
    assert_true(h.latency_ms < 0);
    sy_health_record(&h, SY_ERR_NONE, 100, 50, 1);
    assert_true(h.latency_ms == 100);
    for (int i = 0; i < 50; i++) sy_health_record(&h, SY_ERR_NONE, 300, 50, 1);
    assert_true(h.latency_ms > 299 && h.latency_ms <= 300);
    sy_health_record(&h, SY_ERR_TIMEOUT, 5000, 0, 1); /* failures do not move it */
    assert_true(h.latency_ms <= 300);
}

/* ---- waiting: priority within a task, fair share between tasks ---- */

static void test_waitq_priority_then_age(void **state)
{
    (void)state;
    sy_waitq q;
    sy_waitq_init(&q, 1, NULL);
    int items[5];
    int prio[5] = {0, 5, 0, 5, -1};
    for (int i = 0; i < 5; i++) sy_waitq_push(&q, 0, prio[i], &items[i]);
    int want[5] = {1, 3, 0, 2, 4};
    for (int i = 0; i < 5; i++) assert_ptr_equal(sy_waitq_pop(&q), &items[want[i]]);
    assert_null(sy_waitq_pop(&q));
    sy_waitq_free(&q);
}

static void test_waitq_fair_share(void **state)
{
    (void)state;
    double shares[2] = {3, 1};
    sy_waitq q;
    sy_waitq_init(&q, 2, shares);
    int big, small;
    for (int i = 0; i < 10000; i++) sy_waitq_push(&q, 0, 0, &big); /* a big batch first */
    for (int i = 0; i < 1000; i++) sy_waitq_push(&q, 1, 0, &small);
    int served[2] = {0};
    for (int i = 0; i < 400; i++) served[sy_waitq_pop(&q) == &small]++;
    assert_in_range(served[0], 295, 305); /* 3:1 */
    assert_in_range(served[1], 95, 105);
    sy_waitq_free(&q);
}

static void test_waitq_idle_lane_banks_no_credit(void **state)
{
    (void)state;
    sy_waitq q;
    sy_waitq_init(&q, 2, NULL);
    int a, b;
    for (int i = 0; i < 1000; i++) sy_waitq_push(&q, 0, 0, &a);
    for (int i = 0; i < 500; i++) sy_waitq_pop(&q); /* lane 1 idle meanwhile */
    for (int i = 0; i < 100; i++) sy_waitq_push(&q, 1, 0, &b);
    int from_b = 0;
    for (int i = 0; i < 100; i++) from_b += sy_waitq_pop(&q) == &b;
    assert_in_range(from_b, 49, 51); /* shares equally from now on, not 100 in a row */
    sy_waitq_free(&q);
}

/* Jobs with a deadline leave the queue once it has passed, whatever they
 * wait for; the others keep their order. */
static void test_waitq_takes_expired(void **state)
{
    (void)state;
    sy_waitq q;
    sy_waitq_init(&q, 2, NULL);
    int items[8];
    int64_t deadline[8] = {0, 100, 50, 0, 300, 100, 0, 200};
    for (int i = 0; i < 8; i++) sy_waitq_push_until(&q, (size_t)i % 2, i % 3, deadline[i], &items[i]);
    assert_int_equal(sy_waitq_next_deadline(&q), 50);
    void **gone;
    assert_int_equal(sy_waitq_take_expired(&q, 50, &gone), 0); /* due at 50: not before */
    assert_null(gone);
    assert_int_equal(sy_waitq_take_expired(&q, 101, &gone), 3);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        int k = (int)((int *)gone[i] - items);
        assert_true(k == 1 || k == 2 || k == 5);
        seen |= 1 << k;
    }
    assert_int_equal(seen, (1 << 1) | (1 << 2) | (1 << 5));
    free(gone);
    assert_int_equal(q.n, 5);
    assert_int_equal(sy_waitq_next_deadline(&q), 200);
    /* what is left leaves as it would have: by lane share, then priority, then age */
    int want[5] = {4, 7, 0, 3, 6};
    for (int i = 0; i < 5; i++) assert_ptr_equal(sy_waitq_pop(&q), &items[want[i]]);
    assert_int_equal(sy_waitq_next_deadline(&q), 0);
    assert_int_equal(sy_waitq_take_expired(&q, INT64_MAX, &gone), 0);
    sy_waitq_free(&q);
}

/* ---- accounts ---- */

static void test_account_cooldown_and_headroom(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 600, 0, 1.0, 0);
    a.requests.level = 600; /* full, as after a minute in use (a fresh one holds a second's worth) */
    assert_true(sy_account_headroom(&a, 0) == 1.0);
    for (int i = 0; i < 300; i++) assert_int_equal(sy_account_reserve(&a, 10, 0, NULL), 0);
    assert_true(sy_account_headroom(&a, 0) > 0.49 && sy_account_headroom(&a, 0) < 0.51);
    assert_true(sy_account_cool(&a, 60000, 1000));
    assert_false(sy_account_cool(&a, 60000, 2000)); /* already cooling: log once */
    assert_false(sy_account_usable(&a, 60000000)); /* until 2000 us + 60 s */
    assert_int_equal(sy_account_cooling_us(&a, 59000000), 1002000);
    assert_true(sy_account_headroom(&a, 1000) == 0);
    assert_true(sy_account_usable(&a, 60002000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cheapest_orders_by_expected_cost),
        cmocka_unit_test(test_fastest_measures_unknown_first),
        cmocka_unit_test(test_most_headroom_and_unusable_last),
        cmocka_unit_test(test_models_too_small_are_left_out),
        cmocka_unit_test(test_weighted_arm_unusable_moves_back),
        cmocka_unit_test(test_context_window_jumps_to_larger),
        cmocka_unit_test(test_refusal_goes_to_configured_model),
        cmocka_unit_test(test_account_errors),
        cmocka_unit_test(test_breaker_opens_on_a_run_and_recovers),
        cmocka_unit_test(test_breaker_probe_failure_reopens),
        cmocka_unit_test(test_breaker_ratio_in_window),
        cmocka_unit_test(test_latency_average),
        cmocka_unit_test(test_waitq_priority_then_age),
        cmocka_unit_test(test_waitq_takes_expired),
        cmocka_unit_test(test_waitq_fair_share),
        cmocka_unit_test(test_waitq_idle_lane_banks_no_credit),
        cmocka_unit_test(test_account_cooldown_and_headroom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
