/* test_adapters.c -- what the adapters of issue 13 add to the provider
 * modules, from the pipeline file to the request and from the answer to
 * the cost: Azure OpenAI (deployment URL, api-key, api-version, error
 * bodies, rate-limit headers), a task's parameters (response_format with
 * json_schema and strict, seed, top_p, stop) in each kind's body, a
 * provider's parameter mapping (drop_params, rename_params), usage with
 * cached, cache-write and reasoning tokens priced apart, Anthropic's stop
 * reasons, and answers without usage (estimated, priced, marked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "msgpack_json.h"
#include "provider.h"

static char tmp_dir[64];

/* ---- helpers ---- */

static int load(const char *text, sy_config *cfg, sy_diags *d)
{
    static int seq;
    char path[128];
    snprintf(path, sizeof path, "%s/p%d.yaml", tmp_dir, seq++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    const char *files[] = {path};
    memset(d, 0, sizeof *d);
    int rc = sy_config_load(cfg, sy_provider_kinds, files, 1, 0, d);
    if (rc) sy_diags_print(d, stderr);
    return rc;
}

/* Loading fails with one error at line:col whose message contains msg. */
static void expect_error(const char *text, int line, int col, const char *msg)
{
    sy_config cfg;
    sy_diags d;
    int rc = load(text, &cfg, &d);
    assert_int_equal(rc, -1);
    assert_int_equal(d.n, 1);
    if (d.items[0].line != line || d.items[0].column != col || !strstr(d.items[0].message, msg))
        fail_msg("wanted %d:%d ...%s..., got %d:%d %s", line, col, msg, d.items[0].line,
                 d.items[0].column, d.items[0].message);
    sy_diags_free(&d);
}

static const sy_model *model_named(const sy_config *cfg, const char *alias)
{
    for (size_t i = 0; i < cfg->nmodels; i++)
        if (!strcmp(cfg->models[i]->alias, alias)) return cfg->models[i];
    fail_msg("no model %s", alias);
    return NULL;
}

/* The request task `task` makes on model `alias`; its body parsed. */
static json_t *request(const sy_config *cfg, const char *task, const char *alias, sy_request *req)
{
    static sy_msg user = {"user", "Classify: printer jams"};
    const sy_task *t = sy_config_task(cfg, task);
    assert_non_null(t);
    sy_call call = {.model = model_named(cfg, alias), .system = "Be brief.", .messages = &user,
                    .nmessages = 1, .max_tokens = t->max_tokens, .temperature = t->temperature,
                    .want_json = t->parse == SY_PARSE_JSON, .params = &t->params};
    sy_request_init(req);
    sy_provider_build(&call, req);
    json_error_t err;
    json_t *body = json_loadb(req->body.data, req->body.len, 0, &err);
    if (!body) fail_msg("body is not JSON (%s): %.*s", err.text, (int)req->body.len, req->body.data);
    return body;
}

static bool has_header(const sy_request *r, const char *line)
{
    const char *p = r->headers.data;
    for (int i = 0; i < r->nheaders; i++, p += strlen(p) + 1)
        if (!strcmp(p, line)) return true;
    return false;
}

static bool header_named(const sy_request *r, const char *prefix)
{
    const char *p = r->headers.data;
    for (int i = 0; i < r->nheaders; i++, p += strlen(p) + 1)
        if (!strncasecmp(p, prefix, strlen(prefix))) return true;
    return false;
}

static sy_outcome parse(const sy_provider *p, int status, const char *headers, const char *body)
{
    sy_outcome o;
    sy_provider_parse(p, status, headers, headers ? strlen(headers) : 0, body, body ? strlen(body) : 0, &o);
    return o;
}

static const char *PIPELINE =
    "version: 1\n"
    "providers:\n"
    "  oai: {kind: openai, api_key_env: SY_T_KEY}\n"
    "  az:\n"
    "    kind: azure-openai\n"
    "    base_url: https://res.openai.azure.com/\n"
    "    api_key_env: SY_T_KEY\n"
    "    options: {api_version: 2025-01-01-preview}\n"
    "  az2: {kind: azure-openai, base_url: https://other.openai.azure.com, api_key_env: SY_T_KEY}\n"
    "  ant: {kind: anthropic, api_key_env: SY_T_KEY}\n"
    "  mistral:\n"
    "    kind: openai-compatible\n"
    "    base_url: http://127.0.0.1:9/v1\n"
    "    options:\n"
    "      drop_params: [top_p, response_format]\n"
    "      rename_params: {seed: random_seed, max_tokens: max_new_tokens}\n"
    "models:\n"
    "  gpt: {provider: oai, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 4, cached_input: 0.5}}\n"
    "  azm: {provider: az, name: \"my deploy/1\", price_per_mtok: {input: 1, output: 2}}\n"
    "  azm2: {provider: az2, name: gpt4o, price_per_mtok: {input: 1, output: 2}}\n"
    "  claude:\n"
    "    provider: ant\n"
    "    name: claude-x\n"
    "    price_per_mtok: {input: 3, output: 15, cached_input: 0.3, cache_write: 3.75}\n"
    "  mis: {provider: mistral, name: mistral-small, price_per_mtok: {input: 1, output: 1}}\n"
    "tiers:\n"
    "  t: {models: [gpt, azm, azm2, claude, mis]}\n"
    "tasks:\n"
    "  label:\n"
    "    tier: t\n"
    "    prompt: {id: p, version: 1, user: \"{{text}}\"}\n"
    "    max_tokens: 64\n"
    "    temperature: 0.5\n"
    "    seed: 42\n"
    "    top_p: 0.9\n"
    "    stop: [\"\\n\\n\", END]\n"
    "    response_format:\n"
    "      type: json_schema\n"
    "      name: label\n"
    "      strict: true\n"
    "      schema:\n"
    "        type: object\n"
    "        properties:\n"
    "          label: {type: string, enum: [billing, \"3\", other]}\n"
    "          score: {type: number, minimum: 0.5, maximum: +5, x: 0x1F, y: .5, z: -1e3, w: yes}\n"
    "        required: [label, score]\n"
    "        additionalProperties: false\n"
    "    output: {parse: json}\n"
    "  plain:\n"
    "    tier: t\n"
    "    prompt: {id: q, version: 1, user: \"{{text}}\"}\n"
    "    stop: STOP\n"
    "  jsonobj:\n"
    "    tier: t\n"
    "    prompt: {id: r, version: 1, user: \"{{text}}\"}\n"
    "    response_format: json_object\n";

/* ---- Azure OpenAI ---- */

static void test_azure_request(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d;
    assert_int_equal(load(PIPELINE, &cfg, &d), 0);
    sy_request req;
    json_t *b = request(&cfg, "plain", "azm", &req);
    assert_string_equal(sy_buf_cstr(&req.url), "https://res.openai.azure.com/openai/deployments/"
                        "my%20deploy%2F1/chat/completions?api-version=2025-01-01-preview");
    assert_true(has_header(&req, "api-key: secret-T"));
    assert_false(header_named(&req, "Authorization"));
    assert_null(json_object_get(b, "model")); /* the deployment picks it */
    assert_int_equal(json_integer_value(json_object_get(b, "max_completion_tokens")), 1024);
    assert_null(json_object_get(b, "max_tokens"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "stop"), 0)), "STOP");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(b, "messages"), 0),
                                                          "role")), "system");
    json_decref(b);
    sy_request_free(&req);
    b = request(&cfg, "plain", "azm2", &req); /* default api-version */
    assert_string_equal(sy_buf_cstr(&req.url), "https://other.openai.azure.com/openai/deployments/"
                        "gpt4o/chat/completions?api-version=2024-10-21");
    json_decref(b);
    sy_request_free(&req);
    sy_config_free(&cfg);
}

static void test_azure_answers(void **state)
{
    (void)state;
    const sy_provider_kind *k = sy_provider_kind_named("azure-openai");
    assert_non_null(k);
    sy_provider az = {.name = "az", .kind = k, .base_url = "https://r.openai.azure.com", .api_key = "azkey-SECRET"};
    /* a success with Azure's extra members and no prompt_tokens_details */
    sy_outcome o = parse(&az, 200, "apim-request-id: 1\r\nx-ratelimit-remaining-requests: 99\r\n"
        "x-ratelimit-remaining-tokens: 12000\r\n",
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"prompt_filter_results\":[{\"prompt_index\":0,"
        "\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}}}],"
        "\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","
        "\"content\":\"ok\"},\"content_filter_results\":{}}],\"usage\":{\"prompt_tokens\":10,"
        "\"completion_tokens\":4,\"total_tokens\":14,\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_string_equal(o.output, "ok");
    assert_int_equal(o.tokens_in, 10);
    assert_int_equal(o.usage.reasoning_out, 3);
    assert_false(o.usage.estimated);
    assert_int_equal(o.rl.remaining_requests, 99);
    assert_int_equal(o.rl.remaining_tokens, 12000);
    assert_int_equal(o.rl.limit_requests, -1);
    assert_int_equal(o.rl.reset_requests_ms, -1);
    sy_outcome_free(&o);
    /* output filtered: 200 with finish_reason content_filter */
    o = parse(&az, 200, NULL, "{\"choices\":[{\"finish_reason\":\"content_filter\",\"message\":"
              "{\"role\":\"assistant\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":0}}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    /* prompt filtered: 400 content_filter, inner_error or innererror */
    o = parse(&az, 400, NULL, "{\"error\":{\"code\":\"content_filter\",\"message\":\"The response was "
              "filtered\",\"param\":\"prompt\",\"status\":400,\"inner_error\":{\"code\":"
              "\"ResponsibleAIPolicyViolation\",\"content_filter_results\":{\"hate\":{\"filtered\":true,"
              "\"severity\":\"high\"}}}}}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    assert_non_null(strstr(o.message, "content_filter"));
    o = parse(&az, 400, NULL, "{\"error\":{\"code\":\"content_filter\",\"message\":\"filtered\","
              "\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\"}}}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    /* 429: the deployment's quota (rate limited) or Azure's capacity (overloaded) */
    o = parse(&az, 429, "retry-after: 37\r\nretry-after-ms: 36500\r\n",
              "{\"error\":{\"code\":\"429\",\"message\":\"Requests to the ChatCompletions_Create Operation "
              "under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current "
              "pricing tier. Please retry after 37 seconds.\"}}");
    assert_int_equal(o.error, SY_ERR_RATE_LIMITED);
    assert_int_equal(o.retry_after_ms, 36500);
    o = parse(&az, 429, "retry-after: 5\r\n", "{\"error\":{\"code\":\"429\",\"message\":\"The system is "
              "experiencing high demand. Please retry after 5 seconds.\"}}");
    assert_int_equal(o.error, SY_ERR_OVERLOADED);
    assert_int_equal(o.retry_after_ms, 5000);
    o = parse(&az, 404, NULL, "{\"error\":{\"code\":\"DeploymentNotFound\",\"message\":\"The API deployment "
              "for this resource does not exist.\"}}");
    assert_int_equal(o.error, SY_ERR_NOT_FOUND);
    o = parse(&az, 401, NULL, "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to invalid "
              "subscription key or wrong API endpoint.\"}}");
    assert_int_equal(o.error, SY_ERR_AUTH);
    o = parse(&az, 400, NULL, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"bad\"}}");
    assert_int_equal(o.error, SY_ERR_BAD_REQUEST);
    o = parse(&az, 503, NULL, "");
    assert_int_equal(o.error, SY_ERR_OVERLOADED);
}

/* ---- a task's parameters and the mapping ---- */

static void test_task_params_in_bodies(void **state)
{
    (void)state;
    setenv("SY_T_KEY", "secret-T", 1);
    sy_config cfg;
    sy_diags d;
    assert_int_equal(load(PIPELINE, &cfg, &d), 0);
    sy_request req;
    json_t *b = request(&cfg, "label", "gpt", &req);
    assert_int_equal(json_integer_value(json_object_get(b, "max_completion_tokens")), 64);
    assert_int_equal(json_integer_value(json_object_get(b, "seed")), 42);
    assert_true(fabs(json_number_value(json_object_get(b, "top_p")) - 0.9) < 1e-12);
    assert_true(fabs(json_number_value(json_object_get(b, "temperature")) - 0.5) < 1e-12);
    json_t *stop = json_object_get(b, "stop");
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 0)), "\n\n");
    json_t *rf = json_object_get(b, "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
    json_t *js = json_object_get(rf, "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "label");
    assert_true(json_is_true(json_object_get(js, "strict")));
    json_t *schema = json_object_get(js, "schema");
    json_t *want = json_loads("{\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\","
        "\"enum\":[\"billing\",\"3\",\"other\"]},\"score\":{\"type\":\"number\",\"minimum\":0.5,"
        "\"maximum\":\"+5\",\"x\":\"0x1F\",\"y\":\".5\",\"z\":-1e3,\"w\":\"yes\"}},"
        "\"required\":[\"label\",\"score\"],\"additionalProperties\":false}", 0, NULL);
    assert_true(json_equal(schema, want));
    json_decref(want);
    json_decref(b);
    sy_request_free(&req);

    b = request(&cfg, "jsonobj", "gpt", &req);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "response_format"), "type")),
                        "json_object");
    assert_null(json_object_get(b, "seed"));
    assert_null(json_object_get(b, "top_p"));
    json_decref(b);
    sy_request_free(&req);

    /* Anthropic: top-level system, stop_sequences, top_p; no seed, no response_format */
    b = request(&cfg, "label", "claude", &req);
    assert_string_equal(json_string_value(json_object_get(b, "system")), "Be brief.");
    assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
    assert_int_equal(json_array_size(json_object_get(b, "stop_sequences")), 2);
    assert_true(fabs(json_number_value(json_object_get(b, "top_p")) - 0.9) < 1e-12);
    assert_null(json_object_get(b, "seed"));
    assert_null(json_object_get(b, "response_format"));
    assert_null(json_object_get(b, "stop"));
    json_decref(b);
    sy_request_free(&req);

    /* drop_params / rename_params */
    b = request(&cfg, "label", "mis", &req);
    assert_null(json_object_get(b, "top_p"));
    assert_null(json_object_get(b, "response_format"));
    assert_null(json_object_get(b, "seed"));
    assert_int_equal(json_integer_value(json_object_get(b, "random_seed")), 42);
    assert_null(json_object_get(b, "max_tokens"));
    assert_int_equal(json_integer_value(json_object_get(b, "max_new_tokens")), 64);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "mistral-small");
    assert_int_equal(json_array_size(json_object_get(b, "stop")), 2);
    json_decref(b);
    sy_request_free(&req);
    sy_config_free(&cfg);
}

static void test_param_errors(void **state)
{
    (void)state;
    static const char head[] =
        "version: 1\n"
        "providers:\n"
        "  p: {kind: openai-compatible, base_url: http://h/v1}\n"
        "models:\n"
        "  m: {provider: p, name: m, price_per_mtok: {input: 1, output: 1}}\n"
        "tiers:\n"
        "  t: {models: [m]}\n"
        "tasks:\n"
        "  x:\n"
        "    tier: t\n"
        "    prompt: {id: p, version: 1, user: hi}\n";
    char text[2048];
    snprintf(text, sizeof text, "%s    top_p: 1.5\n", head);
    expect_error(text, 12, 12, "top_p");
    snprintf(text, sizeof text, "%s    seed: 1.5\n", head);
    expect_error(text, 12, 11, "seed");
    snprintf(text, sizeof text, "%s    stop: [a, b, c, d, e]\n", head);
    expect_error(text, 12, 11, "stop of task 'x' must be a string or a list of 1 to 4");
    snprintf(text, sizeof text, "%s    response_format: yaml\n", head);
    expect_error(text, 12, 22, "response_format");
    snprintf(text, sizeof text, "%s    response_format: json_schema\n", head);
    expect_error(text, 12, 22, "needs a mapping");
    snprintf(text, sizeof text, "%s    response_format: {type: json_schema, name: a}\n", head);
    expect_error(text, 12, 5, "missing required key 'schema' in response_format of task 'x'");
    snprintf(text, sizeof text, "%s    response_format: {type: json_schema, name: \"a b\", schema: {}}\n", head);
    expect_error(text, 12, 48, "response_format.name of task 'x'");
    snprintf(text, sizeof text, "%s    response_format: {type: json_schema, name: a, strict: yes, schema: {}}\n", head);
    expect_error(text, 12, 59, "strict");
    snprintf(text, sizeof text, "%s    response_format: {type: json_schema, name: a, schema: [1]}\n", head);
    expect_error(text, 12, 59, "must be a JSON Schema object");
    static const char prov[] =
        "version: 1\n"
        "providers:\n"
        "  p:\n"
        "    kind: openai-compatible\n"
        "    base_url: http://h/v1\n"
        "    options:\n";
    snprintf(text, sizeof text, "%s      drop_params: seed\n", prov);
    expect_error(text, 7, 20, "options.drop_params of provider 'p' (kind openai-compatible) must be a non-empty list");
    snprintf(text, sizeof text, "%s      drop_params: [seed, Top-P]\n", prov);
    expect_error(text, 7, 27, "a parameter name is 1 to 64");
    snprintf(text, sizeof text, "%s      drop_params: [model]\n", prov);
    expect_error(text, 7, 21, "model and messages cannot be dropped or renamed");
    snprintf(text, sizeof text, "%s      rename_params: {max_tokens: messages}\n", prov);
    expect_error(text, 7, 23, "model and messages cannot be dropped or renamed");
    snprintf(text, sizeof text, "%s      rename_params: [seed]\n", prov);
    expect_error(text, 7, 22, "must be a non-empty mapping");
    snprintf(text, sizeof text, "%s      api_version: x\n", prov);
    expect_error(text, 7, 7, "api_version");
}

/* ---- usage and cost ---- */

static void test_usage_priced_apart(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d;
    assert_int_equal(load(PIPELINE, &cfg, &d), 0);
    const sy_model *gpt = model_named(&cfg, "gpt"), *claude = model_named(&cfg, "claude");
    assert_true(gpt->price_cached_in_per_mtok == 0.5);
    assert_true(gpt->price_cache_write_per_mtok == 1); /* default: input */
    sy_outcome o = parse(gpt->provider, 200, NULL,
        "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"usage\":"
        "{\"prompt_tokens\":1000000,\"completion_tokens\":500000,\"prompt_tokens_details\":"
        "{\"cached_tokens\":400000},\"completion_tokens_details\":{\"reasoning_tokens\":300000}}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_int_equal(o.usage.cached_in, 400000);
    assert_int_equal(o.usage.reasoning_out, 300000);
    /* 600k at $1 + 400k at $0.5 + 500k out at $4 */
    double c = sy_model_cost_detail(gpt, o.tokens_in, o.tokens_out, &o.usage);
    assert_true(fabs(c - (0.6 + 0.2 + 2.0)) < 1e-9);
    assert_true(c < sy_model_cost(gpt, o.tokens_in, o.tokens_out));
    sy_outcome_free(&o);
    /* Anthropic: input_tokens excludes the cache; tokens_in is all of it */
    o = parse(claude->provider, 200, NULL,
        "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"},{\"type\":\"text\",\"text\":\"hi\"}],"
        "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":100000,\"output_tokens\":10000,"
        "\"cache_read_input_tokens\":800000,\"cache_creation_input_tokens\":100000}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_string_equal(o.output, "hi"); /* thinking blocks are not output */
    assert_int_equal(o.tokens_in, 1000000);
    assert_int_equal(o.usage.cached_in, 800000);
    assert_int_equal(o.usage.cache_write_in, 100000);
    c = sy_model_cost_detail(claude, o.tokens_in, o.tokens_out, &o.usage);
    assert_true(fabs(c - (0.3 + 0.24 + 0.375 + 0.15)) < 1e-9);
    sy_outcome_free(&o);
    /* absurd counts stay bounded; hostile parts larger than the whole are
     * held to it: never negative */
    o = parse(claude->provider, 200, NULL,
        "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":99999999999,"
        "\"output_tokens\":1,\"cache_read_input_tokens\":99999999999,\"cache_creation_input_tokens\":1e9}}");
    assert_int_equal(o.tokens_in, SY_MAX_USAGE_TOKENS);
    assert_int_equal(o.usage.cache_write_in, 0); /* an exponent is not a count */
    c = sy_model_cost_detail(claude, o.tokens_in, o.tokens_out, &o.usage);
    assert_true(c > 0 && c <= sy_model_cost(claude, o.tokens_in, o.tokens_out));
    sy_outcome_free(&o);
    sy_usage_detail u = {.cached_in = 5000000, .cache_write_in = 5000000};
    assert_true(fabs(sy_model_cost_detail(gpt, 1000000, 0, &u) - 0.5) < 1e-9); /* all cached */
    u = (sy_usage_detail){.cached_in = 10, .cache_write_in = 5000};
    assert_true(sy_model_cost_detail(claude, 20, 0, &u) > 0);
    sy_config_free(&cfg);
}

static void test_anthropic_stop_reasons(void **state)
{
    (void)state;
    extern const sy_provider_kind sy_anthropic;
    sy_provider ant = {.name = "a", .kind = &sy_anthropic, .base_url = "https://x", .api_key = "k"};
    sy_outcome o = parse(&ant, 200, NULL, "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\":\"}],"
                         "\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}");
    assert_int_equal(o.error, SY_ERR_NONE); /* delivered as cut; a JSON task's parse fails it */
    assert_string_equal(o.output, "{\"a\":");
    sy_outcome_free(&o);
    o = parse(&ant, 200, NULL, "{\"content\":[{\"type\":\"text\",\"text\":\"I can't\"}],"
              "\"stop_reason\":\"refusal\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}");
    assert_int_equal(o.error, SY_ERR_REFUSED);
    assert_null(o.output);
    assert_int_equal(o.tokens_out, 5); /* billed all the same */
    o = parse(&ant, 200, NULL, "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"stop_sequence\","
              "\"stop_sequence\":\"END\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}");
    assert_int_equal(o.error, SY_ERR_NONE);
    sy_outcome_free(&o);
}

/* An answer without usage: estimated from the bytes, marked, priced. */
static void test_usage_missing(void **state)
{
    (void)state;
    extern const sy_provider_kind sy_openai_compatible, sy_anthropic;
    sy_provider local = {.name = "l", .kind = &sy_openai_compatible, .base_url = "http://h"};
    sy_model m = {.alias = "m", .provider = &local, .name = "m", .price_in_per_mtok = 1,
                  .price_out_per_mtok = 2};
    sy_outcome o = parse(&local, 200, NULL, "{\"choices\":[{\"message\":{\"content\":\"0123456789abcdef\"}}]}");
    assert_int_equal(o.error, SY_ERR_NONE);
    assert_true(o.usage.estimated);
    assert_int_equal(o.tokens_in, 0);
    sy_outcome_estimate(&o, 4000);
    assert_int_equal(o.tokens_in, 1000 + 4);
    assert_int_equal(o.tokens_out, 4 + 4);
    assert_true(sy_model_cost_detail(&m, o.tokens_in, o.tokens_out, &o.usage) > 0);
    sy_outcome_free(&o);
    /* usage present but without the counts; null usage */
    o = parse(&local, 200, NULL, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{}}");
    assert_true(o.usage.estimated);
    sy_outcome_free(&o);
    o = parse(&local, 200, NULL, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":null}");
    assert_true(o.usage.estimated);
    sy_outcome_free(&o);
    sy_provider ant = {.name = "a", .kind = &sy_anthropic, .base_url = "https://x", .api_key = "k"};
    o = parse(&ant, 200, NULL, "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"end_turn\"}");
    assert_true(o.usage.estimated);
    sy_outcome_free(&o);
    /* reported usage is kept as is, even a 0 */
    o = parse(&local, 200, NULL, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
              "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":0}}");
    assert_false(o.usage.estimated);
    sy_outcome_estimate(&o, 4000);
    assert_int_equal(o.tokens_in, 7);
    assert_int_equal(o.tokens_out, 0);
    sy_outcome_free(&o);
    /* errors carry no usage and are not estimated (nothing billed) */
    o = parse(&local, 500, NULL, "{\"message\":\"boom\"}");
    assert_false(o.usage.estimated);
    sy_outcome_estimate(&o, 4000);
    assert_int_equal(o.tokens_in, 0);
    /* the mark reaches the result, both encodings; old members unchanged */
    sy_result r = {.job_id = "j", .task = "t", .idempotency_key = "k", .ok = true, .output = "x",
                   .tokens_in = 1004, .tokens_out = 8,
                   .usage = {.estimated = true, .cached_in = 3, .reasoning_out = 2}};
    sy_buf b;
    sy_buf_init(&b);
    sy_result_encode(&r, SY_FORMAT_JSON, &b);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    json_t *t = json_object_get(j, "tokens");
    assert_int_equal(json_integer_value(json_object_get(t, "in")), 1004);
    assert_true(json_is_true(json_object_get(t, "estimated")));
    assert_int_equal(json_integer_value(json_object_get(t, "cached_in")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "reasoning_out")), 2);
    assert_null(json_object_get(t, "cache_write_in"));
    json_decref(j);
    sy_buf_reset(&b);
    sy_result_encode(&r, SY_FORMAT_MSGPACK, &b);
    sy_buf js;
    sy_buf_init(&js);
    assert_int_equal(sy_msgpack_to_json(b.data, b.len, &js), 0);
    j = json_loadb(js.data, js.len, 0, NULL);
    assert_non_null(j);
    t = json_object_get(j, "tokens");
    assert_true(json_is_true(json_object_get(t, "estimated")));
    assert_int_equal(json_integer_value(json_object_get(t, "out")), 8);
    json_decref(j);
    sy_buf_reset(&b);
    r.usage = (sy_usage_detail){0};
    sy_result_encode(&r, SY_FORMAT_JSON, &b);
    j = json_loadb(b.data, b.len, 0, NULL);
    assert_int_equal(json_object_size(json_object_get(j, "tokens")), 2); /* as before: in, out */
    json_decref(j);
    sy_buf_free(&b);
    sy_buf_free(&js);
    sy_usage_detail a = {.cached_in = INT64_MAX / 4 - 1}, add = {.cached_in = 10, .estimated = true};
    sy_usage_detail_add(&a, &add);
    assert_int_equal(a.cached_in, INT64_MAX / 4);
    assert_true(a.estimated);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sy-test-adapters.XXXXXX");
    assert_non_null(mkdtemp(tmp_dir));
    setenv("SY_T_KEY", "secret-T", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azure_request),
        cmocka_unit_test(test_azure_answers),
        cmocka_unit_test(test_task_params_in_bodies),
        cmocka_unit_test(test_param_errors),
        cmocka_unit_test(test_usage_priced_apart),
        cmocka_unit_test(test_anthropic_stop_reasons),
        cmocka_unit_test(test_usage_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
