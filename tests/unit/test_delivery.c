/* test_delivery.c -- decisions on the edges of delivery: enough file
 * descriptors for the worker (fdlimit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "fdlimit.h"

/* ---- file descriptors ---- */

static void test_fd_need_counts_inflight_brokers_spares(void **state)
{
    (void)state;
    /* 1000 calls to one host: 16 shards of 64 sockets (+2 each), + epoll */
    long engine = sy_engine_max_fds(1000, 1);
    assert_int_equal(engine, 16 * 66 + 1);
    assert_true(sy_engine_max_fds(1000, 2) > engine); /* idle connections per host */
    assert_int_equal(sy_fd_need(engine, 3), engine + 3 * SY_FD_PER_BROKER + SY_FD_SPARE);
    assert_int_equal(sy_fd_need(engine, 0), engine + SY_FD_PER_BROKER + SY_FD_SPARE);
    assert_int_equal(sy_fd_count_brokers("a:1"), 1);
    assert_int_equal(sy_fd_count_brokers("a:1,b:2,c:3"), 3);
}

static void test_fd_decide(void **state)
{
    (void)state;
    unsigned long long to = 0;
    assert_int_equal(sy_fd_decide(1200, 4096, 4096, &to), SY_FD_ENOUGH);
    assert_int_equal(sy_fd_decide(1200, 1200, 1200, &to), SY_FD_ENOUGH);
    assert_int_equal(sy_fd_decide(1200, 256, 1048576, &to), SY_FD_RAISE);
    assert_int_equal(to, 1200);
    assert_int_equal(sy_fd_decide(1200, 256, ~0ULL, &to), SY_FD_RAISE); /* unlimited hard */
    assert_int_equal(sy_fd_decide(1200, 256, 256, &to), SY_FD_REFUSE);
    assert_int_equal(sy_fd_decide(1200, 256, 1199, &to), SY_FD_REFUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_need_counts_inflight_brokers_spares),
        cmocka_unit_test(test_fd_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
