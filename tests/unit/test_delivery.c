/* test_delivery.c -- decisions on the edges of delivery: enough file
 * descriptors for the worker (fdlimit.h), which produce errors are worth
 * producing again (kafka.h), the truncated dead letter's headers
 * (deadletter.h), and a job's origin carried in headers (origin.h) and
 * kept in its store record (store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "deadletter.h"
#include "engine.h"
#include "fdlimit.h"
#include "kafka.h"
#include "origin.h"
#include "store.h"

/* ---- file descriptors ---- */

static void test_fd_need_counts_inflight_brokers_spares(void **state)
{
    (void)state;
    /* 1000 calls to one host: 16 shards of 64 sockets (+2 each), a bounded
     * provider's lane's own 2, + epoll */
    long engine = sy_engine_max_fds(1000, 1);
    assert_int_equal(engine, 16 * 66 + 2 + 1);
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

/* ---- produce errors ---- */

static void test_kafka_err_retriable(void **state)
{
    (void)state;
    assert_false(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    assert_false(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    assert_false(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR_INVALID_RECORD));
    assert_false(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE));
    assert_false(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR__FATAL));
    assert_true(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
    assert_true(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION));
    assert_true(sy_kafka_err_retriable(RD_KAFKA_RESP_ERR__TRANSPORT));
}

static const char *hval(rd_kafka_headers_t *h, const char *name, char *buf, size_t len)
{
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, name, &v, &n) != 0) return NULL;
    snprintf(buf, len, "%.*s", (int)n, (const char *)v);
    return buf;
}

static void test_dead_letter_truncation_headers(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    sy_dead_letter_truncation_headers(h, 7, "hello", 5, "the dead letter was refused: too large");
    char b[128];
    assert_string_equal(hval(h, "switchyard.truncated", b, sizeof b), "1");
    assert_string_equal(hval(h, "switchyard.original.key_size", b, sizeof b), "7");
    assert_string_equal(hval(h, "switchyard.original.value_size", b, sizeof b), "5");
    /* FNV-1a 64 of "hello" and of nothing (the standard's test values) */
    assert_string_equal(hval(h, "switchyard.original.value_fnv1a64", b, sizeof b), "a430d84680aabd0b");
    assert_string_equal(hval(h, "switchyard.truncated.reason", b, sizeof b),
                        "the dead letter was refused: too large");
    rd_kafka_headers_destroy(h);
    h = rd_kafka_headers_new(8);
    sy_dead_letter_truncation_headers(h, 0, "", 0, "r");
    assert_string_equal(hval(h, "switchyard.original.value_fnv1a64", b, sizeof b), "cbf29ce484222325");
    rd_kafka_headers_destroy(h);
}

/* ---- origin ---- */

static rd_kafka_headers_t *origin_headers(const char *topic, const char *part, const char *off)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    if (topic) rd_kafka_header_add(h, "switchyard.origin.topic", -1, topic, -1);
    if (part) rd_kafka_header_add(h, "switchyard.origin.partition", -1, part, -1);
    if (off) rd_kafka_header_add(h, "switchyard.origin.offset", -1, off, -1);
    return h;
}

static bool origin_ok(const char *topic, const char *part, const char *off, char *out)
{
    rd_kafka_headers_t *h = origin_headers(topic, part, off);
    bool ok = sy_origin_of(h, out);
    rd_kafka_headers_destroy(h);
    return ok;
}

static void test_origin(void **state)
{
    (void)state;
    char o[SY_ORIGIN_MAX], topic[SY_ORIGIN_MAX];
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    sy_origin_add_headers(h, "switchyard.jobs", 5, 123456789012LL);
    assert_true(sy_origin_of(h, o));
    assert_string_equal(o, "switchyard.jobs/5/123456789012");
    rd_kafka_headers_destroy(h);
    int32_t p;
    int64_t off;
    assert_true(sy_origin_parse(o, topic, &p, &off));
    assert_string_equal(topic, "switchyard.jobs");
    assert_int_equal(p, 5);
    assert_int_equal(off, 123456789012LL);
    /* hostile or missing headers: no origin */
    assert_false(sy_origin_of(NULL, o));
    assert_false(origin_ok("jobs", "1", NULL, o));
    assert_false(origin_ok("jo/bs", "1", "2", o));
    assert_false(origin_ok("", "1", "2", o));
    assert_false(origin_ok("jobs", "-1", "2", o));
    assert_false(origin_ok("jobs", "01", "2", o));
    assert_false(origin_ok("jobs", "2147483648", "2", o));
    assert_false(origin_ok("jobs", "1", "9223372036854775808", o));
    assert_false(origin_ok("jobs", "1", "2 ", o));
    char long_topic[300];
    memset(long_topic, 'a', 299);
    long_topic[299] = '\0';
    assert_false(origin_ok(long_topic, "1", "2", o));
    assert_true(origin_ok("jobs", "2147483647", "9223372036854775807", o));
    assert_false(sy_origin_parse("nothing", topic, &p, &off));
    assert_false(sy_origin_parse("/1/2", topic, &p, &off));
}

static sy_job_record sample_record(const char *origin)
{
    return (sy_job_record){
        .state = SY_STATE_PUBLISHED, .ok = true, .attempts = 2, .src_topic = "switchyard.tier.t",
        .src_partition = 3, .src_offset = 41, .updated_ms = 1000, .out_topic = "out",
        .out_partition = 1, .out_offset = 7, .model = "m", .result = "\x81\xa1" "a\x01",
        .result_len = 4, .origin = origin,
    };
}

static void test_record_origin(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    sy_job_record in = sample_record("switchyard.jobs/2/99"), out;
    sy_record_encode(&b, &in);
    assert_int_equal(sy_record_decode(b.data, b.len, &out), 0);
    assert_string_equal(out.origin, "switchyard.jobs/2/99");
    assert_int_equal(out.result_len, 4);
    assert_memory_equal(out.result, in.result, 4);
    assert_int_equal(out.src_offset, 41);
    /* a cut or unterminated origin is malformed */
    assert_int_equal(sy_record_decode(b.data, b.len - 1, &out), -1);
    ((char *)b.data)[b.len - 1] = 'x';
    assert_int_equal(sy_record_decode(b.data, b.len, &out), -1);
    /* no origin: the version-1 layout, as written before origins existed */
    sy_job_record old = sample_record(NULL);
    sy_record_encode(&b, &old);
    assert_int_equal(((const unsigned char *)b.data)[0], 1);
    assert_int_equal(sy_record_decode(b.data, b.len, &out), 0);
    assert_null(out.origin);
    assert_int_equal(out.result_len, 4);
    sy_buf_free(&b);
}

/* sy_fmt_i64 prints what "%" PRId64 prints (origins, output keys and the
 * result's source header are written with it, not with printf) */
static void test_fmt_i64(void **state)
{
    (void)state;
    const int64_t vs[] = {0, 1, -1, 9, 10, -10, 2147483647, -2147483648LL, 123456789012LL,
                          INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        char got[SY_I64_CHARS + 1], want[32];
        size_t n = sy_fmt_i64(got, vs[i]);
        got[n] = '\0';
        snprintf(want, sizeof want, "%" PRId64, vs[i]);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

/* The longest origin a header may carry is joined whole, as printed */
static void test_origin_longest(void **state)
{
    (void)state;
    char topic[250], o[SY_ORIGIN_MAX], want[SY_ORIGIN_MAX + 8];
    memset(topic, 'a', 249);
    topic[249] = '\0';
    assert_true(origin_ok(topic, "2147483647", "9223372036854775807", o));
    snprintf(want, sizeof want, "%s/%d/%lld", topic, 2147483647, 9223372036854775807LL);
    assert_string_equal(o, want);
    assert_true(origin_ok("t", "0", "0", o));
    assert_string_equal(o, "t/0/0");
}

/* sy_record_append writes after what the buffer holds the bytes
 * sy_record_encode writes (the changelog's value: writer id, record) */
static void test_record_append(void **state)
{
    (void)state;
    sy_buf enc, app;
    sy_buf_init(&enc);
    sy_buf_init(&app);
    const char *origins[] = {"switchyard.jobs/2/99", NULL};
    for (int i = 0; i < 2; i++) {
        sy_job_record in = sample_record(origins[i]);
        sy_record_encode(&enc, &in);
        sy_buf_reset(&app);
        sy_buf_append(&app, "12345678", 8);
        sy_record_append(&app, &in);
        assert_int_equal(app.len, 8 + enc.len);
        assert_memory_equal(app.data, "12345678", 8);
        assert_memory_equal(app.data + 8, enc.data, enc.len);
    }
    sy_buf_free(&enc);
    sy_buf_free(&app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_need_counts_inflight_brokers_spares),
        cmocka_unit_test(test_fd_decide),
        cmocka_unit_test(test_kafka_err_retriable),
        cmocka_unit_test(test_dead_letter_truncation_headers),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_record_origin),
        cmocka_unit_test(test_fmt_i64),
        cmocka_unit_test(test_origin_longest),
        cmocka_unit_test(test_record_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
