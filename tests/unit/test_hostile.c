/* test_hostile.c -- bytes from outside on their way to a time, a log line,
 * a terminal or a request header: RFC 3339 parsing of every malformed
 * shape (each in a heap block of its exact size, so that ASan sees any
 * read past its end), control characters escaped for logs and terminals,
 * the job's key percent-encoded in the X-Switchyard-Job header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "provider.h"
#include "util.h"

/* Parse s from a block holding exactly its bytes and the NUL. */
static int64_t rfc3339_exact(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    int64_t v = sy_parse_rfc3339_ms(copy);
    free(copy);
    return v;
}

static void test_rfc3339_valid(void **state)
{
    (void)state;
#define OK(s, v) assert_int_equal(rfc3339_exact(s, strlen(s)), v)
    OK("2025-08-21T12:40:59Z", 1755780059000LL);
    OK("2025-08-21t12:40:59z", 1755780059000LL);
    OK("2025-08-21 12:40:59Z", 1755780059000LL);
    OK("2025-08-21T14:40:59.25+02:00", 1755780059250LL);
    OK("2025-08-21T10:10:59.123456789-02:30", 1755780059123LL);
    OK("2024-02-29T00:00:00Z", 1709164800000LL);
    OK("1970-01-01T00:00:00Z", 0);
    OK("9999-12-31T23:59:59Z", 253402300799000LL);
#undef OK
}

static void test_rfc3339_malformed_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "Z", "2025", "2025-08-21", "2025-08-21T", "2025-08-21T12:40", "2025-08-21T12:40:59",
        "2025-08-21T12:40:59.", "2025-08-21T12:40:59.Z", "2025-08-21T12:40:59+", "2025-08-21T12:40:59+1",
        "2025-08-21T12:40:59+1:2", "2025-08-21T12:40:59+01:2", "2025-08-21T12:40:59+01", "2025-08-21T12:40:59+01:",
        "2025-08-21T12:40:59+0100", "2025-08-21T12:40:59+ 1:02", "2025-08-21T12:40:59+-1:02",
        "2025-08-21T12:40:59+24:00", "2025-08-21T12:40:59+01:60", "2025-08-21T12:40:59Zjunk",
        "2025-08-21T12:40:59+01:00x", "2025-8-21T12:40:59Z", "2025-08-2T12:40:59Z", " 2025-08-21T12:40:59Z",
        "+2025-08-21T12:40:59Z", "-025-08-21T12:40:59Z", "2025-08-21T-1:40:59Z", "2025-08-21T 1:40:59Z",
        "2025-08-21T24:00:00Z", "2025-08-21T12:60:00Z", "2025-08-21T12:40:61Z", "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-08-00T00:00:00Z",
        "2025-08-21X12:40:59Z", "2025/08/21T12:40:59Z", "2025-08-21T12.40.59Z", "\xff\xfe\xfd",
        /* the shape that read past the end: ~60 characters, a bad offset last */
        "2025-08-21T12:40:59.000000000000000000000000000000000000000+1:2",
        "2025-08-21T12:40:59.0000000000000000000000000000000000000000+9",
        "2025-08-21T12:40:59.00000000000000000000000000000000000000000-",
    };
    for (size_t i = 0; i < SY_ARRAY_LEN(bad); i++)
        if (rfc3339_exact(bad[i], strlen(bad[i])) != -1) fail_msg("accepted '%s'", bad[i]);
    /* every prefix of valid times, and each with its last byte changed */
    static const char *const good[] = {"2025-08-21T14:40:59.25+02:00", "2025-08-21T12:40:59Z",
                                       "2025-08-21T12:40:59.999999-23:59"};
    for (size_t g = 0; g < SY_ARRAY_LEN(good); g++) {
        size_t n = strlen(good[g]);
        for (size_t k = 0; k < n; k++) assert_int_equal(rfc3339_exact(good[g], k), -1);
        char *t = strdup(good[g]);
        for (int c = 1; c < 256; c++) {
            t[n - 1] = (char)c;
            int64_t v = rfc3339_exact(t, n);
            if (c != (unsigned char)good[g][n - 1] && !(c == 'z' && good[g][n - 1] == 'Z') &&
                !(c >= '0' && c <= '9'))
                assert_int_equal(v, -1);
        }
        free(t);
    }
}

static void test_escape_control_characters(void **state)
{
    (void)state;
    char out[128];
    const char in[] = "ok\x1b[31mred\r\nINFO forged\x7f\x01\xc2\x9b" "2J caf\xc3\xa9";
    size_t n = sy_escape_ctl(out, sizeof out, in, sizeof in - 1);
    assert_string_equal(out, "ok\\x1b[31mred\\x0d\\x0aINFO forged\\x7f\\x01\\u009b2J caf\xc3\xa9");
    assert_int_equal(n, strlen(out));
    /* a NUL inside the span is escaped too */
    sy_escape_ctl(out, sizeof out, "a\0b", 3);
    assert_string_equal(out, "a\\x00b");
    /* a full buffer ends on a whole escape */
    n = sy_escape_ctl(out, 8, "abc\x1b\x1b\x1b", 6);
    assert_string_equal(out, "abc\\x1b");
    assert_int_equal(n, 7);
    n = sy_escape_ctl(out, 6, "abc\x1b", 4);
    assert_string_equal(out, "abc");
    /* a lone 0xc2 at the end, or before a non-C1 byte, is text */
    sy_escape_ctl(out, sizeof out, "x\xc2", 2);
    assert_string_equal(out, "x\xc2");
}

/* What sy_log writes to stderr for one message. */
static char *logged(const char *fmt, const char *arg)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = fileno(f);
    int saved = dup(2);
    dup2(fd, 2);
    sy_log_init("test", SY_LOG_DEBUG);
    sy_log_set_json(false); /* the text form; test_metrics checks the JSON lines */
    sy_warn(fmt, arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    fclose(f);
    assert_true(n > 0);
    buf[n] = '\0';
    return buf;
}

static void test_log_lines_escape_job_text(void **state)
{
    (void)state;
    const char *id = "job-1\x1b]0;owned\x07\r\n2026-01-01T00:00:00.000Z worker ERROR forged\x7f\xc2\x9b";
    char *line = logged("key '%s': dead-lettered", id);
    assert_non_null(strstr(line, " test WARN key 'job-1\\x1b]0;owned\\x07\\x0d\\x0a2026-01-01"));
    assert_non_null(strstr(line, "forged\\x7f\\u009b': dead-lettered\n"));
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1); /* one line */
    for (const char *p = line; *p; p++)
        if (*p != '\n' && ((unsigned char)*p < 0x20 || *p == 0x7f)) fail_msg("raw control byte 0x%02x", *p);
    assert_null(strstr(line, "\xc2\x9b"));
    /* a long message is cut, still one line */
    char big[5000];
    memset(big, '\n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    line = logged("%s", big);
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

static void test_job_header_percent_encoded(void **state)
{
    (void)state;
    sy_request req;
    sy_request_init(&req);
    sy_request_add_job_header(&req, "k\r\nAuthorization: Bearer evil\r\n\r\nPOST /x HTTP/1.1");
    assert_int_equal(req.nheaders, 1);
    assert_string_equal(req.headers.data, "X-Switchyard-Job: k%0D%0AAuthorization%3A%20Bearer%20evil"
                                          "%0D%0A%0D%0APOST%20%2Fx%20HTTP%2F1.1");
    sy_request_reset(&req);
    sy_request_add_job_header(&req, "t-0001_a.b~c");
    assert_string_equal(req.headers.data, "X-Switchyard-Job: t-0001_a.b~c");
    /* 256 bytes of key, each encoded: still one whole header */
    char key[257];
    memset(key, '\n', 256);
    key[256] = '\0';
    sy_request_reset(&req);
    sy_request_add_job_header(&req, key);
    assert_int_equal(req.nheaders, 1);
    assert_int_equal(strlen(req.headers.data), strlen("X-Switchyard-Job: ") + 3 * 256);
    /* any header line with CR or LF is dropped, whatever put it there */
    sy_request_reset(&req);
    sy_request_add_header(&req, "Authorization: Bearer %s", "key\r\nX-Evil: 1");
    assert_int_equal(req.nheaders, 0);
    assert_int_equal(req.headers.len, 0);
    sy_request_free(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_valid),
        cmocka_unit_test(test_rfc3339_malformed_shapes),
        cmocka_unit_test(test_escape_control_characters),
        cmocka_unit_test(test_log_lines_escape_job_text),
        cmocka_unit_test(test_job_header_percent_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
