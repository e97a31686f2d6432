/* test_pacing.c -- token buckets per account: reserve, wait, refill, learn
 * from headers, pause after a 429. Time is passed in, so nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pacing.h"

#define SEC 1000000LL

static void test_requests_per_minute(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 60, 0, 1.0, 0); /* one request a second, 60 in the bucket */
    for (int i = 0; i < 60; i++) assert_int_equal(sy_account_reserve(&a, 10, 0), 0);
    int64_t wait = sy_account_reserve(&a, 10, 0);
    assert_in_range(wait, SEC - 10, SEC + 10);
    assert_int_not_equal(sy_account_reserve(&a, 10, SEC / 2), 0);
    assert_int_equal(sy_account_reserve(&a, 10, SEC + 1), 0);
}

static void test_tokens_per_minute_and_settle(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 0, 6000, 1.0, 0); /* 100 tokens a second */
    assert_int_equal(sy_account_reserve(&a, 5000, 0), 0);
    int64_t wait = sy_account_reserve(&a, 2000, 0); /* 1000 left, 1000 short: 10 s */
    assert_in_range(wait, 10 * SEC - 10, 10 * SEC + 10);
    sy_account_settle(&a, 5000, 1000); /* the call used far less: 4000 come back */
    assert_int_equal(sy_account_reserve(&a, 2000, 0), 0);
}

static void test_share_and_learning(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 0, 0, 0.5, 0); /* limits unknown: nothing holds back */
    for (int i = 0; i < 1000; i++) assert_int_equal(sy_account_reserve(&a, 100, 0), 0);
    sy_ratelimit_info rl = {.limit_requests = 100, .remaining_requests = 3,
                            .reset_requests_ms = -1, .limit_tokens = -1,
                            .remaining_tokens = -1, .reset_tokens_ms = -1};
    sy_account_learn(&a, &rl, 0);
    assert_int_equal((int)a.requests.limit_per_min, 50); /* half of the account's 100 */
    for (int i = 0; i < 3; i++) assert_int_equal(sy_account_reserve(&a, 1, 0), 0);
    assert_true(sy_account_reserve(&a, 1, 0) > 0); /* remaining 3 capped the bucket */
}

static void test_pause_after_429(void **state)
{
    (void)state;
    sy_account a;
    sy_account_init(&a, 1000, 0, 1.0, 0);
    sy_account_pause(&a, 1500, 0);
    assert_int_equal(sy_account_reserve(&a, 1, 0), 1500 * 1000);
    assert_int_equal(sy_account_reserve(&a, 1, 1500 * 1000), 0);
    assert_int_equal(a.throttled, 1);
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
        cmocka_unit_test(test_pause_after_429),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
