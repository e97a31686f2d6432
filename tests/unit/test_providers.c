/* test_providers.c -- the provider modules (OpenAI, openai-compatible,
 * Anthropic; Azure and the task parameters in test_adapters.c): the list of kinds against the JSON schema, each module's
 * table, request bodies and headers (options included), success parsing,
 * status -> error class, error body shapes, retry-after, rate-limit
 * headers, key redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider.h"
#include "scrub.h"

extern const sy_provider_kind sy_openai, sy_anthropic, sy_openai_compatible;

static sy_provider openai = {.name = "openai", .kind = &sy_openai,
                             .base_url = "https://api.openai.com/v1", .api_key = "sk-test-SECRET"};
static sy_provider anthropic = {.name = "anthropic", .kind = &sy_anthropic,
                                .base_url = "https://api.anthropic.com/v1", .api_key = "ant-SECRET"};
static sy_provider local = {.name = "vllm", .kind = &sy_openai_compatible,
                            .base_url = "http://127.0.0.1:8000/v1"};

static bool has_header(const sy_request *r, const char *line)
{
    const char *p = r->headers.data;
    for (int i = 0; i < r->nheaders; i++, p += strlen(p) + 1)
        if (!strcmp(p, line)) return true;
    return false;
}

static json_t *build(const sy_provider *p, const char *system, bool want_json, double temp,
                     sy_request *req)
{
    static sy_msg user = {"user", "Classify: \"printer\" jams"};
    sy_model m = {.alias = "m", .provider = (sy_provider *)p, .name = "model-x"};
    sy_call call = {.model = &m, .system = system, .messages = &user, .nmessages = 1,
                    .max_tokens = 50, .temperature = temp, .want_json = want_json};
    sy_request_init(req);
    sy_provider_build(&call, req);
    json_t *body = json_loadb(req->body.data, req->body.len, 0, NULL);
    assert_non_null(body);
    return body;
}

/* A batch tier's job is built body only (its body goes into the batch's
 * input file): the same body, no header lines (no key copied), and the
 * request reset for its next use builds whole again. */
static void test_body_only_request(void **state)
{
    (void)state;
    const sy_provider *ps[] = {&openai, &anthropic, &local};
    for (size_t i = 0; i < 3; i++) {
        static sy_msg user = {"user", "Classify: printer"};
        sy_model m = {.alias = "m", .provider = (sy_provider *)ps[i], .name = "model-x"};
        sy_call call = {.model = &m, .messages = &user, .nmessages = 1, .max_tokens = 9, .temperature = 0};
        sy_request whole, only;
        sy_request_init(&whole);
        sy_request_init(&only);
        sy_provider_build(&call, &whole);
        sy_request_add_job_header(&whole, "k 1");
        only.body_only = true;
        sy_provider_build(&call, &only);
        sy_request_add_job_header(&only, "k 1");
        assert_true(whole.nheaders > 0);
        assert_int_equal(only.nheaders, 0);
        assert_int_equal(only.headers.len, 0);
        assert_int_equal(only.body.len, whole.body.len);
        assert_memory_equal(only.body.data, whole.body.data, whole.body.len);
        sy_request_reset(&only);
        assert_false(only.body_only);
        sy_provider_build(&call, &only);
        assert_true(only.nheaders > 0);
        sy_request_free(&whole);
        sy_request_free(&only);
    }
}

static void test_openai_request(void **state)
{
    (void)state;
    sy_request req;
    json_t *b = build(&openai, "Answer in JSON.", true, 0.2, &req);
    assert_string_equal(sy_buf_cstr(&req.url), "https://api.openai.com/v1/chat/completions");
    assert_true(has_header(&req, "Authorization: Bearer sk-test-SECRET"));
    assert_string_equal(json_string_value(json_object_get(b, "model")), "model-x");
    json_t *msgs = json_object_get(b, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Classify: \"printer\" jams");
    assert_int_equal(json_integer_value(json_object_get(b, "max_completion_tokens")), 50);
    assert_null(json_object_get(b, "max_tokens"));
    assert_true(json_number_value(json_object_get(b, "temperature")) == 0.2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "response_format"), "type")), "json_object");
    json_decref(b);
    sy_request_free(&req);

    b = build(&local, NULL, false, 0, &req); /* openai-compatible, no key */
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 50);
    assert_null(json_object_get(b, "response_format"));
    assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
    for (const char *p = req.headers.data; p < req.headers.data + req.headers.len; p += strlen(p) + 1)
        assert_null(strstr(p, "Authorization"));
    json_decref(b);
    sy_request_free(&req);
}

static void test_anthropic_request(void **state)
{
    (void)state;
    sy_request req;
    json_t *b = build(&anthropic, "Be brief.", true, 1.7, &req);
    assert_string_equal(sy_buf_cstr(&req.url), "https://api.anthropic.com/v1/messages");
    assert_true(has_header(&req, "x-api-key: ant-SECRET"));
    assert_true(has_header(&req, "anthropic-version: 2023-06-01"));
    assert_string_equal(json_string_value(json_object_get(b, "system")), "Be brief.");
    assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 50);
    assert_true(json_number_value(json_object_get(b, "temperature")) == 1.0); /* clamped */
    json_decref(b);
    sy_request_free(&req);
}

/* Options go into the requests of their kind. */
static void test_options_in_requests(void **state)
{
    (void)state;
    sy_kind_option anth_version = {.key = "api_version", .type = SY_OPTION_TOKEN};
    sy_option_value v = {.spec = &anth_version, .text = "2024-10-22"};
    sy_provider a = anthropic;
    a.options = &v;
    a.noptions = 1;
    sy_request req;
    json_t *b = build(&a, NULL, false, 0, &req);
    assert_true(has_header(&req, "anthropic-version: 2024-10-22"));
    assert_false(has_header(&req, "anthropic-version: 2023-06-01"));
    assert_true(has_header(&req, "x-api-key: ant-SECRET"));
    json_decref(b);
    sy_request_free(&req);

    sy_kind_option org = {.key = "organization"}, project = {.key = "project"};
    sy_option_value ov[] = {{.spec = &org, .text = "org-1"}, {.spec = &project, .text = "proj_2"}};
    sy_provider o = openai;
    o.options = ov;
    o.noptions = 2;
    b = build(&o, NULL, false, 0, &req);
    assert_true(has_header(&req, "OpenAI-Organization: org-1"));
    assert_true(has_header(&req, "OpenAI-Project: proj_2"));
    assert_true(has_header(&req, "Authorization: Bearer sk-test-SECRET"));
    json_decref(b);
    sy_request_free(&req);
    b = build(&openai, NULL, false, 0, &req); /* none given: no such header */
    for (const char *h = req.headers.data; h < req.headers.data + req.headers.len; h += strlen(h) + 1)
        assert_null(strstr(h, "OpenAI-"));
    json_decref(b);
    sy_request_free(&req);
}

/* ---- the list of kinds ---- */

static size_t count_options(const sy_provider_kind *k)
{
    size_t n = 0;
    while (k->options && k->options[n].key) n++;
    return n;
}

static bool in_array(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* The allOf entry of the provider schema whose `if` names kind, or NULL. */
static json_t *schema_kind_rule(json_t *provider, const char *kind)
{
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(provider, "allOf"), i, rule) {
        json_t *c = json_object_get(json_object_get(json_object_get(json_object_get(rule, "if"),
                                    "properties"), "kind"), "const");
        if (json_is_string(c) && !strcmp(json_string_value(c), kind)) return rule;
    }
    return NULL;
}

/* schemas/pipeline.schema.json follows sy_provider_kinds: the enum of
 * kinds in the list's order, and per kind what it requires (api_key_env
 * when a key is required, base_url when there is no default) and exactly
 * the options it accepts. A kind added to the list without its schema,
 * or a schema kind without a module, fails here. */
static void test_schema_follows_kinds(void **state)
{
    (void)state;
    json_error_t err;
    json_t *schema = json_load_file("schemas/pipeline.schema.json", 0, &err);
    if (!schema) fail_msg("schemas/pipeline.schema.json: %s (line %d)", err.text, err.line);
    json_t *defs = json_object_get(schema, "$defs");
    json_t *provider = json_object_get(defs, "provider");
    json_t *kinds = json_object_get(json_object_get(json_object_get(provider, "properties"), "kind"), "enum");
    assert_true(json_is_array(kinds));
    size_t n = 0;
    for (; sy_provider_kinds[n]; n++) {
        const sy_provider_kind *k = sy_provider_kinds[n];
        const char *in_schema = json_string_value(json_array_get(kinds, n));
        if (!in_schema || strcmp(in_schema, k->name))
            fail_msg("kind %zu is '%s' in kinds.c but '%s' in the schema's enum", n, k->name,
                     in_schema ? in_schema : "(none)");
        json_t *rule = schema_kind_rule(provider, k->name);
        if (!rule) fail_msg("the schema has no allOf rule for kind '%s'", k->name);
        json_t *then = json_object_get(rule, "then");
        json_t *required = json_object_get(then, "required");
        if (in_array(required, "api_key_env") != k->key_required)
            fail_msg("kind '%s': api_key_env %s in the schema", k->name,
                     k->key_required ? "not required" : "required");
        if (in_array(required, "base_url") != !k->default_base_url)
            fail_msg("kind '%s': base_url %s in the schema", k->name,
                     k->default_base_url ? "required" : "not required");
        const char *ref = json_string_value(json_object_get(json_object_get(json_object_get(then,
                                            "properties"), "options"), "$ref"));
        if (!ref || strncmp(ref, "#/$defs/", 8))
            fail_msg("kind '%s': its rule has no options $ref into $defs", k->name);
        json_t *opts = json_object_get(defs, ref + 8);
        if (!json_is_false(json_object_get(opts, "additionalProperties")))
            fail_msg("kind '%s': %s does not forbid other keys", k->name, ref);
        json_t *props = json_object_get(opts, "properties");
        size_t nopt = count_options(k);
        if (json_object_size(props) != nopt)
            fail_msg("kind '%s': %zu options in the module, %zu in %s", k->name, nopt,
                     json_object_size(props), ref);
        for (size_t i = 0; i < nopt; i++) {
            json_t *o = json_object_get(props, k->options[i].key);
            if (!o) fail_msg("kind '%s': option '%s' is not in %s", k->name, k->options[i].key, ref);
            sy_option_type t = k->options[i].type;
            const char *want = t == SY_OPTION_INT ? "integer" : t == SY_OPTION_PARAM_LIST ? "#/$defs/dropParams"
                             : t == SY_OPTION_PARAM_MAP ? "#/$defs/renameParams" : "#/$defs/optionToken";
            const char *got = json_string_value(json_object_get(o, k->options[i].type == SY_OPTION_INT
                                                                    ? "type" : "$ref"));
            if (!got || strcmp(got, want))
                fail_msg("kind '%s': option '%s' is not %s in the schema", k->name, k->options[i].key, want);
        }
    }
    assert_int_equal(json_array_size(kinds), n);
    assert_int_equal(json_array_size(json_object_get(provider, "allOf")), n);
    json_decref(schema);
}

/* Every kind of the list is a whole module, and its name finds it. */
static void test_kind_tables(void **state)
{
    (void)state;
    size_t n = 0;
    for (; sy_provider_kinds[n]; n++) {
        const sy_provider_kind *k = sy_provider_kinds[n];
        const sy_provider_ops *ops = k->ops;
        assert_non_null(ops);
        assert_non_null(ops->auth_name);
        assert_non_null(ops->auth_prefix);
        assert_non_null(ops->build);
        assert_non_null(ops->limits);
        assert_non_null(ops->read_answer);
        assert_non_null(ops->classify);
        assert_true(count_options(k) < SY_MAX_KIND_OPTIONS);
        assert_true(!k->default_base_url || !strncmp(k->default_base_url, "https://", 8));
        assert_ptr_equal(sy_provider_kind_named(k->name), k);
        for (size_t j = 0; j < n; j++) assert_string_not_equal(sy_provider_kinds[j]->name, k->name);
    }
    assert_true(n >= 1 && n <= SY_MAX_KINDS);
    assert_null(sy_provider_kind_named("gemini"));
}

static sy_outcome parse(const sy_provider *p, int status, const char *headers, const char *body)
{
    sy_outcome o;
    sy_provider_parse(p, status, headers, headers ? strlen(headers) : 0, body, body ? strlen(body) : 0, &o);
    return o;
}

static void test_success_parsing(void **state)
{
    (void)state;
    sy_outcome o = parse(&openai, 200, "HTTP/1.1 200 OK\r\n\r\n",
        "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
        "{\"role\":\"assistant\",\"content\":\"billing\",\"refusal\":null},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_string_equal(o.output, "billing");
    assert_int_equal(o.tokens_in, 12);
    assert_int_equal(o.tokens_out, 3);
    sy_outcome_free(&o);
    o = parse(&anthropic, 200, NULL,
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
        "\"text\":\"Hello \"},{\"type\":\"text\",\"text\":\"there\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":9,\"output_tokens\":2}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_string_equal(o.output, "Hello there");
    assert_int_equal(o.tokens_in, 9);
    sy_outcome_free(&o);
    o = parse(&openai, 200, NULL, "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"}}]}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    o = parse(&anthropic, 200, NULL, "{\"content\":[],\"stop_reason\":\"refusal\"}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    o = parse(&openai, 200, NULL, "{\"choices\":[]}");
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse(&openai, 200, NULL, "{\"choices\":[{\"message\":{\"content\":7}}]}");
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse(&anthropic, 200, NULL, "<html>");
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse(&anthropic, 200, NULL, "");
    assert_int_equal(o.error, SY_ERR_MALFORMED);
}

/* A batch line's body, checked whole by the matcher, read without being
 * checked again: the same outcome as the full parse, blanks and all; an
 * error status is read (and its key scrubbed) as ever. */
static void test_checked_parse(void **state)
{
    (void)state;
    static const struct { const sy_provider *p; int status; const char *body; } table[] = {
        {&openai, 200, " {\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n"},
        {&anthropic, 200, "{\"content\":[{\"type\":\"text\",\"text\":\"a\"}],\"stop_reason\":\"end_turn\","
                          "\"usage\":{\"input_tokens\":9,\"output_tokens\":2}}"},
        {&openai, 200, "{\"choices\":[]}"},
        {&openai, 200, "[1]"},
        {&openai, 200, " "},
        {&anthropic, 400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"ant-SECRET bad\"}}"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sy_outcome want = parse(table[i].p, table[i].status, "", table[i].body), got;
        sy_provider_parse_checked(table[i].p, table[i].status, table[i].body, strlen(table[i].body), &got);
        assert_int_equal(got.error, want.error);
        assert_int_equal(got.tokens_in, want.tokens_in);
        assert_int_equal(got.tokens_out, want.tokens_out);
        assert_string_equal(got.message, want.message);
        if (want.output) assert_string_equal(got.output, want.output);
        else assert_null(got.output);
        assert_null(strstr(got.message, "SECRET"));
        sy_outcome_free(&want);
        sy_outcome_free(&got);
    }
}

static void test_status_classes(void **state)
{
    (void)state;
    static const struct { int status; const char *body; sy_err_class want; } table[] = {
        {400, "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"}}", SY_ERR_BAD_REQUEST},
        {400, "{\"error\":{\"message\":\"too long\",\"code\":\"context_length_exceeded\"}}", SY_ERR_CONTEXT_WINDOW},
        {400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 300000 tokens\"}}", SY_ERR_CONTEXT_WINDOW},
        {401, "{\"error\":{\"message\":\"no\",\"code\":\"invalid_api_key\"}}", SY_ERR_AUTH},
        {402, "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"pay\"}}", SY_ERR_QUOTA},
        {403, "{}", SY_ERR_AUTH},
        {404, "{}", SY_ERR_NOT_FOUND},
        {408, "{}", SY_ERR_SERVER},
        {409, "{}", SY_ERR_SERVER},
        {413, "{}", SY_ERR_BAD_REQUEST},
        {422, "{}", SY_ERR_BAD_REQUEST},
        {429, "{\"error\":{\"message\":\"slow\",\"code\":\"rate_limit_exceeded\"}}", SY_ERR_RATE_LIMITED},
        {429, "{\"error\":{\"message\":\"quota\",\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}", SY_ERR_QUOTA},
        {500, "{}", SY_ERR_SERVER},
        {502, "not json", SY_ERR_SERVER},
        {503, "{\"object\":\"error\",\"message\":\"busy\",\"type\":\"x\",\"code\":503}", SY_ERR_OVERLOADED},
        {504, "{}", SY_ERR_SERVER},
        {529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", SY_ERR_OVERLOADED},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sy_outcome o = parse(&openai, table[i].status, NULL, table[i].body);
        if (o.error != table[i].want)
            fail_msg("HTTP %d %s: got %s", table[i].status, table[i].body, sy_err_class_name(o.error));
        assert_int_equal(o.http_status, table[i].status);
    }
    sy_outcome o = parse(&openai, 503, NULL, "{\"object\":\"error\",\"message\":\"busy\",\"type\":\"x\",\"code\":503}");
    assert_non_null(strstr(o.message, "HTTP 503 503: busy")); /* flat shape, integer code */
    o = parse(&openai, 502, NULL, "<html>bad gateway</html>");
    assert_int_equal(o.error, SY_ERR_SERVER);
    assert_non_null(strstr(o.message, "(no JSON error body)"));
    o = parse(&anthropic, 400, NULL, "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"a \\\"quoted\\\" word\"}}");
    assert_non_null(strstr(o.message, "HTTP 400 invalid_request_error: a \"quoted\" word"));
}

static void test_key_redaction(void **state)
{
    (void)state;
    sy_outcome o = parse(&openai, 401, NULL,
        "{\"error\":{\"message\":\"Incorrect API key provided: sk-proj-ABCDEF1234567890abcdef. "
        "You can find your API key at https://platform.openai.com\",\"code\":\"invalid_api_key\"}}");
    assert_null(strstr(o.message, "ABCDEF1234567890"));
    assert_non_null(strstr(o.message, "[redacted]"));
    assert_non_null(strstr(o.message, "HTTP 401 invalid_api_key"));
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* An answer is read in one walk: 200,000 content blocks (which took 44 s
 * when each block was found by walking the array from its start) and
 * 100,000 nested brackets read within a bound generous for ASan and a
 * loaded machine, the blocks' text all there. */
static void test_large_and_deep_answers(void **state)
{
    (void)state;
    enum { BLOCKS = 200000 };
    sy_buf b;
    sy_buf_init(&b);
    sy_buf_puts(&b, "{\"type\":\"message\",\"content\":[");
    for (int i = 0; i < BLOCKS; i++) sy_buf_puts(&b, i ? ",{\"type\":\"text\",\"text\":\"ab\"}" : "{\"type\":\"text\",\"text\":\"ab\"}");
    sy_buf_puts(&b, "],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sy_outcome o = parse(&anthropic, 200, NULL, sy_buf_cstr(&b));
    double secs = seconds_since(&t0);
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_int_equal(strlen(o.output), 2 * BLOCKS);
    assert_int_equal(o.tokens_out, 2);
    sy_outcome_free(&o);
    if (secs > 2.0) fail_msg("200,000 content blocks took %.2f s", secs);

    enum { DEEP = 100000 };
    sy_buf_reset(&b);
    sy_buf_puts(&b, "{\"content\":");
    for (int i = 0; i < DEEP; i++) sy_buf_putc(&b, '[');
    for (int i = 0; i < DEEP; i++) sy_buf_putc(&b, ']');
    sy_buf_putc(&b, '}');
    clock_gettime(CLOCK_MONOTONIC, &t0);
    o = parse(&anthropic, 200, NULL, sy_buf_cstr(&b));
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse(&openai, 400, NULL, sy_buf_cstr(&b) + strlen("{\"content\":")); /* an error body too */
    assert_int_equal(o.error, SY_ERR_BAD_REQUEST);
    secs = seconds_since(&t0);
    if (secs > 2.0) fail_msg("100,000 nested brackets took %.2f s", secs);
    sy_buf_free(&b);
}

/* Does text still hold 8 bytes in a row of key, or its first 6 or last 4
 * next to a mask? */
static bool shows_key(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + 8 <= k; i++) {
        char w[9];
        memcpy(w, key + i, 8);
        w[8] = '\0';
        if (strstr(text, w)) return true;
    }
    char masked[32];
    snprintf(masked, sizeof masked, "%.6s***", key);
    if (strstr(text, masked)) return true;
    snprintf(masked, sizeof masked, "***%s", key + k - 4);
    return strstr(text, masked) != NULL;
}

/* The provider's own key, of any shape, whole or in pieces, leaves no
 * trace in what the adapter returns; ordinary text is left alone. */
static void test_key_scrubbing(void **state)
{
    (void)state;
    const char *keys[] = {
        "sk-proj-Zq3xT9vLmN4pR7sK2wY8bC1dF6gH0jA5",
        "4f9c2a7e1b3d5f8a0c6e9b2d4f7a1c3e5b8d0f2a",   /* 40 hex */
        "c0ffee1234567890abcdef0123456789",           /* Azure-like, 32 hex */
        "AbC+dEf/GhIjK=lMnOpQrStUvWxYz012345+/9==",   /* base64 alphabet */
        "sk-ant-api03-Xy_9-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz_xCvBnM-AA",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *key = keys[i];
        size_t k = strlen(key);
        char text[1024];
        snprintf(text, sizeof text,
                 "Incorrect API key provided: %s. Authorization: Bearer %s; x-api-key: %s; "
                 "api-key=%s. Masked: %.6s***%s, %.8s...%s and ****%s. Middle: %.12s. "
                 "The weather is fine.", key, key, key, key, key, key + k - 4, key, key + k - 4,
                 key + k - 4, key + 10);
        size_t n;
        char *clean = sy_scrub_key(text, strlen(text), key, &n);
        assert_non_null(clean);
        assert_int_equal(strlen(clean), n);
        if (shows_key(clean, key)) fail_msg("key %zu shows in: %s", i, clean);
        assert_non_null(strstr(clean, "[redacted]"));
        assert_non_null(strstr(clean, "The weather is fine."));
        assert_non_null(strstr(clean, "Incorrect API key provided: "));
        free(clean);
        char small[64];
        snprintf(small, sizeof small, "key: %s!", key);
        sy_scrub_key_in(small, sizeof small, key);
        if (shows_key(small, key)) fail_msg("key %zu shows in: %s", i, small);
    }
    const char *plain = "{\"label\":\"billing\",\"echo\":\"printer jams since Monday\"}";
    assert_null(sy_scrub_key(plain, strlen(plain), keys[0], &(size_t){0}));
    assert_null(sy_scrub_key(plain, strlen(plain), NULL, &(size_t){0}));

    /* Through the adapters: a 401 body echoing the key after 300 bytes of
     * text (past the message's cut), escaped, and an answer echoing it. */
    static char key[] = "0123456789abcdef0123456789abcdef01234567";
    sy_provider p = {.name = "compat", .kind = &sy_openai_compatible,
                     .base_url = "http://127.0.0.1:1/v1", .api_key = key};
    char body[1024];
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"%0300d key %s or \\u0030123456789abcdef0 (%.6s***%s)\","
             "\"code\":\"invalid_api_key\"}}", 0, key, key, key + 36);
    sy_outcome o = parse(&p, 401, NULL, body);
    assert_int_equal(o.error, SY_ERR_AUTH);
    if (shows_key(o.message, key)) fail_msg("key shows in: %s", o.message);
    snprintf(body, sizeof body, "{\"choices\":[{\"message\":{\"content\":\"your key is %s, i.e. %.6s***%s\"}}]}",
             key, key, key + 36);
    o = parse(&p, 200, NULL, body);
    assert_int_equal(o.error, SY_ERR_NONE);
    if (shows_key(o.output, key)) fail_msg("key shows in: %s", o.output);
    assert_non_null(strstr(o.output, "your key is [redacted]"));
    sy_outcome_free(&o);
    sy_provider a = anthropic;
    snprintf(body, sizeof body, "{\"content\":[{\"type\":\"text\",\"text\":\"x-api-key: %s\"}]}", a.api_key);
    o = parse(&a, 200, NULL, body);
    assert_null(strstr(o.output, a.api_key));
    sy_outcome_free(&o);
}

static void test_retry_and_limit_headers(void **state)
{
    (void)state;
    const char *h = "HTTP/1.1 100 Continue\r\n\r\n"
                    "HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Limit-Requests: 400\r\n"
                    "retry-after-ms: 1500.5\r\nRetry-After: 9\r\n"
                    "x-should-retry: false\r\nx-ratelimit-limit-requests: 500\r\n"
                    "x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 1m2.5s\r\n"
                    "x-ratelimit-limit-tokens: 200000\r\nx-ratelimit-remaining-tokens: 1234\r\n"
                    "x-ratelimit-reset-tokens: 12ms\r\n\r\n";
    sy_outcome o = parse(&openai, 429, h, "{}");
    assert_int_equal(o.retry_after_ms, 1500);
    assert_int_equal(o.should_retry, 0);
    assert_int_equal(o.rl.limit_requests, 500);
    assert_int_equal(o.rl.remaining_requests, 0);
    assert_int_equal(o.rl.reset_requests_ms, 62500);
    assert_int_equal(o.rl.remaining_tokens, 1234);
    assert_int_equal(o.rl.reset_tokens_ms, 12);
    o = parse(&openai, 200, "HTTP/1.1 200 OK\r\n\r\n", "{}");
    assert_int_equal(o.retry_after_ms, -1);
    assert_int_equal(o.should_retry, -1);
    assert_int_equal(o.rl.limit_requests, -1);
    o = parse(&anthropic, 429, "retry-after: 3\r\nanthropic-ratelimit-requests-limit: 50\r\n"
              "anthropic-ratelimit-requests-remaining: 7\r\n"
              "anthropic-ratelimit-requests-reset: 2099-01-01T00:00:00Z\r\n", "{}");
    assert_int_equal(o.retry_after_ms, 3000);
    assert_int_equal(o.rl.limit_requests, 50);
    assert_int_equal(o.rl.remaining_requests, 7);
    assert_true(o.rl.reset_requests_ms > 0);
    assert_int_equal(sy_parse_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412470000LL), 10000);
    assert_int_equal(sy_parse_retry_after_ms(NULL, "garbage", 0), -1);
}

static void test_go_durations(void **state)
{
    (void)state;
    assert_int_equal(sy_parse_go_duration_ms("1s"), 1000);
    assert_int_equal(sy_parse_go_duration_ms("6m0s"), 360000);
    assert_int_equal(sy_parse_go_duration_ms("12ms"), 12);
    assert_int_equal(sy_parse_go_duration_ms("1h2m3.5s"), 3723500);
    assert_int_equal(sy_parse_go_duration_ms("0s"), 0);
    assert_int_equal(sy_parse_go_duration_ms("5"), -1);
    assert_int_equal(sy_parse_go_duration_ms(""), -1);
    assert_int_equal(sy_parse_go_duration_ms("1x"), -1);
    assert_int_equal(sy_parse_rfc3339_ms("2025-08-21T12:40:59Z"), 1755780059000LL);
    assert_int_equal(sy_parse_rfc3339_ms("2025-08-21T14:40:59.25+02:00"), 1755780059250LL);
    assert_int_equal(sy_parse_rfc3339_ms("2025-08-21 12:40"), -1);
}

/* Provider-supplied waits: bounded, and nothing undefined on the way. */
static void test_hostile_retry_after(void **state)
{
    (void)state;
    const int64_t max = SY_PROVIDER_MAX_WAIT_MS;
    static const char *const huge[] = {"1e12", "1e300", "inf", "INF", "infinity", "1e400",
                                       "99999999999999999999", "18446744073709551616000"};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        assert_int_equal(sy_parse_retry_after_ms(NULL, huge[i], 0), max);
        assert_int_equal(sy_parse_retry_after_ms(huge[i], NULL, 0), max);
    }
    static const char *const bad[] = {"nan", "NaN", "-nan", "-1", "-1e300", "-inf", "1s", "", "0x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sy_parse_retry_after_ms(NULL, bad[i], 0), -1);
        assert_int_equal(sy_parse_retry_after_ms(bad[i], NULL, 0), -1);
        assert_int_equal(sy_parse_retry_after_ms(bad[i], "2", 0), 2000); /* the other one counts */
    }
    assert_int_equal(sy_parse_retry_after_ms(NULL, "0", 0), 0);
    assert_int_equal(sy_parse_retry_after_ms("250", NULL, 0), 250);
    assert_int_equal(sy_parse_retry_after_ms(NULL, "Fri, 31 Dec 9999 23:59:59 GMT", 0), max);
    /* through a response, with rate-limit headers of every absurd kind */
    sy_outcome o = parse(&openai, 429, "retry-after: 1e12\r\n"
                         "x-ratelimit-limit-requests: 99999999999999999999999\r\n"
                         "x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 99999999h\r\n"
                         "x-ratelimit-limit-tokens: -5\r\nx-ratelimit-remaining-tokens: 1e9\r\n"
                         "x-ratelimit-reset-tokens: 1e300h\r\n", "{}");
    assert_int_equal(o.retry_after_ms, max);
    assert_int_equal(o.rl.limit_requests, SY_PROVIDER_MAX_COUNT);
    assert_int_equal(o.rl.remaining_requests, 0);
    assert_int_equal(o.rl.reset_requests_ms, max);
    assert_int_equal(o.rl.limit_tokens, -1);
    assert_int_equal(o.rl.remaining_tokens, -1);
    assert_int_equal(o.rl.reset_tokens_ms, -1);
    o = parse(&anthropic, 429, "retry-after: -3\r\nanthropic-ratelimit-requests-remaining: 0\r\n"
              "anthropic-ratelimit-requests-reset: 9999-12-31T23:59:59Z\r\n"
              "anthropic-ratelimit-tokens-reset: 2025-08-21T12:40:59.000000000000000000000000000000000000000+1:2\r\n",
              "{}");
    assert_int_equal(o.retry_after_ms, -1);
    assert_int_equal(o.rl.reset_requests_ms, max);
    assert_int_equal(o.rl.reset_tokens_ms, -1);
}

static void test_hostile_go_durations(void **state)
{
    (void)state;
    const int64_t max = SY_PROVIDER_MAX_WAIT_MS;
    assert_int_equal(sy_parse_go_duration_ms("99999999h"), max);
    assert_int_equal(sy_parse_go_duration_ms("25h"), max);
    assert_int_equal(sy_parse_go_duration_ms("23h59m59.5s"), max - 500);
    assert_int_equal(sy_parse_go_duration_ms("999999999999999999999999999999999999999999999999999999999999s"), max);
    assert_int_equal(sy_parse_go_duration_ms(".5s"), 500);
    assert_int_equal(sy_parse_go_duration_ms("1.5us"), 0);
    assert_int_equal(sy_parse_go_duration_ms("2\xc2\xb5s"), 0);
    assert_int_equal(sy_parse_go_duration_ms("1500us"), 2);
    static const char *const bad[] = {"1e300h", "infh", "nanms", "-1s", "+1s", "1.5", "s", ".s", "1h-1m",
                                      "0x10s", " 1s", "1s ", "1m0", "1hh"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sy_parse_go_duration_ms(bad[i]) != -1) fail_msg("accepted '%s'", bad[i]);
}

/* The usage a successful answer reports, as the adapter reads it. */
static void expect_usage(const sy_provider *p, const char *usage, int64_t in, int64_t out)
{
    char body[512];
    if (p->kind == &sy_anthropic)
        snprintf(body, sizeof body, "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":%s}", usage);
    else
        snprintf(body, sizeof body, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":"
                 "\"stop\"}],\"usage\":%s}", usage);
    sy_outcome o = parse(p, 200, NULL, body);
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_int_equal(o.tokens_in, in);
    assert_int_equal(o.tokens_out, out);
    sy_outcome_free(&o);
}

/* Usage counts held to 0..10^9: no cost of 2.7e13, none negative, no
 * overflow when they are added up. */
static void test_absurd_usage(void **state)
{
    (void)state;
    const int64_t max = SY_MAX_USAGE_TOKENS;
    expect_usage(&openai, "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":-9223372036854775807}",
                 max, 0);
    expect_usage(&openai, "{\"prompt_tokens\":9.2e18,\"completion_tokens\":1000000001}", 0, max);
    expect_usage(&openai, "{\"prompt_tokens\":\"12\",\"completion_tokens\":null}", 0, 0);
    expect_usage(&anthropic, "{\"input_tokens\":-5,\"output_tokens\":9200000000000000000}", 0, max);
    expect_usage(&anthropic, "{\"input_tokens\":99999999999999999999,\"output_tokens\":12}", max, 12);
    expect_usage(&anthropic, "{\"input_tokens\":1000000000,\"output_tokens\":999999999}", max, max - 1);
    /* the largest counts, summed over many attempts, cost what they say */
    sy_model m = {.alias = "m", .price_in_per_mtok = 15, .price_out_per_mtok = 75};
    int64_t in = 0, out = 0;
    for (int i = 0; i < 1000; i++) in += SY_MAX_USAGE_TOKENS, out += SY_MAX_USAGE_TOKENS;
    assert_true(sy_model_cost(&m, SY_MAX_USAGE_TOKENS, SY_MAX_USAGE_TOKENS) == 90000.0);
    assert_true(sy_model_cost(&m, in, out) == 9e7);
    assert_true(sy_model_cost(&m, -5, -9223372036854775807LL) == 0.0); /* never negative */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_request),
        cmocka_unit_test(test_body_only_request),
        cmocka_unit_test(test_anthropic_request),
        cmocka_unit_test(test_options_in_requests),
        cmocka_unit_test(test_schema_follows_kinds),
        cmocka_unit_test(test_kind_tables),
        cmocka_unit_test(test_success_parsing),
        cmocka_unit_test(test_checked_parse),
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_key_redaction),
        cmocka_unit_test(test_key_scrubbing),
        cmocka_unit_test(test_large_and_deep_answers),
        cmocka_unit_test(test_retry_and_limit_headers),
        cmocka_unit_test(test_go_durations),
        cmocka_unit_test(test_hostile_retry_after),
        cmocka_unit_test(test_hostile_go_durations),
        cmocka_unit_test(test_absurd_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
