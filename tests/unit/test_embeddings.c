/* test_embeddings.c -- embedding tasks: the request each kind builds
 * (worker/providers/embeddings.h), the hostile reading of the answer per
 * input, the grouping decision, the usage split, the loader's kind:
 * embedding (and check's refusal of an anthropic tier, with file:line),
 * and the vector in the result record (msgpack and JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embeddings.h"
#include "health.h"
#include "pipeline_text.h"
#include "result.h"

extern const sy_provider_kind sy_openai, sy_anthropic, sy_azure_openai, sy_openai_compatible;

static sy_provider openai = {.name = "openai", .kind = &sy_openai,
                             .base_url = "https://api.openai.com/v1", .api_key = "sk-test-SECRET"};

static json_t *build(const sy_provider *p, int dims, sy_request *req)
{
    static const char *const inputs[] = {"first \"text\"", "second"};
    sy_model m = {.alias = "e", .provider = (sy_provider *)p, .name = "text-embedding-3-small"};
    sy_embed_call call = {.model = &m, .inputs = inputs, .n = 2, .dimensions = dims};
    sy_request_init(req);
    sy_provider_build_embeddings(&call, req);
    json_t *body = json_loadb(req->body.data, req->body.len, 0, NULL);
    assert_non_null(body);
    return body;
}

static void test_requests(void **state)
{
    (void)state;
    sy_request req;
    json_t *b = build(&openai, 256, &req);
    assert_string_equal(sy_buf_cstr(&req.url), "https://api.openai.com/v1/embeddings");
    assert_string_equal(req.headers.data, "Authorization: Bearer sk-test-SECRET");
    assert_string_equal(json_string_value(json_object_get(b, "model")), "text-embedding-3-small");
    json_t *in = json_object_get(b, "input");
    assert_int_equal(json_array_size(in), 2);
    assert_string_equal(json_string_value(json_array_get(in, 0)), "first \"text\"");
    assert_string_equal(json_string_value(json_object_get(b, "encoding_format")), "float");
    assert_int_equal(json_integer_value(json_object_get(b, "dimensions")), 256);
    json_decref(b);
    sy_request_free(&req);

    /* no dimensions asked: none sent */
    b = build(&openai, 0, &req);
    assert_null(json_object_get(b, "dimensions"));
    json_decref(b);
    sy_request_free(&req);

    /* azure: the deployment's URL, api-key, no model in the body */
    sy_option_value ver = {.spec = &(sy_kind_option){.key = "api_version"}, .text = "2024-10-21"};
    sy_provider az = {.name = "az", .kind = &sy_azure_openai, .base_url = "https://r.openai.azure.com",
                      .api_key = "AZKEY", .options = &ver, .noptions = 1};
    b = build(&az, 0, &req);
    assert_string_equal(sy_buf_cstr(&req.url), "https://r.openai.azure.com/openai/deployments/"
                                               "text-embedding-3-small/embeddings?api-version=2024-10-21");
    assert_string_equal(req.headers.data, "api-key: AZKEY");
    assert_null(json_object_get(b, "model"));
    assert_int_equal(json_array_size(json_object_get(b, "input")), 2);
    json_decref(b);
    sy_request_free(&req);

    /* a compatible server that takes no encoding_format: dropped */
    sy_option_value drop = {.spec = &(sy_kind_option){.key = "drop_params"}, .text = "encoding_format"};
    sy_provider local = {.name = "ollama", .kind = &sy_openai_compatible,
                         .base_url = "http://127.0.0.1:11434/v1", .options = &drop, .noptions = 1};
    b = build(&local, 0, &req);
    assert_string_equal(sy_buf_cstr(&req.url), "http://127.0.0.1:11434/v1/embeddings");
    assert_null(json_object_get(b, "encoding_format"));
    assert_int_equal(req.nheaders, 1); /* Content-Type only: no key */
    json_decref(b);
    sy_request_free(&req);

    /* anthropic serves none */
    assert_false(sy_anthropic.embeddings);
    assert_null(((const sy_provider_ops *)sy_anthropic.ops)->build_embeddings);
    assert_true(sy_openai.embeddings && sy_azure_openai.embeddings && sy_openai_compatible.embeddings);
}

/* ---- the answer ---- */

#define N 3

static sy_outcome parse_n(int status, const char *headers, const char *body, int dims, sy_embed_slot *s,
                          size_t n)
{
    sy_outcome o;
    memset(s, 0, n * sizeof *s);
    sy_embed_parse(&openai, status, headers, strlen(headers), body, strlen(body), dims, s, n, &o);
    return o;
}

static sy_outcome parse(const char *body, int dims, sy_embed_slot *s)
{
    return parse_n(200, "", body, dims, s, N);
}

static void test_answer_matched_by_index(void **state)
{
    (void)state;
    sy_embed_slot s[N];
    /* out of order: matched by index, not by place */
    sy_outcome o = parse("{\"object\":\"list\",\"data\":["
                         "{\"index\":2,\"embedding\":[0.5,-1]},"
                         "{\"index\":0,\"embedding\":[1e-3,2.5E2]},"
                         "{\"index\":1,\"embedding\":[0,-0.25]}],"
                         "\"usage\":{\"prompt_tokens\":12,\"total_tokens\":12}}", 2, s);
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_int_equal(o.tokens_in, 12);
    assert_false(o.usage.estimated);
    for (int i = 0; i < N; i++) {
        assert_int_equal(s[i].error, SY_ERR_NONE);
        assert_int_equal(s[i].dim, 2);
    }
    assert_true(s[0].vec[0] == 0.001f && s[0].vec[1] == 250.0f);
    assert_true(s[1].vec[0] == 0.0f && s[1].vec[1] == -0.25f);
    assert_true(s[2].vec[0] == 0.5f && s[2].vec[1] == -1.0f);
    sy_embed_slots_free(s, N);
    sy_outcome_free(&o);

    /* no usage: marked for the estimate */
    o = parse("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1]},"
              "{\"index\":2,\"embedding\":[1]}]}", 0, s);
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_true(o.usage.estimated);
    sy_embed_slots_free(s, N);
}

/* Each broken entry fails its own input only. */
static void test_answer_hostile_entries(void **state)
{
    (void)state;
    sy_embed_slot s[N];
    /* 0 twice, 1 missing, 2 fine, plus indexes out of range or not integers */
    sy_outcome o = parse("{\"data\":["
                         "{\"index\":0,\"embedding\":[1,2]},"
                         "{\"index\":0,\"embedding\":[3,4]},"
                         "{\"index\":3,\"embedding\":[5,6]},"
                         "{\"index\":-1,\"embedding\":[5,6]},"
                         "{\"index\":1.0,\"embedding\":[5,6]},"
                         "{\"index\":\"1\",\"embedding\":[5,6]},"
                         "{\"index\":99999999999999999999,\"embedding\":[5,6]},"
                         "{\"index\":2,\"embedding\":[7,8]}],"
                         "\"usage\":{\"prompt_tokens\":5}}", 0, s);
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_int_equal(s[0].error, SY_ERR_MALFORMED);
    assert_non_null(strstr(s[0].why, "twice"));
    assert_null(s[0].vec);
    assert_int_equal(s[1].error, SY_ERR_MALFORMED);
    assert_non_null(strstr(s[1].why, "no vector"));
    assert_int_equal(s[2].error, SY_ERR_NONE);
    assert_true(s[2].vec[0] == 7.0f && s[2].vec[1] == 8.0f);
    sy_embed_slots_free(s, N);

    /* vectors: not numbers, not finite in a float, empty, a string (base64),
     * the wrong length for the dimensions asked */
    const char *bad[] = {
        "[1,\"2\"]", "[1,null]", "[1,[2]]", "[1e39,0]", "[-1e999,0]", "[]", "\"AAAAAA==\"",
        "[1,2,3]", "{\"0\":1}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char body[256];
        snprintf(body, sizeof body, "{\"data\":[{\"index\":0,\"embedding\":%s},"
                 "{\"index\":1,\"embedding\":[1,2]},{\"index\":2,\"embedding\":[1,2]}]}", bad[k]);
        o = parse(body, 2, s);
        assert_int_equal(o.error, SY_ERR_NONE);
        if (s[0].error != SY_ERR_MALFORMED) fail_msg("accepted vector %s", bad[k]);
        assert_null(s[0].vec);
        assert_int_equal(s[1].error, SY_ERR_NONE);
        sy_embed_slots_free(s, N);
    }

    /* a vector longer than any model's: refused before any allocation */
    sy_buf big;
    sy_buf_init(&big);
    sy_buf_puts(&big, "{\"data\":[{\"index\":0,\"embedding\":[0");
    for (int i = 0; i < SY_EMBED_MAX_DIMS; i++) sy_buf_puts(&big, ",0");
    sy_buf_puts(&big, "]}]}");
    o = parse_n(200, "", sy_buf_cstr(&big), 0, s, 1);
    assert_int_equal(s[0].error, SY_ERR_MALFORMED);
    assert_non_null(strstr(s[0].why, "too long"));
    sy_buf_free(&big);
}

/* The request as a whole: not JSON, no data, an error status. */
static void test_answer_whole_request(void **state)
{
    (void)state;
    sy_embed_slot s[N];
    sy_outcome o = parse("{\"data\":[{\"index\":0,\"embedding\":[1]", 0, s);
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse("{\"data\":{\"index\":0}}", 0, s);
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    assert_non_null(strstr(o.message, "no data array"));
    o = parse("[]", 0, s);
    assert_int_equal(o.error, SY_ERR_MALFORMED);
    o = parse_n(429, "retry-after-ms: 1500\r\n",
                "{\"error\":{\"message\":\"Rate limit reached for sk-test-SECRET\","
                "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}", 0, s, N);
    assert_int_equal(o.error, SY_ERR_RATE_LIMITED);
    assert_int_equal(o.retry_after_ms, 1500);
    assert_null(strstr(o.message, "SECRET"));
    o = parse_n(503, "", "oops", 0, s, N);
    assert_int_equal(o.error, SY_ERR_OVERLOADED);
    for (int i = 0; i < N; i++) assert_null(s[i].vec);
}

/* ---- grouping and usage ---- */

static void test_grouping_decision(void **state)
{
    (void)state;
    sy_embed_limits l = {.max_inputs = 3, .max_bytes = 100, .window_ms = 2};
    bool full;
    /* an empty request takes anything, even an input over the byte cap */
    assert_int_equal(sy_embed_decide(0, 0, 500, &l, &full), SY_EMBED_JOIN);
    assert_true(full);
    assert_int_equal(sy_embed_decide(0, 0, 10, &l, &full), SY_EMBED_JOIN);
    assert_false(full);
    assert_int_equal(sy_embed_decide(1, 10, 10, &l, &full), SY_EMBED_JOIN);
    assert_false(full);
    /* the third input fills it */
    assert_int_equal(sy_embed_decide(2, 20, 10, &l, &full), SY_EMBED_JOIN);
    assert_true(full);
    /* a fourth would pass the input limit: the open request goes first */
    assert_int_equal(sy_embed_decide(3, 30, 10, &l, &full), SY_EMBED_FLUSH_FIRST);
    assert_false(full);
    /* bytes: 95 + 10 > 100 -> flush first; 90 + 10 = 100 -> joins, full */
    assert_int_equal(sy_embed_decide(1, 95, 10, &l, &full), SY_EMBED_FLUSH_FIRST);
    assert_int_equal(sy_embed_decide(1, 90, 10, &l, &full), SY_EMBED_JOIN);
    assert_true(full);
    /* over the cap already (a big single input): nothing joins it */
    assert_int_equal(sy_embed_decide(1, 500, 1, &l, &full), SY_EMBED_FLUSH_FIRST);

    /* defaults from the spec, and the options */
    sy_embed_limits d = sy_embed_limits_of(&openai);
    assert_int_equal(d.max_inputs, 2048);
    assert_int_equal(d.max_bytes, 1 << 20);
    sy_option_value o = {.spec = &(sy_kind_option){.key = "max_inputs_per_request"}, .num = 64};
    sy_provider p = {.name = "p", .kind = &sy_openai, .options = &o, .noptions = 1};
    assert_int_equal(sy_embed_limits_of(&p).max_inputs, 64);

    /* a request refused whole goes again in halves; other errors as they are */
    assert_int_equal(sy_embed_bisect(64, SY_ERR_BAD_REQUEST), 32);
    assert_int_equal(sy_embed_bisect(5, SY_ERR_CONTEXT_WINDOW), 3);
    assert_int_equal(sy_embed_bisect(2, SY_ERR_BAD_REQUEST), 1);
    assert_int_equal(sy_embed_bisect(1, SY_ERR_BAD_REQUEST), 0); /* alone: its own failure */
    assert_int_equal(sy_embed_bisect(64, SY_ERR_SERVER), 0);
    assert_int_equal(sy_embed_bisect(64, SY_ERR_RATE_LIMITED), 0);

    /* the answer must fit --max-answer-bytes: 4 MiB holds 40 vectors of an
     * unknown length (3072 taken), 255 of 512 numbers; never fewer than 1 */
    sy_embed_limits f = d;
    sy_embed_fit_answer(&f, 4 << 20, 0);
    assert_int_equal(f.max_inputs, (4 << 20) / (3072 * 32 + 256));
    assert_true(f.max_inputs >= 40 && f.max_inputs < 50);
    f = d;
    sy_embed_fit_answer(&f, 4 << 20, 512);
    assert_int_equal(f.max_inputs, (4 << 20) / (512 * 32 + 256));
    f = d;
    sy_embed_fit_answer(&f, 1 << 30, 8);
    assert_int_equal(f.max_inputs, 2048); /* the provider's limit still holds */
    f = d;
    sy_embed_fit_answer(&f, 1024, 0);
    assert_int_equal(f.max_inputs, 1);
}

static void test_usage_split(void **state)
{
    (void)state;
    int64_t w[] = {10, 30, 60}, out[3];
    sy_embed_split(100, w, 3, out);
    assert_int_equal(out[0], 10);
    assert_int_equal(out[1], 30);
    assert_int_equal(out[2], 60);
    /* remainders: the sum is exact */
    sy_embed_split(7, w, 3, out);
    assert_int_equal(out[0] + out[1] + out[2], 7);
    assert_true(out[2] >= out[1] && out[1] >= out[0]);
    /* no weights: equal parts */
    int64_t z[] = {0, 0, 0};
    sy_embed_split(10, z, 3, out);
    assert_int_equal(out[0] + out[1] + out[2], 10);
    assert_true(out[0] >= 3 && out[0] <= 4 && out[2] >= 3 && out[2] <= 4);
    /* many jobs, odd weights, a large total */
    enum { M = 2048 };
    int64_t *mw = calloc(M, sizeof *mw), *mo = calloc(M, sizeof *mo);
    for (int i = 0; i < M; i++) mw[i] = 1 + (i * 7919) % 1000;
    for (int64_t total = 0; total < 1000000000; total = total * 10 + 7) {
        sy_embed_split(total, mw, M, mo);
        int64_t sum = 0;
        for (int i = 0; i < M; i++) {
            assert_true(mo[i] >= 0);
            sum += mo[i];
        }
        assert_int_equal(sum, total);
    }
    free(mw);
    free(mo);
}

/* A half-open breaker lets its probes through; when they all ride in one
 * embeddings request, one answer speaks for it and the others give their
 * probes back, so that the breaker is not left with every probe out and
 * none coming back (closed again after enough good requests). */
static void test_breaker_probes_of_a_shared_request(void **state)
{
    (void)state;
    static const sy_breaker_policy pol = {.consecutive = 1, .ratio = 0, .min_calls = 1,
                                          .window_ms = 1000, .cooldown_ms = 100, .probes = 3};
    sy_health h;
    sy_health_init(&h, &pol);
    assert_true(sy_health_record(&h, SY_ERR_SERVER, 5, 0, 1000)); /* open */
    int64_t now = 1200;                                             /* cooldown over */
    for (int round = 0; round < 3 && h.state != SY_BREAKER_CLOSED; round++) {
        int allowed = 0;
        while (sy_health_allow(&h, now)) allowed++; /* the jobs of one request */
        assert_true(allowed > 0);
        sy_health_record(&h, SY_ERR_NONE, 5, 0, now); /* the request's answer, once */
        for (int i = 1; i < allowed; i++) sy_health_release(&h);
        now += 10;
    }
    assert_int_equal(h.state, SY_BREAKER_CLOSED);
}

/* ---- the pipeline ---- */

#define PIPE_HEAD                                                              \
    "version: 1\n"                                                             \
    "providers:\n"                                                             \
    "  oa: {kind: openai, base_url: 'http://127.0.0.1:9/v1', api_key_env: HOME}\n" \
    "  an: {kind: anthropic, base_url: 'http://127.0.0.1:9/v1', api_key_env: HOME}\n" \
    "models:\n"                                                                \
    "  e: {provider: oa, name: text-embedding-3-small, price_per_mtok: {input: 0.02, output: 0}}\n" \
    "  c: {provider: an, name: claude, price_per_mtok: {input: 1, output: 1}}\n" \
    "tiers:\n"                                                                 \
    "  emb: {models: [e]}\n"                                                   \
    "  mixed: {models: [e, c]}\n"                                              \
    "tasks:\n"

static void test_pipeline_kind(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    int rc = sy_test_load_text(PIPE_HEAD "  vec:\n    tier: emb\n    kind: embedding\n    input: '{{text}}'\n"
                                 "    dimensions: 256\n", &cfg, &d);
    if (rc) sy_diags_print(&d, stderr);
    assert_int_equal(rc, 0);
    const sy_task *t = sy_config_task(&cfg, "vec");
    assert_int_equal(t->kind, SY_TASK_EMBEDDING);
    assert_true(t->has_input);
    assert_int_equal(t->dimensions, 256);
    sy_config_free(&cfg);
    sy_diags_free(&d);

    /* routed to a tier with an anthropic model: refused at `kind:`, line 14 */
    rc = sy_test_load_text(PIPE_HEAD "  vec:\n    tier: mixed\n    kind: embedding\n    input: '{{text}}'\n",
                   &cfg, &d);
    assert_int_equal(rc, -1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 14);
    assert_int_equal(d.items[0].column, 11);
    assert_non_null(strstr(d.items[0].message, "no embeddings API"));
    assert_non_null(strstr(d.items[0].message, "'c'"));
    sy_diags_free(&d);

    /* an embedding task needs its input; input needs kind: embedding */
    assert_int_equal(sy_test_load_text(PIPE_HEAD "  vec: {tier: emb, kind: embedding}\n", &cfg, &d), -1);
    assert_non_null(strstr(d.items[0].message, "input"));
    sy_diags_free(&d);
    assert_int_equal(sy_test_load_text(PIPE_HEAD "  vec: {tier: emb, input: x, prompt: {id: p, version: 1, "
                                         "user: x}}\n", &cfg, &d), -1);
    assert_non_null(strstr(d.items[0].message, "kind: embedding"));
    sy_diags_free(&d);
}

/* ---- the result record ---- */

static void test_result_vector(void **state)
{
    (void)state;
    const float v[] = {0.5f, -0.9228515625f, 1e-7f, 3.4e38f};
    sy_result r = {.job_id = "j", .task = "vec", .idempotency_key = "k", .ok = true,
                   .embedding = v, .nembedding = 4, .strategy = "ordered"};
    sy_buf b;
    sy_buf_init(&b);
    sy_result_encode(&r, SY_FORMAT_MSGPACK, &b);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, b.data, b.len, NULL), MSGPACK_UNPACK_SUCCESS);
    msgpack_object_map *m = &u.data.via.map;
    bool found = false;
    for (uint32_t i = 0; i < m->size; i++) {
        msgpack_object k = m->ptr[i].key;
        if (k.via.str.size != 9 || memcmp(k.via.str.ptr, "embedding", 9)) continue;
        found = true;
        msgpack_object a = m->ptr[i].val;
        assert_int_equal(a.type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(a.via.array.size, 4);
        for (int j = 0; j < 4; j++) {
            assert_int_equal(a.via.array.ptr[j].type, MSGPACK_OBJECT_FLOAT32);
            assert_true((float)a.via.array.ptr[j].via.f64 == v[j]);
        }
    }
    assert_true(found);
    msgpack_unpacked_destroy(&u);

    sy_buf_reset(&b);
    sy_result_encode(&r, SY_FORMAT_JSON, &b);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    json_t *a = json_object_get(j, "embedding");
    assert_int_equal(json_array_size(a), 4);
    for (int k = 0; k < 4; k++) assert_true((float)json_number_value(json_array_get(a, k)) == v[k]);
    json_decref(j);

    /* no vector: no member */
    r.embedding = NULL;
    sy_buf_reset(&b);
    sy_result_encode(&r, SY_FORMAT_JSON, &b);
    assert_null(strstr(sy_buf_cstr(&b), "embedding"));
    sy_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_answer_matched_by_index),
        cmocka_unit_test(test_answer_hostile_entries),
        cmocka_unit_test(test_answer_whole_request),
        cmocka_unit_test(test_grouping_decision),
        cmocka_unit_test(test_usage_split),
        cmocka_unit_test(test_breaker_probes_of_a_shared_request),
        cmocka_unit_test(test_pipeline_kind),
        cmocka_unit_test(test_result_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
