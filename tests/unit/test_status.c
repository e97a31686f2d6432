/* test_status.c -- the Prometheus text reader (base/promparse.h) on good,
 * malformed and hostile lines, and the frames of `switchyard status`
 * (base/status_view.h): rates from counter deltas, restarts, escaping of
 * label values, bounded tables, an unreachable process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "promparse.h"
#include "status_view.h"

static void test_lines(void **state)
{
    (void)state;
    sy_promp_sample s;
    assert_int_equal(sy_promp_line("", 0, &s), 0);
    assert_int_equal(sy_promp_line("# HELP x y", 10, &s), 0);
    const char *l = "x_total{a=\"1\",b=\"q\\\"\\\\\\n\"} 42";
    assert_int_equal(sy_promp_line(l, strlen(l), &s), 1);
    assert_string_equal(s.name, "x_total");
    assert_int_equal(s.nlabels, 2);
    assert_string_equal(sy_promp_label_of(&s, "a"), "1");
    assert_string_equal(sy_promp_label_of(&s, "b"), "q\"\\\n");
    assert_null(sy_promp_label_of(&s, "c"));
    assert_true(s.value == 42);
    l = "y 1.5e3 1700000000000";
    assert_int_equal(sy_promp_line(l, strlen(l), &s), 1);
    assert_true(s.value == 1500);
    l = "h_bucket{le=\"+Inf\"} +Inf\r";
    assert_int_equal(sy_promp_line(l, strlen(l), &s), 1);
    assert_true(isinf(s.value));
    l = "z{} NaN";
    assert_int_equal(sy_promp_line(l, strlen(l), &s), 1);
    assert_true(isnan(s.value));
    static const char *bad[] = {
        "x", "x ", "1x 2", "x{a=1} 2", "x{a=\"1} 2", "x{a=\"\\q\"} 2", "x{a=\"1\" 2", "x 0x10", "x 1 2 3",
        "x{a=\"1\",,} 2", "x{:a=\"1\"} 2", "x infinity", "x{a=\"1\"}2", "x 1e", "x{=\"1\"} 2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (sy_promp_line(bad[i], strlen(bad[i]), &s) != -1) fail_msg("accepted: %s", bad[i]);
    }
    /* over the bounds: a long name, a long value, too many labels */
    char big[600];
    memset(big, 'n', sizeof big);
    memcpy(big + 500, " 1", 3);
    assert_int_equal(sy_promp_line(big, strlen(big), &s), -1);
    snprintf(big, sizeof big, "x{a=\"%0300d\"} 1", 0);
    assert_int_equal(sy_promp_line(big, strlen(big), &s), -1);
    snprintf(big, sizeof big, "x{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"} 1");
    assert_int_equal(sy_promp_line(big, strlen(big), &s), -1);
}

/* What the worker writes (base/prom.c) reads back the same. */
static void test_round_trip(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    sy_prom_family(&b, "m_total", "help \\ \n", SY_PROM_COUNTER);
    sy_prom_label l[] = {{"team", "a\"b\\c\nd\033[2J"}, {"model", "m"}};
    sy_prom_sample(&b, "m_total", l, 2, 7);
    sy_prom_sample(&b, "m_total", l + 1, 1, 0.125);
    sy_buf_puts(&b, "garbage line\n");
    sy_promp_page p = {0};
    sy_promp_parse(&p, b.data, b.len);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.bad, 1);
    assert_string_equal(sy_promp_label_of(&p.s[0], "team"), "a\"b\\c\nd\033[2J");
    const char *want[] = {"model", "m"};
    bool found;
    assert_true(sy_promp_sum(&p, "m_total", want, 1, &found) == 7.125);
    assert_true(found);
    sy_promp_sum(&p, "nope", NULL, 0, &found);
    assert_false(found);
    sy_promp_free(&p);
    sy_buf_free(&b);
}

static void page(sy_promp_page *p, const char *text)
{
    sy_promp_parse(p, text, strlen(text));
}

static void test_frame(void **state)
{
    (void)state;
    sy_promp_page a = {0}, b = {0};
    page(&a, "switchyard_jobs_total{task=\"t\",tier=\"x\",model=\"m1\",status=\"ok\"} 10\n"
             "switchyard_jobs_total{task=\"t\",tier=\"x\",model=\"m\033[31mX\",status=\"failed\"} 2\n"
             "switchyard_cost_usd_total{model=\"m1\"} 0.5\n");
    page(&b, "switchyard_jobs_total{task=\"t\",tier=\"x\",model=\"m1\",status=\"ok\"} 30\n"
             "switchyard_jobs_total{task=\"t\",tier=\"x\",model=\"m\033[31mX\",status=\"failed\"} 4\n"
             "switchyard_cost_usd_total{model=\"m1\"} 1.5\n"
             "switchyard_calls_in_flight 7\n"
             "switchyard_jobs_held 9\n"
             "switchyard_calls_in_flight_max 8\n"
             "switchyard_jobs_held_max 12\n"
             "switchyard_jobs_waiting{on=\"slot\"} 1\n"
             "switchyard_jobs_waiting{on=\"pacing\"} 2\n"
             "switchyard_jobs_waiting{on=\"retry\"} 3\n"
             "switchyard_dead_letters_total{class=\"server\"} 5\n"
             "switchyard_breaker_state{tier=\"x\",model=\"m1\"} 1\n"
             "switchyard_pacing_headroom_ratio{account=\"openai\"} 0.25\n"
             "switchyard_consumer_lag{topic=\"tier.x\",partition=\"0\"} 11\n");
    sy_status_src s = {.url = "http://h/metrics", .prev = &a, .cur = &b, .dt_s = 2};
    sy_buf out;
    sy_buf_init(&out);
    sy_status_frame(&out, &s, 1);
    const char *f = sy_buf_cstr(&out);
    assert_non_null(strstr(f, "(worker)"));
    assert_non_null(strstr(f, "results     34 (ok 30, failed 4)   per s 11.0   cost 1.500000 USD (0.500000/s)"));
    assert_non_null(strstr(f, "in flight   7   held 9   waiting: slot 1, pacing 2, retry 3"));
    assert_non_null(strstr(f, "last 1 s    at most 8 in flight, 12 held")); /* what the instant can miss */
    assert_non_null(strstr(f, "dead letters 5   consumer lag 11"));
    assert_non_null(strstr(f, "OPEN"));
    assert_non_null(strstr(f, "  25%"));
    assert_non_null(strstr(f, "m\\x1b[31mX"));       /* escaped, never raw */
    assert_null(strchr(f, '\033'));
    /* m1 went 10 -> 30 in 2 s */
    assert_non_null(strstr(f, "       30      10.0"));

    /* a restart: the counter went down, it counts from zero */
    sy_buf_reset(&out);
    s = (sy_status_src){.url = "u", .prev = &b, .cur = &a, .dt_s = 1};
    sy_status_frame(&out, &s, 1);
    assert_non_null(strstr(sy_buf_cstr(&out), "per s 12.0"));

    /* unreachable: the reason, escaped */
    sy_buf_reset(&out);
    s = (sy_status_src){.url = "u\nv", .error = "refused\033]0;x\007"};
    sy_status_frame(&out, &s, 1);
    assert_non_null(strstr(sy_buf_cstr(&out), "== u\\x0av  DOWN: refused\\x1b]0;x\\x07"));
    sy_promp_free(&a);
    sy_promp_free(&b);
    sy_buf_free(&out);
}

/* A page with thousands of models lists SY_STATUS_ROWS of them. */
static void test_bounded(void **state)
{
    (void)state;
    sy_buf text, out;
    sy_buf_init(&text);
    sy_buf_init(&out);
    for (int i = 0; i < 3000; i++)
        sy_buf_printf(&text, "switchyard_jobs_total{model=\"m%d\",status=\"ok\"} 1\n", i);
    sy_promp_page p = {0};
    sy_promp_parse(&p, text.data, text.len);
    assert_int_equal(p.n, 3000);
    sy_status_src s = {.url = "u", .cur = &p};
    sy_status_frame(&out, &s, 1);
    char want[64];
    snprintf(want, sizeof want, "... %d more not shown", 3000 - SY_STATUS_ROWS);
    assert_non_null(strstr(sy_buf_cstr(&out), want));
    assert_null(strstr(sy_buf_cstr(&out), "m2999"));
    sy_promp_free(&p);
    sy_buf_free(&text);
    sy_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
