/* test_batch.c -- worker/batch.[ch]: a batch tier's pure decisions.
 * The state machine against an independent copy of its table, the send and
 * poll timing, the provider's statuses, the input line, and matching
 * hostile output lines back to jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "batch.h"

/* The table as the design says it (batch.h), written again here. */
static const struct {
    sy_batch_state s;
    sy_batch_event e;
    sy_batch_state next;
    uint32_t fx;
} expected[] = {
    {SY_BS_COLLECTING, SY_BE_SEND, SY_BS_COLLECTING, SY_BX_UPLOAD},
    {SY_BS_COLLECTING, SY_BE_UPLOADED, SY_BS_UPLOADED, SY_BX_RECORD},
    {SY_BS_UPLOADED, SY_BE_RECORDED, SY_BS_UPLOADED, SY_BX_CREATE},
    {SY_BS_UPLOADED, SY_BE_CREATED, SY_BS_CREATED, SY_BX_RECORD},
    {SY_BS_CREATED, SY_BE_RECORDED, SY_BS_POLLING, SY_BX_POLL},
    {SY_BS_POLLING, SY_BE_RUNNING, SY_BS_POLLING, SY_BX_POLL},
    {SY_BS_POLLING, SY_BE_ENDED, SY_BS_POLLING, SY_BX_DOWNLOAD},
    {SY_BS_POLLING, SY_BE_DOWNLOADED, SY_BS_DOWNLOADED, SY_BX_PUBLISH},
    {SY_BS_POLLING, SY_BE_FAILED, SY_BS_DOWNLOADED, SY_BX_PUBLISH},
    {SY_BS_COLLECTING, SY_BE_FAILED, SY_BS_DOWNLOADED, SY_BX_PUBLISH},
    {SY_BS_UPLOADED, SY_BE_FAILED, SY_BS_DOWNLOADED, SY_BX_PUBLISH},
    {SY_BS_CREATED, SY_BE_FAILED, SY_BS_DOWNLOADED, SY_BX_PUBLISH},
    {SY_BS_DOWNLOADED, SY_BE_PUBLISHED, SY_BS_DONE, SY_BX_FORGET},
    {SY_BS_COLLECTING, SY_BE_ADOPTED, SY_BS_POLLING, SY_BX_POLL},
};

static void test_table(void **state)
{
    (void)state;
    for (int s = 0; s < SY_BS_COUNT; s++)
        for (int e = 0; e < SY_BE_COUNT; e++) {
            sy_batch_step st = sy_batch_next((sy_batch_state)s, (sy_batch_event)e);
            size_t i = 0;
            while (i < sizeof expected / sizeof expected[0] && !(expected[i].s == (sy_batch_state)s && expected[i].e == (sy_batch_event)e)) i++;
            if (i == sizeof expected / sizeof expected[0]) {
                assert_int_equal(st.effects, SY_BX_ERROR);
                assert_int_equal(st.next, s); /* nothing changes */
            } else {
                assert_int_equal(st.next, expected[i].next);
                assert_int_equal(st.effects, expected[i].fx);
            }
        }
    assert_int_equal(sy_batch_next(SY_BS_COUNT, SY_BE_SEND).effects, SY_BX_ERROR);
    assert_string_equal(sy_batch_state_name(SY_BS_POLLING), "POLLING");
    /* The happy path records the batch before create and again after it. */
    sy_batch_state s = SY_BS_COLLECTING;
    const sy_batch_event path[] = {SY_BE_SEND, SY_BE_UPLOADED, SY_BE_RECORDED, SY_BE_CREATED, SY_BE_RECORDED,
                                   SY_BE_RUNNING, SY_BE_ENDED, SY_BE_DOWNLOADED, SY_BE_PUBLISHED};
    uint32_t all = 0, order[16];
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        sy_batch_step st = sy_batch_next(s, path[i]);
        assert_false(st.effects & SY_BX_ERROR);
        order[i] = st.effects;
        all |= st.effects;
        s = st.next;
    }
    assert_int_equal(s, SY_BS_DONE);
    assert_int_equal(order[1], SY_BX_RECORD); /* after upload: record, then ... */
    assert_int_equal(order[2], SY_BX_CREATE); /* ... create */
    assert_int_equal(all, SY_BX_UPLOAD | SY_BX_RECORD | SY_BX_CREATE | SY_BX_POLL | SY_BX_DOWNLOAD | SY_BX_PUBLISH | SY_BX_FORGET);
}

static const sy_batch_policy pol = {.max_jobs = 3, .max_bytes = 100, .max_wait_ms = 1000,
                                    .poll_ms = 50, .poll_max_ms = 400};

static void test_limits(void **state)
{
    (void)state;
    assert_true(sy_batch_fits(&pol, 0, 0, 100));
    assert_false(sy_batch_fits(&pol, 0, 0, 101));  /* a line larger than any batch */
    assert_false(sy_batch_fits(&pol, 0, 0, -1));
    assert_true(sy_batch_fits(&pol, 2, 60, 40));
    assert_false(sy_batch_fits(&pol, 2, 61, 40));  /* bytes */
    assert_false(sy_batch_fits(&pol, 3, 0, 1));    /* jobs */
    assert_false(sy_batch_due(&pol, 0, 0, 0, INT64_MAX)); /* never when empty */
    assert_false(sy_batch_due(&pol, 1, 10, 5000, 5999));
    assert_true(sy_batch_due(&pol, 1, 10, 5000, 6000));   /* time */
    assert_true(sy_batch_due(&pol, 3, 10, 5000, 5000));   /* jobs */
    assert_true(sy_batch_due(&pol, 1, 100, 5000, 5000));  /* bytes */
    assert_int_equal(sy_batch_due_at(&pol, 1, 5000), 6000);
    assert_int_equal(sy_batch_due_at(&pol, 0, 5000), INT64_MAX);
    assert_int_equal(sy_batch_due_at(&pol, 1, INT64_MAX - 10), INT64_MAX); /* no overflow */
    const int64_t delays[] = {50, 100, 200, 400, 400, 400};
    for (int i = 0; i < 6; i++) assert_int_equal(sy_batch_poll_delay(&pol, i), delays[i]);
    assert_int_equal(sy_batch_poll_delay(&pol, 1000000), 400);
}

static void test_status(void **state)
{
    (void)state;
    assert_int_equal(sy_batch_status_of("validating"), SY_BST_RUNNING);
    assert_int_equal(sy_batch_status_of("in_progress"), SY_BST_RUNNING);
    assert_int_equal(sy_batch_status_of("finalizing"), SY_BST_RUNNING);
    assert_int_equal(sy_batch_status_of("cancelling"), SY_BST_RUNNING);
    assert_int_equal(sy_batch_status_of("completed"), SY_BST_ENDED);
    assert_int_equal(sy_batch_status_of("expired"), SY_BST_ENDED);
    assert_int_equal(sy_batch_status_of("failed"), SY_BST_FAILED);
    assert_int_equal(sy_batch_status_of("cancelled"), SY_BST_FAILED);
    assert_int_equal(sy_batch_status_of("COMPLETED"), SY_BST_UNKNOWN); /* never trusted as an end */
    assert_int_equal(sy_batch_status_of(""), SY_BST_UNKNOWN);
    assert_int_equal(sy_batch_status_of(NULL), SY_BST_UNKNOWN);
    assert_false(sy_batch_overdue(1000, 1000 + 24LL * 3600 * 1000));
    assert_false(sy_batch_overdue(1000, 1000 + SY_BATCH_GIVE_UP_MS));
    assert_true(sy_batch_overdue(1000, 1001 + SY_BATCH_GIVE_UP_MS));
}

static void test_input_line(void **state)
{
    (void)state;
    sy_buf b;
    sy_buf_init(&b);
    const char body[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[]}";
    sy_batch_input_line(&b, "key \"1\"\n\x01", "/v1/chat/completions", body, strlen(body));
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_null(memchr(b.data, '\n', b.len - 1)); /* one line whatever the key */
    json_t *o = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "custom_id")), "key \"1\"\n\x01");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(o, "url")), "/v1/chat/completions");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "body"), "model")), "gpt-4o-mini");
    json_decref(o);
    sy_buf_free(&b);
}

static sy_batch_line_kind match(sy_batch_match *m, const char *line, sy_batch_answer *a)
{
    memset(a, 0, sizeof *a);
    return sy_batch_match_line(m, line, strlen(line), a);
}

static void test_match(void **state)
{
    (void)state;
    const char *ids[] = {"k1", "k2", "k3", "k4"};
    sy_batch_match m;
    sy_batch_match_init(&m, ids, 4);
    sy_batch_answer a;
    const char ok2[] = "{\"id\":\"r\",\"custom_id\":\"k2\",\"response\":{\"status_code\":200,\"request_id\":\"q\","
                       "\"body\":{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}},\"error\":null}";
    assert_int_equal(match(&m, ok2, &a), SY_BL_ANSWER);
    assert_int_equal(a.index, 1);
    assert_int_equal(a.status_code, 200);
    assert_string_equal(a.error_code, "");
    assert_non_null(strstr(a.body, "\"content\":\"hi\""));
    free(a.body);
    /* the same line again (a provider repeating itself): answered once */
    assert_int_equal(match(&m, ok2, &a), SY_BL_DUPLICATE);
    /* an error-file line with a response, and one with only an error */
    assert_int_equal(match(&m, "{\"custom_id\":\"k1\",\"response\":{\"status_code\":500,\"body\":{\"error\":{}}},\"error\":null}", &a), SY_BL_ANSWER);
    assert_int_equal(a.index, 0);
    assert_int_equal(a.status_code, 500);
    free(a.body);
    assert_int_equal(match(&m, "{\"custom_id\":\"k3\",\"response\":null,\"error\":{\"code\":\"batch_expired\\n\\u001b[31m\",\"message\":\"x\"}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.index, 2);
    assert_int_equal(a.status_code, 0);
    assert_null(a.body);
    assert_string_equal(a.error_code, "batch_expired??[31m"); /* printable only */
    /* hostile lines: ignored and counted */
    assert_int_equal(match(&m, "{\"custom_id\":\"nope\",\"response\":null}", &a), SY_BL_UNKNOWN);
    assert_int_equal(match(&m, "this is not JSON", &a), SY_BL_MALFORMED);
    assert_int_equal(match(&m, "{\"custom_id\":4}", &a), SY_BL_MALFORMED);
    assert_int_equal(match(&m, "[\"k4\"]", &a), SY_BL_MALFORMED);
    assert_int_equal(match(&m, "{\"custom_id\":\"k4\",\"custom_id\":\"k1\"}", &a), SY_BL_MALFORMED);
    assert_int_equal(match(&m, "", &a), SY_BL_BLANK);
    assert_int_equal(match(&m, "\r", &a), SY_BL_BLANK);
    size_t big = SY_BATCH_LINE_MAX + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    memcpy(huge, "{\"custom_id\":\"k4\"}", 18);
    huge[big - 1] = 'x';
    assert_int_equal(sy_batch_match_line(&m, huge, big, &a), SY_BL_MALFORMED); /* never parsed */
    free(huge);
    /* a status code out of range counts as no response */
    assert_int_equal(match(&m, "{\"custom_id\":\"k4\",\"response\":{\"status_code\":99999999999,\"body\":[]},\"error\":null}", &a), SY_BL_ANSWER);
    assert_int_equal(a.status_code, 0);
    assert_null(a.body);
    assert_string_equal(a.error_code, "no_response");
    assert_int_equal(m.unknown, 1);
    assert_int_equal(m.duplicate, 1);
    assert_int_equal(m.malformed, 5);
    assert_int_equal(m.nanswered, 4);
    size_t cur = 0, idx;
    assert_false(sy_batch_match_next_missing(&m, &cur, &idx));
    sy_batch_match_free(&m);
    /* what no line answered is listed, in order */
    sy_batch_match_init(&m, ids, 4);
    /* an escaped custom_id is its decoded value; one with a NUL in it
     * ("k1\u0000x" would read as "k1" in C) is no id; the body is handed
     * on as the provider wrote it, blanks and all */
    assert_int_equal(match(&m, "{\"custom_id\":\"k1\\u0000x\",\"response\":null}", &a), SY_BL_MALFORMED);
    assert_int_equal(match(&m, "{\"custom_id\":\"k\\u0032\",\"response\":null,\"error\":{\"code\":\"x\"}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.index, 1);
    assert_string_equal(a.error_code, "x");
    assert_int_equal(match(&m, "{\"response\": {\"body\": { \"n\" : [1, 2] } , \"status_code\": 200 }, \"custom_id\": \"k4\"}", &a), SY_BL_ANSWER);
    assert_int_equal(a.index, 3);
    assert_int_equal(a.status_code, 200);
    assert_string_equal(a.body, "{ \"n\" : [1, 2] }");
    free(a.body);
    assert_int_equal(match(&m, "{\"custom_id\":\"k3\",\"response\":{\"status_code\":200,\"body\":{}}} x", &a), SY_BL_MALFORMED);
    assert_int_equal(m.malformed, 2);
    sy_batch_match_free(&m);
    sy_batch_match_init(&m, ids, 4);
    assert_int_equal(match(&m, "{\"custom_id\":\"k2\",\"response\":null,\"error\":{\"code\":\"x\"}}", &a), SY_BL_ANSWER);
    cur = 0;
    assert_true(sy_batch_match_next_missing(&m, &cur, &idx));
    assert_int_equal(idx, 0);
    assert_true(sy_batch_match_next_missing(&m, &cur, &idx));
    assert_int_equal(idx, 2);
    assert_true(sy_batch_match_next_missing(&m, &cur, &idx));
    assert_int_equal(idx, 3);
    assert_false(sy_batch_match_next_missing(&m, &cur, &idx));
    sy_batch_match_free(&m);
}

/* Anthropic message batches: items, custom_ids, result lines. */
static void test_anthropic(void **state)
{
    (void)state;
    char id[SY_BATCH_ID_MAX], id2[SY_BATCH_ID_MAX];
    sy_batch_anthropic_id("job-42_A", id);
    assert_string_equal(id, "job-42_A"); /* allowed as is */
    sy_batch_anthropic_id("order #42/\"x\"", id);
    assert_int_equal(strlen(id), 33);
    for (const char *p = id; *p; p++) assert_true(strchr("0123456789abcdefh", *p) != NULL);
    sy_batch_anthropic_id("order #43/\"x\"", id2);
    assert_string_not_equal(id, id2);
    char long_key[100];
    memset(long_key, 'k', 65);
    long_key[65] = '\0';
    sy_batch_anthropic_id(long_key, id2); /* 65 allowed characters: too long, hashed */
    assert_int_equal(strlen(id2), 33);
    sy_buf b;
    sy_buf_init(&b);
    sy_batch_anthropic_item(&b, id, "{\"model\":\"c\"}", 13);
    json_t *o = json_loadb(b.data, b.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "custom_id")), id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "params"), "model")), "c");
    json_decref(o);
    sy_buf_free(&b);
    assert_int_equal(sy_batch_status_of("ended"), SY_BST_ENDED);
    assert_int_equal(sy_batch_status_of("canceling"), SY_BST_RUNNING);
    const char *ids[] = {"a", "b", "c", "d"};
    sy_batch_match m;
    sy_batch_match_init(&m, ids, 4);
    sy_batch_answer a;
    assert_int_equal(match(&m, "{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\",\"message\":{\"content\":[]}}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.status_code, 200);
    assert_string_equal(a.body, "{\"content\":[]}");
    free(a.body);
    assert_int_equal(match(&m, "{\"custom_id\":\"b\",\"result\":{\"type\":\"errored\",\"error\":{\"type\":\"error\","
                               "\"error\":{\"type\":\"invalid_request_error\",\"message\":\"m\"}}}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.status_code, 400);
    assert_non_null(strstr(a.body, "invalid_request_error"));
    free(a.body);
    assert_int_equal(match(&m, "{\"custom_id\":\"c\",\"result\":{\"type\":\"expired\"}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.status_code, 0);
    assert_null(a.body);
    assert_string_equal(a.error_code, "expired");
    /* a succeeded result without a message is no answer */
    assert_int_equal(match(&m, "{\"custom_id\":\"d\",\"result\":{\"type\":\"succeeded\"}}", &a), SY_BL_ANSWER);
    assert_int_equal(a.status_code, 0);
    assert_string_equal(a.error_code, "succeeded");
    sy_batch_match_free(&m);
}

/* A job leaving a collecting batch takes its line and one separator:
 * what is left is the input without it (a JSON array's items stay
 * comma-separated). */
static void cut(bool items, const char *in, const size_t *at, size_t n, size_t i, const char *want)
{
    size_t from, to, len = strlen(in);
    sy_batch_line_span(items, at, n, len, i, &from, &to);
    char out[64];
    assert_true(from <= to && to <= len && len - (to - from) < sizeof out);
    memcpy(out, in, from);
    memcpy(out + from, in + to, len - to);
    out[len - (to - from)] = '\0';
    assert_string_equal(out, want);
}

static void test_line_span(void **state)
{
    (void)state;
    const size_t items[] = {0, 4, 8};
    cut(true, "{a:1},{b},{c:3}", (const size_t[]){0, 6, 10}, 3, 0, "{b},{c:3}");
    cut(true, "{a:1},{b},{c:3}", (const size_t[]){0, 6, 10}, 3, 1, "{a:1},{c:3}");
    cut(true, "{a:1},{b},{c:3}", (const size_t[]){0, 6, 10}, 3, 2, "{a:1},{b}");
    cut(true, "{a}", items, 1, 0, "");
    cut(true, "{a},{b}", items, 2, 1, "{a}");
    cut(false, "a1\nb22\nc\n", (const size_t[]){0, 3, 7}, 3, 0, "b22\nc\n");
    cut(false, "a1\nb22\nc\n", (const size_t[]){0, 3, 7}, 3, 1, "a1\nc\n");
    cut(false, "a1\nb22\nc\n", (const size_t[]){0, 3, 7}, 3, 2, "a1\nb22\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_input_line),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_anthropic),
        cmocka_unit_test(test_line_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
