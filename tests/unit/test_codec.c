/* test_codec.c -- the wire codec: jobs in msgpack and JSON (round trips,
 * defaults, every error), results in both formats (same map), msgpack to
 * JSON, templates, the stored-result restamp, and the changelog's
 * progress mark (round trip, every refusal, where a scan starts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "msgpack_json.h"
#include "progress.h"
#include "result.h"
#include "result_restamp.h"
#include "template.h"

static json_t *parse(const sy_buf *b)
{
    json_error_t e;
    json_t *v = json_loadb(b->data, b->len, 0, &e);
    if (!v) fail_msg("not JSON: %s: %.*s", e.text, (int)b->len, b->data);
    return v;
}

static void test_json_job_and_msgpack_round_trip(void **state)
{
    (void)state;
    const char *text = "  {\"id\":\"j-1\",\"task\":\"classify\",\"vars\":{\"subject\":\"Refund\","
                       "\"n\":42,\"ok\":true,\"x\":1.5},\"metadata\":{\"team\":\"emea\"},"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                       "\"priority\":7,\"deadline\":\"2026-01-01T00:00:00Z\",\"future\":[1]}";
    sy_job j, k;
    char err[256];
    assert_int_equal(sy_job_decode(text, strlen(text), &j, err, sizeof err), 0);
    assert_string_equal(j.id, "j-1");
    assert_string_equal(j.idempotency_key, "j-1"); /* defaults to id */
    assert_string_equal(sy_job_var(&j, "subject"), "Refund");
    assert_string_equal(sy_job_var(&j, "n"), "42");
    assert_string_equal(sy_job_var(&j, "ok"), "true");
    assert_string_equal(sy_job_var(&j, "x"), "1.5");
    assert_string_equal(sy_job_meta(&j, "team"), "emea");
    assert_int_equal(j.nmessages, 1);
    assert_int_equal(j.priority, 7);
    assert_int_equal(j.deadline_ms, 1767225600000LL);
    sy_buf b;
    sy_buf_init(&b);
    sy_job_encode_msgpack(&j, &b);
    assert_true((unsigned char)b.data[0] >= 0x80); /* a msgpack map, not JSON */
    assert_int_equal(sy_job_decode(b.data, b.len, &k, err, sizeof err), 0);
    assert_string_equal(k.task, "classify");
    assert_string_equal(sy_job_var(&k, "n"), "42");
    assert_string_equal(k.messages[0].content, "hi");
    assert_int_equal(k.deadline_ms, j.deadline_ms);
    sy_job_free(&k);
    sy_buf_reset(&b);
    sy_job_encode_json(&j, &b);
    assert_int_equal(sy_job_decode(b.data, b.len, &k, err, sizeof err), 0);
    assert_string_equal(sy_job_meta(&k, "team"), "emea");
    sy_job_free(&k);
    sy_job_free(&j);
    assert_null(j.id);
    sy_buf_free(&b);
}

static void expect_error(const char *data, size_t len, const char *substring)
{
    sy_job j;
    char err[256] = "";
    assert_int_equal(sy_job_decode(data, len, &j, err, sizeof err), -1);
    if (!strstr(err, substring)) fail_msg("error '%s' lacks '%s'", err, substring);
    assert_null(j.id);
}

static void test_job_errors(void **state)
{
    (void)state;
#define E(s, sub) expect_error(s, strlen(s), sub)
    E("{\"task\":\"t\"}", "missing required field 'id'");
    E("{\"id\":\"a\"}", "missing required field 'task'");
    E("{\"id\":\"\",\"task\":\"t\"}", "field 'id' is empty");
    E("{\"id\":5,\"task\":\"t\"}", "field 'id': expected a string, got integer");
    E("{\"id\":\"a\",\"task\":\"t\",\"vars\":{\"v\":[1]}}", "field 'vars.v': expected a string, number or boolean, got array");
    E("{\"id\":\"a\",\"task\":\"t\",\"vars\":[]}", "field 'vars': expected a map");
    E("{\"id\":\"a\",\"task\":\"t\",\"priority\":5000}", "outside -1000..1000");
    E("{\"id\":\"a\",\"task\":\"t\",\"deadline\":\"tomorrow\"}", "RFC 3339");
    /* ~60 characters ending in a malformed offset: read past its end once */
    E("{\"id\":\"a\",\"task\":\"t\",\"deadline\":\"2025-08-21T12:40:59.0000000000000000000000000000000000000000+1:2\"}",
      "RFC 3339");
    E("{\"id\":\"a\",\"task\":\"t\",\"deadline\":\"2025-08-21T12:40:59.00000000000000000000000000000000000000000-1\"}",
      "RFC 3339");
    /* control characters in ids, keys and task names (headers, logs) */
    E("{\"id\":\"a\\r\\nAuthorization: Bearer x\",\"task\":\"t\"}", "field 'id' contains a control character (byte 0x0d at 1)");
    E("{\"id\":\"a\",\"idempotency_key\":\"k\\n\",\"task\":\"t\"}", "field 'idempotency_key' contains a control character (byte 0x0a");
    E("{\"id\":\"\\u001b[2J\",\"task\":\"t\"}", "field 'id' contains a control character (byte 0x1b");
    E("{\"id\":\"a\\u0000b\",\"task\":\"t\"}", "field 'id' contains a control character (byte 0x00");
    E("{\"id\":\"a\\u007f\",\"task\":\"t\"}", "field 'id' contains a control character (byte 0x7f");
    E("{\"id\":\"a\",\"task\":\"t\\t\"}", "field 'task' contains a control character");
    expect_error("\x82\xa2" "id" "\xa3" "a\rb" "\xa4" "task" "\xa1" "t", 15, "field 'id' contains a control character");
    E("{\"id\":\"a\",\"task\":\"t\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "system, user or assistant");
    E("{\"id\":\"a\",", "not valid JSON");
    E("{\"id\":\"a\",\"id\":\"b\",\"task\":\"t\"}", "not valid JSON");
    E("this is not a job", "not a JSON object or msgpack map (first byte 0x74)");
    E("", "empty message");
    expect_error("\x93\x01\x02\x03", 4, "a job must be a map, got array");
    expect_error("\x82\xa2id", 4, "truncated or malformed msgpack");
    expect_error("\x81\xa2id\xa1x\xc0", 7, "trailing bytes");
    char *big = malloc(SY_JOB_MAX_BYTES + 10);
    memset(big, ' ', SY_JOB_MAX_BYTES + 10);
    big[0] = '{';
    expect_error(big, SY_JOB_MAX_BYTES + 10, "above the 524288-byte limit");
    free(big);
#undef E
}

static void test_hostile_inputs_do_not_crash(void **state)
{
    (void)state;
    unsigned char buf[512];
    uint64_t x = 88172645463325252ULL;
    sy_job j;
    char err[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + round % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (unsigned char)x;
        }
        if (round % 3 == 0) buf[0] = 0x80 | (buf[0] & 0x0f); /* a fixmap header */
        if (sy_job_decode(buf, len, &j, err, sizeof err) == 0) sy_job_free(&j);
    }
    /* deep nesting and huge declared lengths */
    unsigned char deep[200];
    memset(deep, 0x91, sizeof deep);
    assert_int_equal(sy_job_decode(deep, sizeof deep, &j, err, sizeof err), -1);
    const unsigned char huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'i', 'd'};
    assert_int_equal(sy_job_decode(huge, sizeof huge, &j, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated or malformed")); /* refused before msgpack-c allocates 128 GB */
    const unsigned char huge_str[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'};
    assert_int_equal(sy_job_decode(huge_str, sizeof huge_str, &j, err, sizeof err), -1);
}

static sy_result sample_result(bool ok)
{
    static sy_kv meta[] = {{"team", "emea"}, {"workflow", "triage"}};
    return (sy_result){
        .job_id = "j-1", .task = "classify", .idempotency_key = "k-1", .ok = ok,
        .output = ok ? "{\"label\":\"billing\"}" : NULL,
        .output_json = ok ? "{\"label\":\"billing\"}" : NULL, .provider = "openai",
        .model = "gpt-4o-mini", .model_name = "gpt-4o-mini-2024", .tier = "fast",
        .prompt_id = "p", .prompt_version = 3, .attempts = 2, .tokens_in = 120,
        .tokens_out = 8, .cost_usd = 2.28e-05, .latency_ms = 321,
        .error_class = ok ? SY_ERR_NONE : SY_ERR_BAD_REQUEST,
        .error_message = ok ? NULL : "HTTP 400: bad", .http_status = ok ? 200 : 400,
        .metadata = meta, .nmetadata = 2, .finished_ms = 1767225600000LL,
    };
}

/* r encoded as JSON, checked equal to its msgpack encoding converted. */
static json_t *both_formats(const sy_result *r)
{
    sy_buf js, mp, conv;
    sy_buf_init(&js);
    sy_buf_init(&mp);
    sy_buf_init(&conv);
    sy_result_encode(r, SY_FORMAT_JSON, &js);
    sy_result_encode(r, SY_FORMAT_MSGPACK, &mp);
    assert_int_equal(sy_msgpack_to_json(mp.data, mp.len, &conv), 0);
    json_t *a = parse(&js), *b = parse(&conv);
    assert_true(json_equal(a, b));
    json_decref(b);
    sy_buf_free(&js);
    sy_buf_free(&mp);
    sy_buf_free(&conv);
    return a;
}

static void test_result_formats_carry_the_same_map(void **state)
{
    (void)state;
    for (int ok = 0; ok <= 1; ok++) {
        sy_result r = sample_result(ok);
        json_t *a = both_formats(&r);
        assert_string_equal(json_string_value(json_object_get(a, "status")), ok ? "ok" : "failed");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "tokens"), "in")), 120);
        assert_true(json_real_value(json_object_get(a, "cost_usd")) == 2.28e-05);
        assert_string_equal(json_string_value(json_object_get(json_object_get(a, "metadata"), "workflow")), "triage");
        if (ok) {
            assert_string_equal(json_string_value(json_object_get(json_object_get(a, "output_json"), "label")), "billing");
            assert_true(json_is_null(json_object_get(a, "error")));
        } else {
            json_t *e = json_object_get(a, "error");
            assert_string_equal(json_string_value(json_object_get(e, "class")), "bad_request");
            assert_int_equal(json_integer_value(json_object_get(e, "http_status")), 400);
            assert_null(json_object_get(a, "output_json"));
        }
        json_decref(a);
    }
}

/* Strings of every msgpack header size (fixstr, str8, str16, str32) come
 * out as msgpack-c's own decoder reads them. */
static void test_msgpack_string_headers(void **state)
{
    (void)state;
    const size_t lens[] = {0, 31, 32, 255, 256, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        char *text = malloc(lens[i] + 1);
        assert_non_null(text);
        for (size_t k = 0; k < lens[i]; k++) text[k] = (char)('a' + k % 26);
        text[lens[i]] = '\0';
        sy_result r = sample_result(true);
        r.output = text;
        sy_buf mp;
        sy_buf_init(&mp);
        sy_result_encode(&r, SY_FORMAT_MSGPACK, &mp);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, mp.data, mp.len, NULL), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        bool found = false;
        for (uint32_t k = 0; k < u.data.via.map.size; k++) {
            msgpack_object key = u.data.via.map.ptr[k].key, val = u.data.via.map.ptr[k].val;
            if (key.via.str.size != 6 || memcmp(key.via.str.ptr, "output", 6)) continue;
            assert_int_equal(val.type, MSGPACK_OBJECT_STR);
            assert_int_equal(val.via.str.size, lens[i]);
            assert_memory_equal(val.via.str.ptr, text, lens[i]);
            found = true;
        }
        assert_true(found);
        msgpack_unpacked_destroy(&u);
        sy_buf_free(&mp);
        free(text);
    }
}

/* Numbers in JSON: the shortest form that reads back as the same double,
 * whole numbers among them (checked against that rule written out here). */
static void test_json_doubles(void **state)
{
    (void)state;
    const double v[] = {0.0, -0.0, 1.0, -1.0, 2.0, 10.0, 999999.0, -999999.0, 1e6, -1e6, 0.2,
                        0.7, 2.28e-05, 123456.5, 1e300, -2147483648.0, 4294967296.0, 0.1 + 0.2};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char want[32];
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(want, sizeof want, "%.*g", prec, v[i]);
            if (strtod(want, NULL) == v[i]) break;
        }
        sy_buf b;
        sy_buf_init(&b);
        sy_buf_json_double(&b, v[i]);
        sy_buf_putc(&b, '\0');
        assert_string_equal(b.data, want);
        sy_buf_free(&b);
    }
}

/* A batch tier's result names its batch, the same in both formats; other
 * results have no batch_id key at all. */
static void test_result_batch_id(void **state)
{
    (void)state;
    for (int with = 0; with <= 1; with++) {
        sy_result r = sample_result(true);
        r.batch_id = with ? "batch_6a1f\"x" : NULL;
        json_t *a = both_formats(&r);
        if (with) assert_string_equal(json_string_value(json_object_get(a, "batch_id")), "batch_6a1f\"x");
        else assert_null(json_object_get(a, "batch_id"));
        assert_string_equal(json_string_value(json_object_get(a, "schema")), "switchyard.result/1");
        json_decref(a);
    }
}

static void test_invalid_output_json_is_omitted(void **state)
{
    (void)state;
    sy_result r = sample_result(true);
    r.output_json = "not { json";
    sy_buf js;
    sy_buf_init(&js);
    sy_result_encode(&r, SY_FORMAT_JSON, &js);
    json_t *a = parse(&js);
    assert_null(json_object_get(a, "output_json"));
    json_decref(a);
    sy_buf_free(&js);
}

/* A label set's answer is a JSON string: output_json carries it in both
 * formats, as a value. */
static void test_output_json_scalar(void **state)
{
    (void)state;
    sy_result r = sample_result(true);
    r.output_json = "\"billing\"";
    json_t *a = both_formats(&r);
    assert_string_equal(json_string_value(json_object_get(a, "output_json")), "billing");
    json_decref(a);
}

static void test_restamp_for_a_resubmission(void **state)
{
    (void)state;
    sy_result r = sample_result(true);
    sy_buf mp, out;
    sy_buf_init(&mp);
    sy_buf_init(&out);
    sy_result_encode(&r, SY_FORMAT_MSGPACK, &mp);
    assert_int_equal(sy_result_restamp(mp.data, mp.len, "j-2", true, SY_FORMAT_JSON, &out), 0);
    json_t *a = parse(&out);
    assert_string_equal(json_string_value(json_object_get(a, "job_id")), "j-2");
    assert_true(json_is_true(json_object_get(a, "deduplicated")));
    assert_string_equal(json_string_value(json_object_get(a, "model")), "gpt-4o-mini");
    json_decref(a);
    assert_int_equal(sy_result_restamp("\x01", 1, "x", true, SY_FORMAT_JSON, &out), -1);
    /* Whose answer a stored result is (an older store's bare key). */
    assert_true(sy_result_task_is(mp.data, mp.len, r.task));
    assert_false(sy_result_task_is(mp.data, mp.len, "summarize"));
    assert_false(sy_result_task_is(mp.data, mp.len - 1, r.task));
    assert_false(sy_result_task_is("\x01", 1, r.task));
    sy_buf_free(&mp);
    sy_buf_free(&out);
}

static void test_msgpack_to_json_edge_cases(void **state)
{
    (void)state;
    /* {1: -2, "f": 0.5, "b": bin "a\"", "n": nil, "a": [true]} */
    const unsigned char mp[] = {0x85, 0x01, 0xfe, 0xa1, 'f', 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0,
                                0xa1, 'b', 0xc4, 0x02, 'a', '"', 0xa1, 'n', 0xc0, 0xa1, 'a', 0x91, 0xc3};
    sy_buf out;
    sy_buf_init(&out);
    assert_int_equal(sy_msgpack_to_json(mp, sizeof mp, &out), 0);
    assert_string_equal(sy_buf_cstr(&out), "{\"1\":-2,\"f\":0.5,\"b\":\"a\\\"\",\"n\":null,\"a\":[true]}");
    sy_buf_reset(&out);
    assert_int_equal(sy_msgpack_to_json(mp, sizeof mp - 1, &out), -1); /* truncated */
    assert_int_equal(out.len, 0);
    /* {{1: 2}: 3} prints its key once; 24 levels of maps used as keys print
     * in a few bytes, not 2^24 (each quoting level doubled the escapes) */
    const unsigned char mk[] = {0x81, 0x81, 0x01, 0x02, 0x03};
    sy_buf_reset(&out);
    assert_int_equal(sy_msgpack_to_json(mk, sizeof mk, &out), 0);
    assert_string_equal(sy_buf_cstr(&out), "{\"{\\\"1\\\":2}\":3}");
    unsigned char deep[49]; /* {{{...{1: 3}...: 3}: 3}, 24 maps as keys */
    memset(deep, 0x81, 24);
    deep[24] = 0x01;
    memset(deep + 25, 0x03, 24);
    sy_buf_reset(&out);
    assert_int_equal(sy_msgpack_to_json(deep, sizeof deep, &out), 0);
    assert_true(out.len < 200);
    sy_buf_free(&out);
}

static void test_templates(void **state)
{
    (void)state;
    sy_kv vars[] = {{"subject", "Refund"}, {"body", "charged twice – €20"}};
    sy_job job = {.id = "j", .task = "t", .vars = vars, .nvars = 2};
    sy_template t;
    char err[128];
    size_t off = 0;
    sy_buf out;
    sy_buf_init(&out);
    assert_int_equal(sy_template_compile(&t, "S: {{subject}}\n{{ body }} {x} }", err, sizeof err, &off), 0);
    assert_int_equal(sy_template_render(&t, &job, &out, err, sizeof err), 0);
    assert_string_equal(sy_buf_cstr(&out), "S: Refund\ncharged twice – €20 {x} }");
    sy_template_free(&t);
    assert_int_equal(sy_template_compile(&t, "Hi {{name}}", err, sizeof err, &off), 0);
    assert_int_equal(sy_template_render(&t, &job, &out, err, sizeof err), -1);
    assert_string_equal(err, "template variable 'name' is not set in the job");
    sy_template_free(&t);
    /* a template naming a 1 MB variable nine times: over the 8 MB cap, an
     * error and nothing appended; seven times is fine */
    char *big = malloc((1u << 20) + 1);
    memset(big, 'x', 1u << 20);
    big[1u << 20] = '\0';
    sy_kv bigvar[] = {{"v", big}};
    sy_job bigjob = {.id = "j", .task = "t", .vars = bigvar, .nvars = 1};
    sy_buf_reset(&out);
    assert_int_equal(sy_template_compile(&t, "{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}", err, sizeof err, &off), 0);
    assert_int_equal(sy_template_render(&t, &bigjob, &out, err, sizeof err), -1);
    assert_string_equal(err, "the rendered prompt is larger than 8388608 bytes");
    assert_int_equal(out.len, 0);
    sy_template_free(&t);
    assert_int_equal(sy_template_compile(&t, "{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}{{v}}", err, sizeof err, &off), 0);
    assert_int_equal(sy_template_render(&t, &bigjob, &out, err, sizeof err), 0);
    assert_int_equal(out.len, 7u << 20);
    sy_template_free(&t);
    free(big);
    assert_int_equal(sy_template_compile(&t, "abc {{ oops", err, sizeof err, &off), -1);
    assert_int_equal(off, 4);
    assert_string_equal(err, "unclosed '{{'");
    assert_int_equal(sy_template_compile(&t, "{{ }}", err, sizeof err, &off), -1);
    assert_string_equal(err, "empty variable name in '{{ }}'");
    sy_buf_free(&out);
}

static void test_error_class_names(void **state)
{
    (void)state;
    assert_string_equal(sy_err_class_name(SY_ERR_RATE_LIMITED), "rate_limited");
    assert_string_equal(sy_err_class_name(SY_ERR_CONTEXT_WINDOW), "context_window_exceeded");
    assert_true(sy_err_retryable(SY_ERR_OVERLOADED));
    assert_false(sy_err_retryable(SY_ERR_BAD_REQUEST));
    assert_false(sy_err_retryable(SY_ERR_QUOTA));
    for (int c = 0; c < SY_ERR_COUNT; c++) assert_non_null(sy_err_class_name((sy_err_class)c));
}

static void test_progress_mark(void **state)
{
    (void)state;
    sy_progress p = {.done = 41, .nnotes = 3}, q;
    p.notes[0] = (sy_progress_note){.partition = 0, .offset = 7};
    p.notes[1] = (sy_progress_note){.partition = 5, .offset = INT64_MAX};
    p.notes[2] = (sy_progress_note){.partition = 0, .offset = 3}; /* noted twice: the lower counts */
    unsigned char b[SY_PROGRESS_MAX_BYTES];
    size_t n = sy_progress_encode(p.done, p.notes, p.nnotes, b);
    assert_int_equal(n, 9 + 3 * 12);
    assert_int_equal(sy_progress_decode(b, n, &q), 0);
    assert_int_equal(q.done, 41);
    assert_int_equal(q.nnotes, 3);
    assert_int_equal(q.notes[1].partition, 5);
    assert_true(q.notes[1].offset == INT64_MAX);
    assert_int_equal(sy_progress_scan_from(q.notes, q.nnotes, 0), 4);
    assert_true(sy_progress_scan_from(q.notes, q.nnotes, 5) == INT64_MAX);
    assert_int_equal(sy_progress_scan_from(q.notes, q.nnotes, 9), 0); /* not noted: from the start */
    /* a done below -1 is written as none known */
    n = sy_progress_encode(-5, NULL, 0, b);
    assert_int_equal(sy_progress_decode(b, n, &q), 0);
    assert_int_equal(q.done, -1);
    /* none known, no notes */
    p = (sy_progress){.done = -1};
    n = sy_progress_encode(p.done, p.notes, p.nnotes, b);
    assert_int_equal(sy_progress_decode(b, n, &q), 0);
    assert_int_equal(q.done, -1);
    assert_int_equal(q.nnotes, 0);
    /* more notes than a mark holds: the first SY_PROGRESS_NOTES_MAX */
    p.nnotes = SY_PROGRESS_NOTES_MAX + 5;
    for (uint32_t i = 0; i < SY_PROGRESS_NOTES_MAX; i++) p.notes[i] = (sy_progress_note){.partition = (int32_t)i, .offset = i};
    n = sy_progress_encode(p.done, p.notes, p.nnotes, b);
    assert_int_equal(n, SY_PROGRESS_MAX_BYTES);
    assert_int_equal(sy_progress_decode(b, n, &q), 0);
    assert_int_equal(q.nnotes, SY_PROGRESS_NOTES_MAX);
    /* refused: short, ragged, too many notes, another version, bad values */
    unsigned char big[SY_PROGRESS_MAX_BYTES + 12];
    memset(big, 0, sizeof big);
    big[0] = 1;
    assert_int_equal(sy_progress_decode(big, sizeof big, &q), -1);
    assert_int_equal(sy_progress_decode(NULL, 0, &q), -1);
    p = (sy_progress){.done = 1, .nnotes = 1};
    n = sy_progress_encode(p.done, p.notes, p.nnotes, b);
    assert_int_equal(sy_progress_decode(b, 8, &q), -1);
    assert_int_equal(sy_progress_decode(b, n - 1, &q), -1);
    b[0] = 2;
    assert_int_equal(sy_progress_decode(b, n, &q), -1);
    b[0] = 1;
    b[9] = 0x80; /* partition < 0 */
    assert_int_equal(sy_progress_decode(b, n, &q), -1);
    b[9] = 0;
    b[13] = 0x80; /* offset < 0 */
    assert_int_equal(sy_progress_decode(b, n, &q), -1);
    b[13] = 0;
    memset(b + 1, 0xff, 8); /* done -1 is "none known" */
    assert_int_equal(sy_progress_decode(b, n, &q), 0);
    b[8] = 0xfe; /* done -2 */
    assert_int_equal(sy_progress_decode(b, n, &q), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_job_and_msgpack_round_trip),
        cmocka_unit_test(test_job_errors),
        cmocka_unit_test(test_hostile_inputs_do_not_crash),
        cmocka_unit_test(test_result_formats_carry_the_same_map),
        cmocka_unit_test(test_msgpack_string_headers),
        cmocka_unit_test(test_json_doubles),
        cmocka_unit_test(test_result_batch_id),
        cmocka_unit_test(test_invalid_output_json_is_omitted),
        cmocka_unit_test(test_output_json_scalar),
        cmocka_unit_test(test_restamp_for_a_resubmission),
        cmocka_unit_test(test_msgpack_to_json_edge_cases),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_error_class_names),
        cmocka_unit_test(test_progress_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
