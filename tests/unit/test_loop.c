/* test_loop.c -- the worker's event loop (worker/loop.c): fd callbacks,
 * timers in due order, cancel and re-arm, the before-sleep hook and its
 * bound on the wait, a callback unwatching an fd of the same batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"

typedef struct seen {
    char order[16];
    int n;
    int reads;
    int hooks;
    int hook_ms;
    sy_loop *loop;
    int other_fd; /* unwatched by the first fd's callback */
} seen;

static void on_read(void *ctx, int fd, unsigned ready)
{
    seen *s = ctx;
    char buf[16];
    assert_true(ready & SY_LOOP_READ);
    assert_true(read(fd, buf, sizeof buf) > 0);
    s->reads++;
    if (s->other_fd >= 0) {
        sy_loop_unwatch(s->loop, s->other_fd);
        s->other_fd = -1;
    }
}

static void on_a(void *ctx) { seen *s = ctx; s->order[s->n++] = 'a'; }
static void on_b(void *ctx) { seen *s = ctx; s->order[s->n++] = 'b'; }
static void on_c(void *ctx) { seen *s = ctx; s->order[s->n++] = 'c'; }

static int hook(void *ctx)
{
    seen *s = ctx;
    s->hooks++;
    return s->hook_ms;
}

static void test_timers_in_order(void **state)
{
    (void)state;
    sy_werr err = {0};
    sy_loop *l = sy_loop_new(&err);
    assert_non_null(l);
    seen s = {.other_fd = -1};
    sy_loop_timer a, b, c;
    sy_loop_timer_init(&a, on_a, &s);
    sy_loop_timer_init(&b, on_b, &s);
    sy_loop_timer_init(&c, on_c, &s);
    int64_t now = sy_mono_us();
    sy_loop_timer_at(l, &a, now + 30000);
    sy_loop_timer_at(l, &b, now + 10000);
    sy_loop_timer_at(l, &c, now + 20000);
    sy_loop_timer_cancel(l, &c);
    assert_false(sy_loop_timer_armed(&c));
    sy_loop_timer_at(l, &b, now + 40000); /* moved after a */
    while (s.n < 2 && sy_mono_us() - now < 2000000) sy_loop_turn(l, 100);
    assert_int_equal(s.n, 2);
    assert_memory_equal(s.order, "ab", 2);
    assert_true(sy_mono_us() - now >= 40000); /* not early */
    assert_false(sy_loop_timer_armed(&a));
    sy_loop_free(l);
}

static void test_fds_and_hook(void **state)
{
    (void)state;
    sy_werr err = {0};
    sy_loop *l = sy_loop_new(&err);
    int p1[2], p2[2];
    assert_int_equal(pipe(p1), 0);
    assert_int_equal(pipe(p2), 0);
    seen s = {.loop = l, .hook_ms = -1, .other_fd = -1};
    sy_loop_set_hook(l, hook, &s);
    assert_int_equal(sy_loop_watch(l, p1[0], SY_LOOP_READ, on_read, &s), 0);
    assert_int_equal(sy_loop_watch(l, p2[0], SY_LOOP_READ, on_read, &s), 0);
    /* nothing ready: the hook's 0 ms bound makes the turn not wait */
    s.hook_ms = 0;
    int64_t t0 = sy_mono_us();
    assert_int_equal(sy_loop_turn(l, 1000), 0);
    assert_true(sy_mono_us() - t0 < 500000);
    assert_int_equal(s.hooks, 1);
    /* both ready; the first callback unwatches the other: one read only */
    assert_int_equal(write(p1[1], "x", 1), 1);
    assert_int_equal(write(p2[1], "y", 1), 1);
    s.other_fd = p2[0]; /* epoll lists p1 first (ready first) */
    s.hook_ms = -1;
    int ran = sy_loop_turn(l, 1000);
    assert_int_equal(s.hooks, 2);
    assert_int_equal(ran, 1);
    assert_int_equal(s.reads, 1);
    /* p2 is no longer watched: a later turn does not see it */
    sy_loop_unwatch(l, p1[0]);
    s.hook_ms = 0;
    assert_int_equal(sy_loop_turn(l, 50), 0);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    sy_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_in_order),
        cmocka_unit_test(test_fds_and_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
