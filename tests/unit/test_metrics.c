/* test_metrics.c -- the Prometheus text writer (base/prom.h), the log line
 * writer (base/log.h: JSON and text, control characters, the repeated
 * statistics line) and the endpoint's pure checks (base/httpd.h: address,
 * loopback, bearer token). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "log.h"
#include "prom.h"
#include "util.h"

static const char *text(sy_buf *b)
{
    return sy_buf_cstr(b);
}

static void test_escape_labels(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    sy_prom_label l[] = {{"task", "a\"b\\c\nd"}, {"model", "m"}};
    sy_prom_sample(&b, "x_total", l, 2, 3);
    assert_string_equal(text(&b), "x_total{task=\"a\\\"b\\\\c\\nd\",model=\"m\"} 3\n");
    sy_buf_reset(&b);
    sy_prom_sample(&b, "y", NULL, 0, 0.25);
    assert_string_equal(text(&b), "y 0.25\n");
    sy_buf_reset(&b);
    sy_prom_family(&b, "z_total", "Help with \\ and\nnewline.", SY_PROM_COUNTER);
    assert_string_equal(text(&b), "# HELP z_total Help with \\\\ and\\nnewline.\n# TYPE z_total counter\n");
    sy_buf_free(&b);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    sy_prom_hist h = {0};
    sy_prom_observe(&h, 0.001);  /* first bucket */
    sy_prom_observe(&h, 0.005);  /* le is inclusive: still the first */
    sy_prom_observe(&h, 0.3);    /* 0.5 */
    sy_prom_observe(&h, 1000);   /* +Inf only */
    sy_prom_observe(&h, -1);     /* a clock step back counts as 0 */
    sy_buf b;
    sy_buf_init(&b);
    sy_prom_hist_write(&b, "lat_seconds", &(sy_prom_label){"model", "m"}, 1, &h);
    const char *t = text(&b);
    assert_non_null(strstr(t, "lat_seconds_bucket{model=\"m\",le=\"0.005\"} 3\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{model=\"m\",le=\"0.25\"} 3\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{model=\"m\",le=\"0.5\"} 4\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{model=\"m\",le=\"600\"} 4\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{model=\"m\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "lat_seconds_count{model=\"m\"} 5\n"));
    assert_non_null(strstr(t, "lat_seconds_sum{model=\"m\"} 1000.306\n"));
    /* cumulative: never decreasing, one line per bound and +Inf */
    int lines = 0;
    long last = -1;
    for (const char *p = strstr(t, "_bucket"); p; p = strstr(p + 1, "_bucket")) {
        long v = strtol(strchr(p, '}') + 2, NULL, 10);
        assert_true(v >= last);
        last = v;
        lines++;
    }
    assert_int_equal(lines, SY_PROM_BUCKETS + 1);
    sy_buf_free(&b);
}

static void test_cardinality_cap(void **state)
{
    (void)state;
    sy_prom_capset s;
    sy_prom_capset_init(&s, 3);
    assert_int_equal(sy_prom_capset_slot(&s, "a"), 0);
    assert_int_equal(sy_prom_capset_slot(&s, "b"), 1);
    assert_int_equal(sy_prom_capset_slot(&s, "a"), 0);
    assert_int_equal(sy_prom_capset_slot(&s, "c"), 2);
    assert_int_equal(sy_prom_capset_slot(&s, "d"), 3); /* over the cap */
    assert_int_equal(sy_prom_capset_slot(&s, "e"), 3);
    assert_int_equal(sy_prom_capset_slot(&s, "c"), 2); /* known values keep their slot */
    assert_string_equal(sy_prom_capset_value(&s, 3), "other");
    assert_string_equal(sy_prom_capset_value(&s, 1), "b");
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sy_prom_capset_free(&s);
    sy_prom_capset_init(&s, 3);
    assert_int_equal(sy_prom_capset_slot(&s, big), 3); /* too long: other, no slot taken */
    assert_int_equal(sy_prom_capset_slot(&s, "a"), 0);
    sy_prom_capset_free(&s);
}

static void test_json_log_line(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    const char msg[] = "bad \"answer\"\r\n\x1b[31mred\x7f\\ \xc2\x9b[2J end \xc3\xa9";
    sy_log_ctx ctx = {.event = "circuit_open", .job = "j\n1", .task = "t", .model = "m", .attempt = 2};
    sy_log_format(&b, true, 1764650000123LL, "worker", SY_LOG_WARN, &ctx, msg, sizeof msg - 1);
    const char *line = text(&b);
    /* one line, no raw control character */
    assert_int_equal(strchr(line, '\n') - line, (long)b.len - 1);
    for (size_t i = 0; i + 1 < b.len; i++) {
        unsigned char c = (unsigned char)line[i];
        assert_true(c >= 0x20 && c != 0x7f);
        assert_false(c == 0xc2 && (unsigned char)line[i + 1] >= 0x80 && (unsigned char)line[i + 1] <= 0x9f);
    }
    json_error_t e;
    json_t *o = json_loadb(line, b.len, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "time")), "2025-12-02T04:33:20.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "event")), "circuit_open");
    assert_string_equal(json_string_value(json_object_get(o, "job")), "j\n1");
    assert_string_equal(json_string_value(json_object_get(o, "model")), "m");
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), msg); /* escaped, not lost */
    json_decref(o);
    /* a long message is cut, still one line of valid JSON */
    static char big[5000];
    memset(big, '\x01', sizeof big);
    sy_buf_reset(&b);
    sy_log_format(&b, true, 0, "worker", SY_LOG_INFO, NULL, big, sizeof big);
    assert_true(b.len < 2300);
    assert_ptr_equal(strchr(text(&b), '\n'), text(&b) + b.len - 1);
    o = json_loadb(b.data, b.len, 0, &e);
    assert_non_null(o);
    json_decref(o);
    sy_buf_reset(&b);
    sy_log_format(&b, false, 0, "worker", SY_LOG_INFO, NULL, big, sizeof big);
    assert_true(b.len < 2300);
    assert_ptr_equal(strchr(text(&b), '\n'), text(&b) + b.len - 1);
    /* without a context: time, level, component, msg only */
    sy_buf_reset(&b);
    sy_log_format(&b, true, 0, "scheduler", SY_LOG_INFO, NULL, "hi", 2);
    assert_string_equal(text(&b), "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\","
                                  "\"component\":\"scheduler\",\"msg\":\"hi\"}\n");
    sy_buf_free(&b);
}

static void test_text_log_line(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    sy_log_ctx ctx = {.event = "provider_unreachable", .job = "j\x1b", .task = "t", .attempt = 1};
    sy_log_format(&b, false, 0, "worker", SY_LOG_WARN, &ctx, "a\nb", 3);
    assert_string_equal(text(&b), "1970-01-01T00:00:00.000Z worker WARN [provider_unreachable "
                                  "job=j\\x1b task=t attempt=1] a\\x0ab\n");
    sy_buf_free(&b);
}

static void test_repeat_line(void **state)
{
    (void)state;
    sy_log_repeat r = {0};
    assert_true(sy_log_repeat_due(&r, "held 0", 1000, 300));
    assert_false(sy_log_repeat_due(&r, "held 0", 1100, 300)); /* same, soon: not again */
    assert_true(sy_log_repeat_due(&r, "held 1", 1200, 300));  /* changed */
    assert_false(sy_log_repeat_due(&r, "held 1", 1400, 300));
    assert_true(sy_log_repeat_due(&r, "held 1", 1500, 300));  /* the longer interval */
}

static void test_http_checks(void **state)
{
    (void)state;
    char host[16];
    int port;
    assert_true(sy_http_addr_parse("127.0.0.1:9464", host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9464);
    assert_true(sy_http_addr_parse("localhost:0", host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_true(sy_http_addr_parse("0.0.0.0:80", host, &port));
    assert_false(sy_http_addr_local(host));
    assert_true(sy_http_addr_local("127.3.2.1"));
    assert_false(sy_http_addr_local("10.0.0.1"));
    assert_false(sy_http_addr_parse("127.0.0.1", host, &port));
    assert_false(sy_http_addr_parse("127.0.0.1:70000", host, &port));
    assert_false(sy_http_addr_parse("127.0.0.1:9x", host, &port));
    assert_false(sy_http_addr_parse("example.com:80", host, &port));
    assert_false(sy_http_addr_parse(":80", host, &port));
    assert_true(sy_http_auth_ok("Bearer s3cret-token", "s3cret-token"));
    assert_false(sy_http_auth_ok("Bearer s3cret-toke", "s3cret-token"));
    assert_false(sy_http_auth_ok("Bearer s3cret-tokenX", "s3cret-token"));
    assert_false(sy_http_auth_ok("Bearer s3cret-tokeN", "s3cret-token"));
    assert_false(sy_http_auth_ok("Bearer ", "s3cret-token"));
    assert_false(sy_http_auth_ok("Basic s3cret-token", "s3cret-token"));
    assert_false(sy_http_auth_ok(NULL, "s3cret-token"));
    assert_false(sy_http_auth_ok("Bearer ", ""));
    char err[200];
    assert_null(sy_httpd_start("0.0.0.0:0", NULL, 1000, NULL, NULL, err, sizeof err)); /* no token: refused */
    assert_non_null(strstr(err, SY_HTTP_TOKEN_ENV));
}

/* A readiness check as slow as a broker that is gone (the metadata
 * request waits out its timeout), then fast once "Kafka" is back. */
static _Atomic int probe_calls;
static _Atomic bool probe_up;

static bool slow_probe(void *ctx, char *why, size_t len)
{
    (void)ctx;
    probe_calls++;
    if (probe_up) return true;
    struct timespec ts = {0, 600 * 1000000L};
    nanosleep(&ts, NULL);
    snprintf(why, len, "Kafka unreachable: test");
    return false;
}

/* GET path on 127.0.0.1:port: the status code, the body in body; *ms the
 * time the answer took. */
static int get(int port, const char *path, char *body, size_t len, int64_t *ms)
{
    int64_t t0 = sy_mono_us();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char rq[200];
    int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    assert_int_equal(write(fd, rq, (size_t)n), n);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    buf[got] = 0;
    *ms = (sy_mono_us() - t0) / 1000;
    int code = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &code), 1);
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return code;
}

/* /readyz answers at once from the check's last answer, also while the
 * check itself is stuck in a slow broker round trip; and says so. */
static void test_readyz_answers_at_once(void **state)
{
    (void)state;
    char err[200], body[1024];
    int64_t ms;
    probe_calls = 0;
    probe_up = false;
    sy_httpd *h = sy_httpd_start("127.0.0.1:0", NULL, 10000, slow_probe, NULL, err, sizeof err);
    assert_non_null(h);
    sy_httpd_publish(h, "x 1\n", 4, NULL);
    sy_httpd_beat(h, sy_mono_us());
    int port = sy_httpd_port(h);
    /* the first check is under way: not ready, at once */
    assert_int_equal(get(port, "/readyz", body, sizeof body, &ms), 503);
    assert_true(ms < 200);
    assert_true(strstr(body, "not checked yet") || strstr(body, "unreachable")); /* a slow start: answered */
    /* its answer is in: not ready with the reason and its age, at once,
     * while the next check blocks again */
    for (int i = 0; i < 100 && !strstr(body, "unreachable"); i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        sy_httpd_beat(h, sy_mono_us());
        assert_int_equal(get(port, "/readyz", body, sizeof body, &ms), 503);
        assert_true(ms < 200);
    }
    assert_non_null(strstr(body, "not ready: Kafka unreachable: test (checked "));
    assert_true(probe_calls >= 1);
    /* Kafka is back: ready within a check or two, with the check's age */
    probe_up = true;
    int code = 0;
    for (int i = 0; i < 100 && code != 200; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        sy_httpd_beat(h, sy_mono_us());
        code = get(port, "/readyz", body, sizeof body, &ms);
        assert_true(ms < 200);
    }
    assert_int_equal(code, 200);
    assert_non_null(strstr(body, "Kafka checked "));
    sy_httpd_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_labels),  cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_cardinality_cap), cmocka_unit_test(test_json_log_line),
        cmocka_unit_test(test_text_log_line),  cmocka_unit_test(test_repeat_line),
        cmocka_unit_test(test_http_checks),    cmocka_unit_test(test_readyz_answers_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
