/* test_pacing.c -- token buckets per account: reserve, wait, refill, learn
 * from headers (remaining counts less what went out since, a stop until the
 * reset), pause after a 429. Time is passed in, so nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pacing.h"

#define SEC 1000000LL

/* An account with full buckets at time 0, as one in use for a minute has
 * (a fresh one holds one second's worth). */
static void full_account(sy_account *a, int64_t rpm, int64_t tpm)
{
    sy_account_init(a, rpm, tpm, 1.0, 0);
    a->requests.level = a->requests.limit_per_min;
    a->tokens.level = a->tokens.limit_per_min;
}

static void test_requests_per_minute(void **state)
{
    (void)state;
    sy_account a;
    full_account(&a, 60, 0); /* one request a second, 60 in the bucket */
    for (int i = 0; i < 60; i++) assert_int_equal(sy_account_reserve(&a, 10, 0, NULL), 0);
    int64_t wait = sy_account_reserve(&a, 10, 0, NULL);
    assert_in_range(wait, SEC - 10, SEC + 10);
    assert_int_not_equal(sy_account_reserve(&a, 10, SEC / 2, NULL), 0);
    assert_int_equal(sy_account_reserve(&a, 10, SEC + 1, NULL), 0);
}

static void test_tokens_per_minute_and_settle(void **state)
{
    (void)state;
    sy_account a;
    full_account(&a, 0, 6000); /* 100 tokens a second, bucket full */
    assert_int_equal(sy_account_reserve(&a, 5000, 0, NULL), 0);
    int64_t wait = sy_account_reserve(&a, 2000, 0, NULL); /* 1000 left, 1000 short: 10 s */
    assert_in_range(wait, 10 * SEC - 10, 10 * SEC + 10);
    sy_account_settle(&a, 5000, 1000); /* the call used far less: 4000 come back */
    assert_int_equal(sy_account_reserve(&a, 2000, 0, NULL), 0);
}

static void test_share_and_learning(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 0, 0, 0.5, 0); /* limits unknown: nothing holds back */
    for (int i = 0; i < 1000; i++) assert_int_equal(sy_account_reserve(&a, 100, 0, NULL), 0);
    sy_ratelimit_info rl = {.limit_requests = 100, .remaining_requests = 3,
                            .reset_requests_ms = -1, .limit_tokens = -1,
                            .remaining_tokens = -1, .reset_tokens_ms = -1};
    sy_account_learn(&a, &rl, NULL, 0);
    assert_int_equal((int)a.requests.limit_per_min, 50); /* half of the account's 100 */
    for (int i = 0; i < 3; i++) assert_int_equal(sy_account_reserve(&a, 1, 0, NULL), 0);
    assert_true(sy_account_reserve(&a, 1, 0, NULL) > 0); /* remaining 3 capped the bucket */
}

/* Only requests: limit and remaining as headers say them, reset in ms. */
static sy_ratelimit_info requests_said(int64_t limit, int64_t remaining, int64_t reset_ms)
{
    return (sy_ratelimit_info){.limit_requests = limit, .remaining_requests = remaining,
                               .reset_requests_ms = reset_ms, .limit_tokens = -1,
                               .remaining_tokens = -1, .reset_tokens_ms = -1};
}

static int reserve_all(sy_account *a, int64_t now_us, sy_pace_mark *marks, int max)
{
    int n = 0;
    while (n < max && sy_account_reserve(a, 1, now_us, marks ? &marks[n] : NULL) == 0) n++;
    return n;
}

static void test_remaining_less_what_went_out_since(void **state)
{
    (void)state;
    sy_account a;
    sy_ratelimit_info rl = requests_said(6000, 50, -1);
    sy_account_init(&a, 6000, 0, 1.0, 0);
    sy_pace_mark marks[10];
    assert_int_equal(reserve_all(&a, 0, marks, 10), 10);
    /* The first call's answer: 50 left when it arrived. The 9 sent after it
     * are not in that count, so 41 more may go, not 50. */
    sy_account_learn(&a, &rl, &marks[0], 0);
    assert_int_equal(reserve_all(&a, 0, NULL, 1000), 41);
}

/* Three calls reserved together, a burst: the third one's answer saw 10
 * left, but it may have reached the provider before the other two, which
 * would then be among those 10. So 8 more may go, not 10; a call reserved
 * on its own later (another burst) is read as is. */
static void test_burst_read_as_arrived_first(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 6000, 0, 1.0, 0);
    sy_pace_mark m[3], alone;
    assert_int_equal(reserve_all(&a, 0, m, 3), 3);
    sy_ratelimit_info ten = requests_said(6000, 10, 5000);
    sy_account_learn(&a, &ten, &m[2], 200000);
    assert_int_equal(reserve_all(&a, 300000, NULL, 1000), 8);
    assert_int_equal(sy_account_reserve(&a, 1, 20 * SEC, &alone), 0);
    sy_account_learn(&a, &ten, &alone, 20 * SEC); /* a new window (reset 5 s on) */
    assert_int_equal(reserve_all(&a, 20 * SEC + 300000, NULL, 1000), 10);

    /* A worker's first turn: 200 calls at once, limits not known yet. The
     * last one's answer saw 300 left, but all 200 may be among those. */
    static sy_pace_mark first_turn[200];
    sy_account_init(&a, 0, 0, 1.0, 0);
    assert_int_equal(reserve_all(&a, 0, first_turn, 200), 200);
    sy_ratelimit_info left300 = requests_said(6000, 300, 5000);
    sy_account_learn(&a, &left300, &first_turn[199], 250000);
    assert_int_equal(reserve_all(&a, 300000, NULL, 1000), 101);
}

static void test_remaining_stops_until_reset(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 600, 0, 1.0, 0); /* 10 a second */
    sy_pace_mark m;
    assert_int_equal(sy_account_reserve(&a, 1, 0, &m), 0);
    sy_ratelimit_info rl = requests_said(600, 5, 10000); /* a window: 5 left, over in 10 s */
    sy_account_learn(&a, &rl, &m, 0);
    assert_int_equal(reserve_all(&a, SEC, NULL, 1000), 5);
    /* The bucket has refilled by 2 s, but the window gives nothing back
     * before its end. */
    int64_t wait = sy_account_reserve(&a, 1, 2 * SEC, NULL);
    assert_in_range(wait, 8 * SEC - 10, 8 * SEC + 10);
    assert_int_equal(sy_account_reserve(&a, 1, 10 * SEC, NULL), 0);
}

/* Two calls reserved one after the other at 0 on a 600/min account; the
 * second one's answer (`newer`, at newer_us) comes in before the first
 * one's (`older`, at older_us). */
static void two_answers(sy_account *a, sy_ratelimit_info newer, int64_t newer_us,
                        sy_ratelimit_info older, int64_t older_us)
{
    sy_account_init(a, 600, 0, 1.0, 0);
    sy_pace_mark first, second;
    assert_int_equal(sy_account_reserve(a, 1, 0, &first), 0);
    assert_int_equal(sy_account_reserve(a, 1, 0, &second), 0);
    sy_account_learn(a, &newer, &second, newer_us);
    sy_account_learn(a, &older, &first, older_us);
}

static void test_overtaken_answer_ignored(void **state)
{
    (void)state;
    sy_account a;
    /* a new window, 300 left; then the old window's last answer, late */
    two_answers(&a, requests_said(600, 300, 60000), 0, requests_said(600, 0, 500), 0);
    assert_int_equal(sy_account_reserve(&a, 1, 0, NULL), 0);
}

/* Two calls launched together reach the provider in reverse order: the
 * second one's answer saw 5 left, the first one's (counted after it) saw
 * none. Both end the same window, so the tighter one holds. */
static void test_same_window_answers_take_the_tighter(void **state)
{
    (void)state;
    sy_account a;
    two_answers(&a, requests_said(600, 5, 5000), 200000, requests_said(600, 0, 5000), 250000);
    assert_int_equal(reserve_all(&a, SEC, NULL, 1000), 0);
    assert_true(reserve_all(&a, 6 * SEC, NULL, 1000) > 0); /* the window is over */
}

static void test_no_headers_say_nothing(void **state)
{
    (void)state;
    sy_account a;
    full_account(&a, 600, 0);
    sy_pace_mark m;
    assert_int_equal(sy_account_reserve(&a, 1, 0, &m), 0);
    sy_ratelimit_info none = requests_said(-1, -1, -1); /* a timeout: no answer, no headers */
    sy_account_learn(&a, &none, &m, 0);
    assert_int_equal(reserve_all(&a, 0, NULL, 1000), 599);
}

/* A told limit starts with one second's worth, not a minute's, and refills
 * at the limit's rate from there. */
static void test_told_limit_starts_with_one_second(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 6000, 60000, 1.0, 0); /* 100 calls, 1,000 tokens a second */
    assert_int_equal(reserve_all(&a, 0, NULL, 10000), 100);
    assert_in_range(sy_account_reserve(&a, 1, 0, NULL), SEC / 100 - 10, SEC / 100 + 10);
    assert_int_equal(reserve_all(&a, SEC / 2, NULL, 10000), 50);
    assert_true(sy_account_headroom(&a, 61 * SEC) == 1.0); /* full a minute after it ran dry */

    sy_account_init(&a, 6000, 0, 1.0, 0); /* unused for 10 s (a worker joining its group) */
    assert_true(sy_account_headroom(&a, 5 * SEC) == 1.0); /* all of it free... */
    assert_int_equal(reserve_all(&a, 10 * SEC, NULL, 10000), 100); /* ...but no burst of it */

    sy_account_init(&a, 0, 60000, 1.0, 0);
    assert_int_equal(sy_account_reserve(&a, 1000, 0, NULL), 0);
    assert_true(sy_account_reserve(&a, 1000, 0, NULL) > 0);

    sy_account_init(&a, 30, 0, 1.0, 0); /* half a call a second: one call still goes at once */
    assert_int_equal(reserve_all(&a, 0, NULL, 10), 1);
    assert_in_range(sy_account_reserve(&a, 1, 0, NULL), 2 * SEC - 10, 2 * SEC + 10);
}

/* The first window against a provider that counts a told limit in fixed
 * windows no bigger than the in-flight limit (the case of bench/pacing.sh
 * with RPM=6000 WINDOW_MS=5000): 500 calls per 5 s window, 500 calls in
 * flight, answers 200-299 ms later, the first call 3 s after the worker
 * started (its group join). Calls sent in one loop turn reach the
 * provider in reverse order (they may arrive in any order). Every window,
 * the first included, must admit at least 95% of its calls and draw at
 * most 0.5% 429s. */
enum { WIN_CALLS = 500, WIN_MS = 5000, INFLIGHT = 500, NWIN = 3, JOIN_MS = 3000 };

typedef struct provider_window {
    int64_t start_ms, calls;
    int admitted, refused;
} provider_window;

typedef struct sim_call {
    int64_t answer_ms;
    sy_pace_mark mark;
    sy_ratelimit_info rl;
    bool refused;
} sim_call;

static void test_first_window_within_limit(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, WIN_CALLS * 60000 / WIN_MS, 0, 1.0, 0);
    static sim_call flight[INFLIGHT];
    provider_window win[NWIN + 2] = {{0}};
    int nwin = 0, inflight = 0, sent = 0;
    for (int64_t ms = JOIN_MS; nwin <= NWIN; ms++) { /* the first calls 3 s after the start */
        int64_t now = ms * 1000;
        for (int i = 0; i < inflight;) { /* answers due now */
            sim_call *c = &flight[i];
            if (c->answer_ms > ms) { i++; continue; }
            if (c->refused) sy_account_pause(&a, c->rl.reset_requests_ms, now);
            else sy_account_learn(&a, &c->rl, &c->mark, now);
            *c = flight[--inflight];
        }
        int first = inflight; /* this turn's calls: reserved in order, arrive in reverse */
        while (inflight < INFLIGHT && sy_account_reserve(&a, 1, now, &flight[inflight].mark) == 0)
            flight[inflight++].answer_ms = ms + 200 + (sent++ * 37) % 100;
        for (int i = inflight - 1; i >= first; i--) {
            if (nwin == 0 || ms >= win[nwin - 1].start_ms + WIN_MS) {
                if (nwin == NWIN + 1) break;
                win[nwin++] = (provider_window){.start_ms = ms};
            }
            provider_window *w = &win[nwin - 1];
            int64_t left = WIN_CALLS - w->calls, reset = w->start_ms + WIN_MS - ms;
            flight[i].refused = left <= 0;
            if (left > 0) w->calls++, w->admitted++, left--;
            else w->refused++;
            flight[i].rl = requests_said(WIN_CALLS * 60000 / WIN_MS, left, reset);
        }
    }
    for (int i = 0; i < NWIN; i++) {
        print_message("window %d: %d admitted, %d 429s\n", i + 1, win[i].admitted, win[i].refused);
        assert_true(win[i].admitted >= WIN_CALLS * 95 / 100);
        assert_true(win[i].refused * 1000 <= (win[i].admitted + win[i].refused) * 5);
    }
}

static void test_pause_after_429(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 1000, 0, 1.0, 0);
    sy_account_pause(&a, 1500, 0);
    assert_int_equal(sy_account_reserve(&a, 1, 0, NULL), 1500 * 1000);
    assert_int_equal(sy_account_reserve(&a, 1, 1500 * 1000, NULL), 0);
    assert_int_equal(a.throttled, 1);
}

/* Resets, pauses and counts beyond anything a provider means (a reset of
 * 99999999h, a retry-after of 1e12, INT64_MAX) stop the account for at
 * most SY_PROVIDER_MAX_WAIT_MS, with no overflow on the way. */
static void test_hostile_waits_are_bounded(void **state)
{
    (void)state;
    const int64_t max_us = SY_PROVIDER_MAX_WAIT_MS * 1000;
    sy_account a;
    sy_account_init(&a, 600, 0, 1.0, 0);
    sy_pace_mark m;
    assert_int_equal(sy_account_reserve(&a, 1, SEC, &m), 0);
    sy_ratelimit_info rl = requests_said(600, 0, INT64_MAX);
    sy_account_learn(&a, &rl, &m, SEC);
    assert_int_equal(sy_account_reserve(&a, 1, SEC, NULL), max_us);
    assert_int_equal(sy_account_reserve(&a, 1, SEC + max_us, NULL), 0);

    sy_account_init(&a, 600, 0, 1.0, 0);
    assert_int_equal(sy_account_reserve(&a, 1, 0, &m), 0);
    rl = requests_said(INT64_MAX, INT64_MAX, INT64_MAX); /* mark + remaining would overflow */
    sy_account_learn(&a, &rl, &m, 0);
    assert_int_equal(sy_account_reserve(&a, 1, 0, NULL), 0);

    sy_account_init(&a, 1000, 0, 1.0, 0);
    sy_account_pause(&a, INT64_MAX, 5 * SEC);
    assert_int_equal(sy_account_reserve(&a, 1, 5 * SEC, NULL), max_us);
    sy_account_pause(&a, INT64_MIN, 5 * SEC); /* nonsense: the default second, no shorter */
    assert_int_equal(sy_account_reserve(&a, 1, 5 * SEC, NULL), max_us);

    /* a token a minute, and calls that each used 10^9 more than estimated */
    sy_account_init(&a, 0, 1, 1.0, 0);
    for (int i = 0; i < 1000; i++) sy_account_settle(&a, 0, SY_MAX_USAGE_TOKENS);
    assert_int_equal(sy_account_reserve(&a, 1, 0, NULL), max_us);
}

static void test_estimate(void **state)
{
    (void)state;
    assert_int_equal(sy_estimate_tokens(0), 4);
    assert_int_equal(sy_estimate_tokens(400), 104);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_per_minute),
        cmocka_unit_test(test_tokens_per_minute_and_settle),
        cmocka_unit_test(test_share_and_learning),
        cmocka_unit_test(test_remaining_less_what_went_out_since),
        cmocka_unit_test(test_remaining_stops_until_reset),
        cmocka_unit_test(test_overtaken_answer_ignored),
        cmocka_unit_test(test_no_headers_say_nothing),
        cmocka_unit_test(test_told_limit_starts_with_one_second),
        cmocka_unit_test(test_same_window_answers_take_the_tighter),
        cmocka_unit_test(test_burst_read_as_arrived_first),
        cmocka_unit_test(test_first_window_within_limit),
        cmocka_unit_test(test_pause_after_429),
        cmocka_unit_test(test_hostile_waits_are_bounded),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
