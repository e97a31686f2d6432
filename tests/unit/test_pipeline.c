/* test_pipeline.c -- pipeline loading: the example pipelines resolve to the
 * expected structure; defaults, ${} expansion, costs; every kind of error
 * gives one diagnostic at the right line:column with the right message;
 * names are global across files; API keys are required only on request and
 * never appear in a message. YAML cases are written to temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "provider.h"
#include "spell.h"
#include "util.h"
#include "yamlnode.h"

#define OPENAI_SECRET "sk-proj-unit-SECRET-a1b2c3"
#define ANTHROPIC_SECRET "sk-ant-unit-SECRET-d4e5f6"

static char tmp_dir[64];
static int tmp_seq;

/* ---- helpers ----------------------------------------------------------------------- */

static const char *write_tmp(const char *text, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/case-%d.yaml", tmp_dir, tmp_seq++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_one(const char *text, int flags, sy_config *cfg, sy_diags *d, char *path,
                    size_t pathlen)
{
    const char *files[] = {write_tmp(text, path, pathlen)};
    return sy_config_load(cfg, sy_provider_kinds, files, 1, flags, d);
}

static void dump_diags(const sy_diags *d)
{
    fprintf(stderr, "diagnostics (%zu):\n", d->n);
    sy_diags_print(d, stderr);
}

/* Loading text fails with exactly one error, at line:col, containing msg. */
static void expect_error(const char *text, int line, int col, const char *msg)
{
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    int rc = load_one(text, 0, &cfg, &d, path, sizeof path);
    if (rc != -1 || d.n != 1 || d.items[0].line != line || d.items[0].column != col ||
        !strstr(d.items[0].message, msg) || strcmp(d.items[0].file, path)) {
        fprintf(stderr, "case:\n%s\nwanted %d:%d: ...%s...\n", text, line, col, msg);
        dump_diags(&d);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].file, path);
    assert_int_equal(d.items[0].line, line);
    assert_int_equal(d.items[0].column, col);
    assert_non_null(strstr(d.items[0].message, msg));
    /* On error the config is freed and empty. */
    assert_int_equal(cfg.nproviders + cfg.nmodels + cfg.ntiers + cfg.ntasks + cfg.nfiles, 0);
    assert_null(cfg.tasks);
    sy_diags_free(&d);
}

static const sy_diag *find_diag(const sy_diags *d, const char *msg)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->items[i].message, msg)) return &d->items[i];
    return NULL;
}

static void assert_near(double a, double b)
{
    if (fabs(a - b) > 1e-9) fprintf(stderr, "%.12g != %.12g\n", a, b);
    assert_true(fabs(a - b) <= 1e-9);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sy-test-pipeline.XXXXXX");
    if (!mkdtemp(tmp_dir)) return -1;
    setenv("OPENAI_API_KEY", OPENAI_SECRET, 1);
    setenv("ANTHROPIC_API_KEY", ANTHROPIC_SECRET, 1);
    unsetenv("OPENAI_BASE_URL");
    unsetenv("ANTHROPIC_BASE_URL");
    unsetenv("SY_TEST_UNSET_VAR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    for (int i = 0; i < tmp_seq; i++) {
        snprintf(path, sizeof path, "%s/case-%d.yaml", tmp_dir, i);
        unlink(path);
    }
    rmdir(tmp_dir);
    return 0;
}

/* ---- the example pipelines ------------------------------------------------------------- */

static const char *const examples[] = {"pipelines/support-tickets.yaml", "pipelines/summarize.yaml"};

static void load_examples(sy_config *cfg)
{
    sy_diags d = {0};
    int rc = sy_config_load(cfg, sy_provider_kinds, examples, 2, SY_LOAD_REQUIRE_KEYS, &d);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    sy_diags_free(&d);
}

static void test_examples_structure(void **state)
{
    (void)state;
    sy_config cfg;
    load_examples(&cfg);
    assert_int_equal(cfg.nfiles, 2);
    assert_string_equal(cfg.files[1], "pipelines/summarize.yaml");
    assert_int_equal(cfg.nproviders, 2);
    assert_int_equal(cfg.nmodels, 4);
    assert_int_equal(cfg.ntiers, 3);
    assert_int_equal(cfg.ntasks, 3);

    const sy_task *c = sy_config_task(&cfg, "classify");
    assert_non_null(c);
    assert_string_equal(c->tier->name, "fast-classifier");
    assert_int_equal(c->tier->strategy, SY_TIER_ORDERED);
    assert_int_equal(c->tier->nmodels, 2);
    assert_string_equal(c->tier->models[0].model->alias, "gpt-4o-mini");
    assert_string_equal(c->tier->models[1].model->alias, "claude-haiku");
    assert_string_equal(c->tier->models[1].model->name, "claude-3-5-haiku-latest");
    assert_string_equal(c->tier->topic, "switchyard.tier.fast-classifier");
    assert_string_equal(c->prompt_id, "ticket-classify");
    assert_int_equal(c->prompt_version, 3);
    assert_true(c->has_system && c->has_user);
    assert_string_equal(c->user.source, "Subject: {{subject}}\n\n{{body}}");
    assert_non_null(strstr(c->system.source, "\"billing\", \"technical\", \"account\" or \"other\""));
    assert_int_equal(c->max_tokens, 50);
    assert_near(c->temperature, 0);
    assert_int_equal(c->deadline_ms, 3600000);
    assert_string_equal(c->output_topic, "switchyard.results.classify");
    assert_int_equal(c->parse, SY_PARSE_JSON);
    assert_int_equal(c->format, SY_FORMAT_MSGPACK);

    const sy_model *mini = c->tier->models[0].model;
    assert_near(mini->price_in_per_mtok, 0.15);
    assert_near(mini->price_out_per_mtok, 0.60);
    assert_int_equal(mini->context_window, 128000);
    const sy_provider *openai = mini->provider;
    assert_string_equal(openai->name, "openai");
    assert_string_equal(openai->kind->name, "openai");
    assert_string_equal(openai->base_url, "https://api.openai.com/v1");
    assert_string_equal(openai->api_key_env, "OPENAI_API_KEY");
    assert_string_equal(openai->api_key, OPENAI_SECRET);
    assert_int_equal(openai->requests_per_minute, 500);
    assert_int_equal(openai->tokens_per_minute, 200000);
    assert_string_equal(openai->file, "pipelines/support-tickets.yaml");
    assert_int_equal(openai->line, 12);
    const sy_provider *anthropic = c->tier->models[1].model->provider;
    assert_string_equal(anthropic->kind->name, "anthropic");
    assert_string_equal(anthropic->base_url, "https://api.anthropic.com/v1");
    assert_string_equal(anthropic->api_key, ANTHROPIC_SECRET);

    const sy_task *r = sy_config_task(&cfg, "triage-reply");
    assert_non_null(r);
    assert_string_equal(r->tier->name, "strong-analyst");
    assert_string_equal(r->tier->models[0].model->alias, "claude-sonnet");
    assert_string_equal(r->tier->models[1].model->alias, "gpt-4o");
    assert_near(r->tier->models[1].model->price_out_per_mtok, 10.0);
    assert_int_equal(r->parse, SY_PARSE_TEXT);
    assert_near(r->temperature, 0.4);
    assert_int_equal(r->tier->retry.attempts_per_model, 2);
    assert_int_equal(r->tier->retry.timeout_ms, 120000);

    /* summarize.yaml uses support-tickets.yaml's models: same objects. */
    const sy_task *s = sy_config_task(&cfg, "summarize");
    assert_non_null(s);
    assert_string_equal(s->tier->name, "bulk-summarizer");
    assert_int_equal(s->tier->strategy, SY_TIER_WEIGHTED);
    assert_ptr_equal(s->tier->models[0].model, c->tier->models[1].model); /* claude-haiku */
    assert_ptr_equal(s->tier->models[1].model, mini);
    assert_near(s->tier->models[0].weight, 80);
    assert_near(s->tier->models[1].weight, 20);
    assert_int_equal(s->max_tokens, 200);
    assert_int_equal(s->format, SY_FORMAT_JSON);
    assert_int_equal(s->parse, SY_PARSE_TEXT);
    assert_string_equal(s->output_topic, "switchyard.results.summarize");
    assert_int_equal(s->deadline_ms, 0);

    assert_ptr_equal(sy_config_tier(&cfg, "strong-analyst"), r->tier);
    assert_ptr_equal(sy_config_tier_by_topic(&cfg, "switchyard.tier.bulk-summarizer"), s->tier);
    assert_null(sy_config_tier_by_topic(&cfg, "switchyard.tier.nope"));
    assert_null(sy_config_tier(&cfg, "nope"));
    assert_null(sy_config_task(&cfg, "nope"));
    sy_config_free(&cfg);
    assert_int_equal(cfg.ntasks, 0);
    sy_config_free(&cfg); /* twice is harmless */
}

static void test_cost(void **state)
{
    (void)state;
    sy_config cfg;
    load_examples(&cfg);
    const sy_task *c = sy_config_task(&cfg, "classify");
    const sy_model *mini = c->tier->models[0].model;
    assert_near(sy_model_cost(mini, 1000, 500), 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6);
    assert_near(sy_model_cost(mini, 1000000, 0), 0.15);
    assert_near(sy_model_cost(mini, 0, 2000000), 1.20);
    assert_near(sy_model_cost(mini, 0, 0), 0);
    const sy_model *sonnet = sy_config_task(&cfg, "triage-reply")->tier->models[0].model;
    assert_near(sy_model_cost(sonnet, 2000, 300), 2000 * 3.0 / 1e6 + 300 * 15.0 / 1e6);
    sy_config_free(&cfg);
}

/* ---- defaults and environment ------------------------------------------------------------- */

#define MODELS                                              \
    "version: 1\n"                                          \
    "providers:\n"                                          \
    "  openai: {kind: openai, api_key_env: SY_TEST_KEY}\n" \
    "models:\n"                                             \
    "  mini:\n"                                             \
    "    provider: openai\n"                                \
    "    name: gpt-4o-mini\n"                               \
    "    price_per_mtok: {input: 0.15, output: 0.60}\n"     /* line 8 */

#define BASE                                                       \
    MODELS                                                         \
    "tiers:\n"                                                     \
    "  fast:\n"                                                    \
    "    models: [mini]\n"                                         \
    "tasks:\n"                                                     \
    "  classify:\n"                                                \
    "    tier: fast\n"                                             \
    "    prompt: {id: c, version: 1, user: \"Classify {{text}}\"}\n" /* line 15 */

/* output_schema (checked, parsed once, a JSON answer), a json_schema
 * response_format used as the output schema, labels with their JSON. */
static void test_structured_output(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    const char *text = BASE "    output_schema: {type: object, required: [label]}\n"
                            "  rf:\n    tier: fast\n    prompt: {id: r, version: 1, user: x}\n"
                            "    response_format: {type: json_schema, name: n, schema: {enum: [1, 2]}}\n"
                            "  cl:\n    tier: fast\n    prompt: {id: l, version: 1, user: x}\n"
                            "    labels: [spam, \"not \\\"spam\\\"\"]\n"
                            "  beyond:\n    tier: fast\n    prompt: {id: b, version: 1, user: x}\n"
                            "    response_format: {type: json_schema, name: n, schema: {anyOf: []}}\n";
    int rc = load_one(text, 0, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    const sy_task *t = sy_config_task(&cfg, "classify");
    assert_non_null(t->params.output_schema);
    assert_int_equal(t->parse, SY_PARSE_JSON);
    assert_int_equal(t->params.response_format, SY_RF_DEFAULT);
    t = sy_config_task(&cfg, "rf");
    assert_non_null(t->params.output_schema);
    assert_int_equal(json_array_size(json_object_get(t->params.output_schema, "enum")), 2);
    t = sy_config_task(&cfg, "cl");
    assert_null(t->params.output_schema);
    assert_int_equal(t->parse, SY_PARSE_TEXT);
    assert_int_equal(t->params.nlabels, 2);
    assert_string_equal(t->params.labels[1], "not \"spam\"");
    assert_string_equal(t->params.labels_json[1], "\"not \\\"spam\\\"\"");
    /* a response_format schema beyond the subset stays the provider's to enforce */
    t = sy_config_task(&cfg, "beyond");
    assert_null(t->params.output_schema);
    assert_non_null(t->params.schema_json);
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

static void test_defaults(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    unsetenv("SY_TEST_KEY");
    int rc = load_one(BASE, 0, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    const sy_task *t = sy_config_task(&cfg, "classify");
    assert_int_equal(t->max_tokens, 1024);
    assert_near(t->temperature, 0);
    assert_int_equal(t->deadline_ms, 0);
    assert_string_equal(t->output_topic, "switchyard.results.classify");
    assert_int_equal(t->parse, SY_PARSE_TEXT);
    assert_int_equal(t->format, SY_FORMAT_MSGPACK);
    assert_false(t->has_system);
    assert_true(t->has_user);
    assert_string_equal(t->tier->topic, "switchyard.tier.fast");
    assert_int_equal(t->tier->strategy, SY_TIER_ORDERED);
    assert_near(t->tier->models[0].weight, 1);
    assert_int_equal(t->tier->retry.attempts_per_model, 3);
    assert_int_equal(t->tier->retry.base_ms, 500);
    assert_int_equal(t->tier->retry.cap_ms, 8000);
    assert_int_equal(t->tier->retry.timeout_ms, 60000);
    assert_int_equal(t->tier->breaker.consecutive, 0); /* in-a-row rule off */
    assert_true(t->tier->breaker.ratio == 0.5);
    assert_int_equal(t->tier->breaker.min_calls, 20);
    const sy_model *m = t->tier->models[0].model;
    assert_int_equal(m->context_window, 0);
    assert_int_equal(m->provider->requests_per_minute, 0);
    assert_string_equal(m->provider->base_url, "https://api.openai.com/v1");
    assert_string_equal(m->provider->api_key_env, "SY_TEST_KEY");
    assert_null(m->provider->api_key); /* unset, and not required */
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

static void test_prompt_without_user(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    int rc = load_one(MODELS "tiers: {fast: {models: [mini]}}\n"
                             "tasks:\n"
                             "  chat:\n"
                             "    tier: fast\n"
                             "    prompt: {id: chat, version: 7, system: 'Be brief.'}\n"
                             "    deadline_s: 1.5\n",
                      0, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    const sy_task *t = sy_config_task(&cfg, "chat");
    assert_true(t->has_system);
    assert_false(t->has_user);
    assert_int_equal(t->prompt_version, 7);
    assert_int_equal(t->deadline_ms, 1500);
    assert_string_equal(t->system.source, "Be brief.");
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("SY_TEST_URL", "http://127.0.0.1:8080/v1/", 1);
    setenv("SY_TEST_EMPTY", "", 1);
    setenv("SY_TEST_TOPIC_SUFFIX", "eu", 1);
    setenv("SY_TEST_RPM", "120", 1);
    unsetenv("SY_TEST_UNSET_VAR");
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    int rc = load_one("version: 1\n"
                      "providers:\n"
                      "  a: {kind: openai-compatible, base_url: '${SY_TEST_URL}'}\n"
                      "  b: {kind: openai-compatible, base_url: '${SY_TEST_UNSET_VAR:-https://b.example/v1//}'}\n"
                      "  c: {kind: openai-compatible, base_url: '${SY_TEST_EMPTY:-http://c}'}\n"
                      "  d:\n"
                      "    kind: openai-compatible\n"
                      "    base_url: http://${SY_TEST_EMPTY}d.example/${SY_TEST_UNSET_VAR:-v}1\n"
                      "    limits: {requests_per_minute: \"${SY_TEST_RPM}\"}\n"
                      "models: {m: {provider: a, name: llama, price_per_mtok: {input: 0, output: 0}}}\n"
                      "tiers: {t: {models: [m], topic: 'tier.${SY_TEST_TOPIC_SUFFIX}'}}\n"
                      "tasks:\n"
                      "  x:\n"
                      "    tier: t\n"
                      "    prompt: {id: x, version: 1, user: 'costs ${SY_TEST_UNSET_VAR} {{n}}'}\n",
                      SY_LOAD_REQUIRE_KEYS, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.providers[0]->base_url, "http://127.0.0.1:8080/v1");
    assert_string_equal(cfg.providers[1]->base_url, "https://b.example/v1");
    assert_string_equal(cfg.providers[2]->base_url, "http://c");
    assert_string_equal(cfg.providers[3]->base_url, "http://d.example/v1");
    assert_int_equal(cfg.providers[3]->requests_per_minute, 120);
    assert_null(cfg.providers[0]->api_key_env); /* optional for openai-compatible */
    assert_null(cfg.providers[0]->api_key);
    assert_string_equal(cfg.tiers[0]->topic, "tier.eu");
    assert_ptr_equal(sy_config_tier_by_topic(&cfg, "tier.eu"), cfg.tiers[0]);
    /* Prompts are sent as written: no ${} expansion there. */
    assert_string_equal(cfg.tasks[0]->user.source, "costs ${SY_TEST_UNSET_VAR} {{n}}");
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

/* ---- provider kinds and their options ----------------------------------------------------- */

/* Options: a key one kind accepts is an error under another, at its
 * place and naming the kind; values are tokens. */
static void test_provider_options(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    setenv("SY_TEST_ORG", "org-from-env", 1);
    int rc = load_one("version: 1\n"
                      "providers:\n"
                      "  a: {kind: anthropic, api_key_env: K, options: {api_version: 2024-10-22}}\n"
                      "  o:\n"
                      "    kind: openai\n"
                      "    api_key_env: K\n"
                      "    options: {organization: '${SY_TEST_ORG}', project: proj_1}\n"
                      "  c: {kind: openai-compatible, base_url: http://x, options: {}}\n",
                      0, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.providers[0]->noptions, 1);
    assert_string_equal(sy_provider_option(cfg.providers[0], "api_version")->text, "2024-10-22");
    assert_null(sy_provider_option(cfg.providers[0], "organization"));
    assert_string_equal(sy_provider_option(cfg.providers[1], "organization")->text, "org-from-env");
    assert_string_equal(sy_provider_option(cfg.providers[1], "project")->text, "proj_1");
    assert_int_equal(cfg.providers[2]->noptions, 0);
    sy_config_free(&cfg);
    sy_diags_free(&d);

    expect_error("version: 1\nproviders:\n  p:\n    kind: openai\n    api_key_env: K\n"
                 "    options: {api_version: 2024-10-22}\n",
                 6, 15, "unknown key 'api_version' in options of provider 'p' (kind openai)");
    expect_error("version: 1\nproviders:\n  p:\n    kind: openai-compatible\n    base_url: http://x\n"
                 "    options:\n      organization: org-1\n",
                 7, 7, "unknown key 'organization' in options of provider 'p' (kind openai-compatible)");
    expect_error("version: 1\nproviders:\n  p: {kind: anthropic, api_key_env: K, options: {api_vesion: x}}\n",
                 3, 50, "unknown key 'api_vesion' in options of provider 'p' (kind anthropic) (did you "
                 "mean 'api_version'?)");
    expect_error("version: 1\nproviders:\n  p: {kind: anthropic, api_key_env: K, options: {api_version: 'a b'}}\n",
                 3, 63, "options.api_version of provider 'p' (kind anthropic) must be 1 to 128 letters, "
                 "digits, '.', '_', ':' or '-', got the string 'a b'");
    expect_error("version: 1\nproviders:\n  p: {kind: anthropic, api_key_env: K, options: {api_version: \"x\\r\\nX-Evil: 1\"}}\n",
                 3, 63, "options.api_version of provider 'p' (kind anthropic) must be 1 to 128");
    expect_error("version: 1\nproviders:\n  p: {kind: anthropic, api_key_env: K, options: [api_version]}\n",
                 3, 49, "options of provider 'p' (kind anthropic) must be a mapping, got a list");
    expect_error("version: 1\nproviders:\n  p: {kind: anthropic, api_key_env: K, options: {api_version: }}\n",
                 3, 63, "options.api_version of provider 'p' (kind anthropic) has no value");
}

/* A kind the loader was not built with: registered by its descriptor
 * alone (a test-only list), with no other edit anywhere, it is accepted
 * with its defaults and options, and the product's kinds are not. */
static const sy_kind_option test_kind_options[] = {
    {.key = "deployment", .type = SY_OPTION_TOKEN},
    {.key = "batch", .type = SY_OPTION_INT, .min = 1, .max = 100},
    {0},
};
static const sy_provider_kind test_kind = {
    .name = "test-kind", .default_base_url = "https://test.example/v9", .key_required = false,
    .options = test_kind_options};
static const sy_provider_kind *const test_kinds[] = {&test_kind, NULL};

static void test_registered_kind(void **state)
{
    (void)state;
    char path[128];
    const char *files[] = {write_tmp("version: 1\n"
                                     "providers:\n"
                                     "  t: {kind: test-kind, options: {deployment: d-1, batch: 7}}\n"
                                     "  u: {kind: test-kind, api_key_env: SY_TEST_UNSET_VAR}\n",
                                     path, sizeof path)};
    sy_config cfg;
    sy_diags d = {0};
    unsetenv("SY_TEST_UNSET_VAR");
    int rc = sy_config_load(&cfg, test_kinds, files, 1, 0, &d);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_ptr_equal(cfg.providers[0]->kind, &test_kind);
    assert_string_equal(cfg.providers[0]->base_url, "https://test.example/v9");
    assert_null(cfg.providers[0]->api_key_env); /* not required by this kind */
    assert_string_equal(sy_provider_option(cfg.providers[0], "deployment")->text, "d-1");
    assert_int_equal(sy_provider_option(cfg.providers[0], "batch")->num, 7);
    assert_string_equal(sy_provider_option(cfg.providers[0], "batch")->text, "7");
    assert_string_equal(cfg.providers[1]->api_key_env, "SY_TEST_UNSET_VAR");
    sy_config_free(&cfg);
    sy_diags_free(&d);

    files[0] = write_tmp("version: 1\nproviders:\n"
                         "  o: {kind: openai, api_key_env: K}\n"
                         "  t: {kind: test-kind, options: {batch: 101, region: eu}}\n",
                         path, sizeof path);
    assert_int_equal(sy_config_load(&cfg, test_kinds, files, 1, 0, &d), -1);
    if (d.n != 3) dump_diags(&d);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.items[0].message, "kind of provider 'o' must be test-kind, got 'openai'");
    assert_int_equal(d.items[0].line, 3);
    assert_non_null(strstr(d.items[1].message, "options.batch of provider 't' (kind test-kind) must "
                                               "be an integer from 1 to 100, got '101'"));
    assert_non_null(strstr(d.items[2].message, "unknown key 'region' in options of provider 't' "
                                               "(kind test-kind)"));
    sy_diags_free(&d);
}

/* ---- errors: one diagnostic each, at the right place ---------------------------------------- */

static void test_errors_top_level(void **state)
{
    (void)state;
    expect_error("", 1, 1, "the file is empty");
    expect_error("# only a comment\n", 1, 1, "the file is empty");
    expect_error("version: 2\n", 1, 10, "version must be 1, got '2'");
    expect_error("version: '1'\n", 1, 10, "version must be 1, got the string '1'");
    expect_error("version: 1.0\n", 1, 10, "version must be 1, got '1.0'");
    expect_error("providers: {}\n", 1, 1, "missing required key 'version' at the top level");
    expect_error("version: 1\nprovider: {}\n", 2, 1,
                 "unknown key 'provider' at the top level (did you mean 'providers'?)");
    expect_error("version: 1\nversion: 1\n", 2, 1, "duplicate key 'version' at the top level");
    expect_error("- version\n- 1\n", 1, 1, "the top level must be a mapping, got a list");
    expect_error("version: 1\ntasks: [a]\n", 2, 8, "tasks must be a mapping, got a list");
    expect_error("version: 1\n---\nversion: 1\n", 3, 1, "a pipeline file holds one YAML document");
}

static void test_errors_syntax(void **state)
{
    (void)state;
    expect_error("version: 1\nproviders:\n  p: {kind: openai\n", 4, 1,
                 "YAML syntax error: did not find expected ',' or '}' (while parsing a flow "
                 "mapping at line 3, column 6)");
    expect_error("version: 1\nproviders:\n\tp: {}\n", 3, 1,
                 "YAML syntax error: found character that cannot start any token");
    expect_error("version: 1\ntasks:\n  a:\n    tier: x: y\n", 4, 12,
                 "YAML syntax error: mapping values are not allowed in this context");
    expect_error("version: 1\nmodels: *nothing\n", 2, 9, "YAML syntax error: found undefined alias");
}

static void test_errors_providers(void **state)
{
    (void)state;
    expect_error("version: 1\nproviders:\n  p: {kind: gemini}\n", 3, 13,
                 "kind of provider 'p' must be openai, anthropic, openai-compatible or azure-openai, got 'gemini'");
    expect_error("version: 1\nproviders:\n  p: {kind: opnai, api_key_env: K}\n", 3, 13,
                 "got 'opnai' (did you mean 'openai'?)");
    expect_error("version: 1\nproviders:\n  p: {kind: openai}\n", 3, 3,
                 "missing required key 'api_key_env' in provider 'p'");
    expect_error("version: 1\nproviders:\n  p: {kind: openai-compatible}\n", 3, 3,
                 "missing required key 'base_url' in provider 'p'");
    expect_error("version: 1\nproviders:\n  p: {kind: openai-compatible, base_url: ftp://x}\n", 3,
                 42, "base_url of provider 'p' must start with http:// or https://, got 'ftp://x'");
    expect_error("version: 1\nproviders:\n  p:\n    kind: anthropic\n    api_key_env: K\n"
                 "    limits: {requests_per_minute: fast}\n",
                 6, 35, "limits.requests_per_minute of provider 'p' must be an integer >= 1, got 'fast'");
    expect_error("version: 1\nproviders:\n  p:\n    kind: anthropic\n    api_key_env: K\n"
                 "    limits: {rpm: 5}\n",
                 6, 14, "unknown key 'rpm' in limits of provider 'p'");
    expect_error("version: 1\nproviders:\n  p: openai\n", 3, 6,
                 "provider 'p' must be a mapping, got 'openai'");
    expect_error("version: 1\nproviders:\n  my provider: {kind: openai, api_key_env: K}\n", 3, 3,
                 "invalid provider name 'my provider'");
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: }\n", 3, 34,
                 "api_key_env of provider 'p' has no value");
}

/* http:, ca_file:, max_connections: and max_streams_per_connection: of a
 * provider; verification cannot be turned off. */
static void test_provider_transport(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128], ca[128], text[512];
    write_tmp("-----BEGIN CERTIFICATE-----\n", ca, sizeof ca);
    snprintf(text, sizeof text,
             "version: 1\nproviders:\n"
             "  a: {kind: openai, api_key_env: K, base_url: https://x/v1, http: \"1.1\", ca_file: %s}\n"
             "  b: {kind: openai, api_key_env: K, http: 2, max_connections: 4, max_streams_per_connection: 8}\n"
             "  c: {kind: openai, api_key_env: K}\n", ca);
    int rc = load_one(text, 0, &cfg, &d, path, sizeof path);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_true(cfg.providers[0]->http1_only);
    assert_string_equal(cfg.providers[0]->ca_file, ca);
    assert_false(cfg.providers[1]->http1_only);
    assert_null(cfg.providers[1]->ca_file);
    assert_false(cfg.providers[2]->http1_only);
    assert_int_equal(cfg.providers[1]->max_connections, 4);
    assert_int_equal(cfg.providers[1]->max_streams, 8);
    assert_int_equal(cfg.providers[2]->max_connections, 0); /* unset: the engine's default */
    assert_int_equal(cfg.providers[2]->max_streams, 0);
    sy_config_free(&cfg);
    sy_diags_free(&d);
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: K, http: 3}\n", 3, 43,
                 "http of provider 'p' must be 2 or 1.1, got '3'");
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: K, ca_file: /nonexistent/ca.pem}\n",
                 3, 46, "ca_file of provider 'p' cannot be read (No such file or directory)");
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: K, insecure: true}\n", 3, 47,
                 "insecure of provider 'p': certificate verification cannot be turned off; to trust a "
                 "private or self-signed certificate, give it as ca_file:");
    expect_error("version: 1\nproviders:\n  p:\n    kind: openai\n    api_key_env: K\n    tls_verify: false\n",
                 6, 17, "tls_verify of provider 'p': certificate verification cannot be turned off");
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: K, max_connections: 0}\n", 3, 54,
                 "max_connections of provider 'p'");
    expect_error("version: 1\nproviders:\n  p:\n    kind: openai\n    api_key_env: K\n"
                 "    max_streams_per_connection: 1001\n",
                 6, 33, "max_streams_per_connection of provider 'p'");
    expect_error("version: 1\nproviders:\n  p: {kind: openai, api_key_env: K, max_connections: many}\n", 3, 54,
                 "max_connections of provider 'p'");
}

static void test_errors_models(void **state)
{
    (void)state;
    const char *head = "version: 1\nproviders:\n  openai: {kind: openai, api_key_env: K}\nmodels:\n";
    char text[1024];
    struct {
        const char *body;
        int line, col;
        const char *msg;
    } cases[] = {
        {"  m: {provider: openai, name: x, price_per_mtok: {input: -1, output: 1}}\n", 5, 58,
         "price_per_mtok.input of model 'm' must be a number >= 0, got '-1'"},
        {"  m: {provider: openai, name: x, price_per_mtok: {input: 1, output: free}}\n", 5, 69,
         "price_per_mtok.output of model 'm' must be a number >= 0, got 'free'"},
        {"  m: {provider: openai, name: x, price_per_mtok: {input: 1}}\n", 5, 34,
         "missing required key 'output' in price_per_mtok of model 'm'"},
        {"  m: {provider: openai, name: x}\n", 5, 3,
         "missing required key 'price_per_mtok' in model 'm'"},
        {"  m: {provider: openai, price_per_mtok: {input: 1, output: 1}}\n", 5, 3,
         "missing required key 'name' in model 'm'"},
        {"  m: {provider: openia, name: x, price_per_mtok: {input: 1, output: 1}}\n", 5, 17,
         "unknown provider 'openia' in model 'm' (did you mean 'openai'?)"},
        {"  m: {provider: openai, name: x, price_per_mtok: {input: 1, output: 1}, "
         "context_window: 0}\n", 5, 89, "context_window of model 'm' must be an integer >= 1, got '0'"},
        {"  m: {provider: openai, name: x, price_per_mtok: {input: 1, output: 1}, ctx: 5}\n", 5,
         73, "unknown key 'ctx' in model 'm'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        expect_error(text, cases[i].line, cases[i].col, cases[i].msg);
    }
}

static void test_errors_tiers(void **state)
{
    (void)state;
    char text[2048];
    struct {
        const char *body;
        int line, col;
        const char *msg;
    } cases[] = {
        {"  fast:\n    models: []\n", 11, 13,
         "models of tier 'fast' must be a non-empty list of models, got an empty list"},
        {"  fast:\n    models: mini\n", 11, 13,
         "models of tier 'fast' must be a non-empty list of models, got 'mini'"},
        {"  fast:\n    strategy: random\n    models: [mini]\n", 11, 15,
         "strategy of tier 'fast' must be ordered, weighted, cheapest, fastest or most-headroom, got 'random'"},
        {"  fast:\n    strategy: weighted\n    models: [{model: mini, weight: -1}]\n", 12, 36,
         "models[0].weight of tier 'fast' must be a number > 0, got '-1'"},
        {"  fast:\n    strategy: weighted\n    models: [mini]\n", 12, 14,
         "weighted tier 'fast' needs a weight for model 'mini'"},
        {"  fast:\n    models: [{model: mini, weight: 5}]\n", 11, 28,
         "weight has no effect in ordered tier 'fast' (set strategy: weighted)"},
        {"  fast:\n    models: [mini, mini]\n", 11, 20, "model 'mini' is listed twice in tier 'fast'"},
        {"  fast:\n    models: [[mini]]\n", 11, 14,
         "models[0] of tier 'fast' must be a model name or {model: NAME, weight: N}, got a list"},
        {"  fast:\n    models: [{model: mini, wieght: 2}]\n", 11, 28,
         "unknown key 'wieght' in models[0] of tier 'fast' (did you mean 'weight'?)"},
        {"  fast:\n    models: [mini, gpt-5]\n", 11, 20, "unknown model 'gpt-5' in tier 'fast'"},
        {"  fast:\n    models: [mini]\n    retry: {attempts_per_model: 0}\n", 12, 33,
         "retry.attempts_per_model of tier 'fast' must be an integer from 1 to 100, got '0'"},
        {"  fast:\n    models: [mini]\n    retry: {backoff_ms: 5}\n", 12, 13,
         "unknown key 'backoff_ms' in retry of tier 'fast'"},
        {"  fast:\n    models: [mini]\n    retry: {base_ms: 1000, cap_ms: 10}\n", 12, 36,
         "retry.cap_ms (10) of tier 'fast' is less than retry.base_ms (1000)"},
        {"  fast:\n    models: [mini]\n  slow:\n    models: [mini]\n    topic: switchyard.tier.fast\n",
         14, 12, "topic 'switchyard.tier.fast' of tier 'slow' is already the topic of tier 'fast'"},
        {"  fast:\n    models: [mini]\n    topic: switchyard.dlq\n", 12, 12,
         "topic of tier 'fast' is 'switchyard.dlq', which switchyard itself uses"},
        {"  fast:\n    models: [mini]\n    topic: 'no spaces'\n", 12, 12,
         "topic of tier 'fast' is not a valid Kafka topic name, got the string 'no spaces'"},
        {"  fast:\n    models: [mini]\n    mode: bulk\n", 12, 11,
         "mode of tier 'fast' must be sync or batch, got 'bulk'"},
        {"  fast:\n    models: [mini]\n    batch: {max_jobs: 5}\n", 12, 12,
         "batch settings of tier 'fast' need mode: batch"},
        {"  fast:\n    models: [mini]\n    mode: batch\n    batch: {max_jobs: 50001}\n", 13, 23,
         "batch.max_jobs of tier 'fast' must be an integer from 1 to 50000, got '50001'"},
        {"  fast:\n    models: [mini]\n    mode: batch\n    batch: {poll_ms: 90000}\n", 13, 22,
         "batch.poll_max_ms (60000) of tier 'fast' is less than batch.poll_ms (90000)"},
        {"  fast:\n    models: [mini]\n    mode: batch\n    batch: {retry: later}\n", 13, 20,
         "batch.retry of tier 'fast' must be next_batch or sync, got 'later'"},
        {"  fast:\n    modles: [mini]\n", 11, 5,
         "unknown key 'modles' in tier 'fast' (did you mean 'models'?)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s%s", MODELS, "tiers:\n", cases[i].body);
        expect_error(text, cases[i].line, cases[i].col, cases[i].msg);
    }
    /* A tier without models. */
    snprintf(text, sizeof text, "%s%s", MODELS, "tiers:\n  fast: {strategy: ordered}\n");
    expect_error(text, 10, 3, "missing required key 'models' in tier 'fast'");
}

/* mode: batch: defaults, limits, batch prices (given or half), and a
 * provider kind without a batch API refused at the line of `mode`. */
static void test_batch_tier(void **state)
{
    (void)state;
    char text[2048], path[128];
    sy_config cfg;
    sy_diags d = {0};
    snprintf(text, sizeof text, "%s%s", MODELS,
             "  big:\n    provider: openai\n    name: gpt-4o\n"
             "    price_per_mtok: {input: 2.5, output: 10, batch_input: 1, batch_output: 4}\n"
             "tiers:\n  bulk:\n    models: [mini, big]\n    mode: batch\n"
             "    batch: {max_jobs: 200, max_wait_ms: 500, poll_ms: 50, poll_max_ms: 400, retry: sync}\n"
             "  fast:\n    models: [mini]\n");
    assert_int_equal(load_one(text, 0, &cfg, &d, path, sizeof path), 0);
    const sy_tier *bulk = sy_config_tier(&cfg, "bulk"), *fast = sy_config_tier(&cfg, "fast");
    assert_int_equal(bulk->mode, SY_TIER_BATCH);
    assert_int_equal(bulk->batch.max_jobs, 200);
    assert_int_equal(bulk->batch.max_bytes, 100 << 20);
    assert_int_equal(bulk->batch.max_wait_ms, 500);
    assert_int_equal(bulk->batch.poll_ms, 50);
    assert_int_equal(bulk->batch.poll_max_ms, 400);
    assert_int_equal(bulk->batch.retry, SY_BATCH_RETRY_SYNC);
    assert_int_equal(fast->mode, SY_TIER_SYNC);
    assert_int_equal(fast->batch.max_jobs, 1000);
    assert_int_equal(fast->batch.retry, SY_BATCH_RETRY_NEXT_BATCH);
    const sy_model *mini = bulk->models[0].model, *big = bulk->models[1].model;
    /* half price by default, the table's batch prices when given */
    assert_near(sy_model_cost_batch(mini, 1000000, 1000000), (0.15 + 0.60) / 2);
    assert_near(sy_model_cost_batch(big, 1000000, 1000000), 1 + 4);
    assert_near(sy_model_cost_batch(mini, -5, -5), 0);
    sy_config_free(&cfg);
    sy_diags_free(&d);
    snprintf(text, sizeof text, "%s",
             "version: 1\nproviders:\n  claude: {kind: openai-compatible, base_url: 'http://127.0.0.1:9/v1'}\n"
             "models:\n  sonnet:\n    provider: claude\n    name: claude-sonnet-4-5\n"
             "    price_per_mtok: {input: 3, output: 15}\n"
             "tiers:\n  bulk:\n    models: [sonnet]\n    mode: batch\n");
    expect_error(text, 12, 11, "tier 'bulk' has mode: batch, but model 'sonnet' is on provider 'claude' of kind "
                               "'openai-compatible', which has no batch API switchyard speaks");
}

static void test_errors_tasks(void **state)
{
    (void)state;
    char text[2048];
    struct {
        const char *body;
        int line, col;
        const char *msg;
    } cases[] = {
        {"    tmperature: 0.5\n", 16, 5,
         "unknown key 'tmperature' in task 'classify' (did you mean 'temperature'?)"},
        {"    temperature: hot\n", 16, 18,
         "temperature of task 'classify' must be a number from 0 to 2, got 'hot'"},
        {"    temperature: 2.01\n", 16, 18, "must be a number from 0 to 2, got '2.01'"},
        {"    temperature: -0.1\n", 16, 18, "must be a number from 0 to 2, got '-0.1'"},
        {"    temperature: \"0.5\"\n", 16, 18, "must be a number from 0 to 2, got the string '0.5'"},
        {"    temperature: .nan\n", 16, 18, "must be a number from 0 to 2, got '.nan'"},
        {"    max_tokens: 0\n", 16, 17,
         "max_tokens of task 'classify' must be an integer from 1 to 1000000, got '0'"},
        {"    max_tokens: 12.5\n", 16, 17, "must be an integer from 1 to 1000000, got '12.5'"},
        {"    max_tokens: [1]\n", 16, 17, "max_tokens of task 'classify' must be a single value, got a list"},
        {"    deadline_s: -5\n", 16, 17,
         "deadline_s of task 'classify' must be a number > 0 and <= 1e+09, got '-5'"},
        {"    output: {parse: yaml}\n", 16, 21,
         "output.parse of task 'classify' must be text or json, got 'yaml'"},
        {"    output: {format: xml}\n", 16, 22,
         "output.format of task 'classify' must be msgpack or json, got 'xml'"},
        {"    output: {topic: switchyard.jobs}\n", 16, 21,
         "output.topic of task 'classify' is 'switchyard.jobs', which switchyard itself uses"},
        {"    output: {topic: switchyard.tier.fast}\n", 16, 21,
         "output.topic 'switchyard.tier.fast' of task 'classify' is already the topic of tier 'fast'"},
        {"    output: {topic: \"bad topic\"}\n", 16, 21, "is not a valid Kafka topic name"},
        {"    output: text\n", 16, 13, "output of task 'classify' must be a mapping, got 'text'"},
        {"    output: {topik: x}\n", 16, 14,
         "unknown key 'topik' in output of task 'classify' (did you mean 'topic'?)"},
        {"    tier: fast\n", 16, 5, "duplicate key 'tier' in task 'classify' (first at line 14)"},
        {"  summarize:\n    tier: slow\n    prompt: {id: s, version: 1}\n", 17, 11,
         "unknown tier 'slow' in task 'summarize'"},
        {"  summarize:\n    tier: fast\n", 16, 3, "missing required key 'prompt' in task 'summarize'"},
        {"  summarize:\n    tier: fast\n    prompt: {version: 1}\n", 18, 5,
         "missing required key 'id' in prompt of task 'summarize'"},
        {"  summarize:\n    tier: fast\n    prompt: {id: s, version: \"1\"}\n", 18, 30,
         "prompt.version of task 'summarize' must be an integer from 1 to 1000000000, got the string '1'"},
        {"  summarize:\n    tier: fast\n    prompt: {id: s, version: 1, usr: x}\n", 18, 33,
         "unknown key 'usr' in prompt of task 'summarize' (did you mean 'user'?)"},
        {"  summarize:\n    tier: fast\n    prompt: {id: s, version: 1, user: ''}\n", 18, 39,
         "prompt.user of task 'summarize' is empty"},
        {"  bad/name:\n    tier: fast\n    prompt: {id: s, version: 1}\n", 16, 3,
         "invalid task name 'bad/name'"},
        {"  summarize: [a, b]\n", 16, 14, "task 'summarize' must be a mapping, got a list"},
        {"  classify:\n    tier: fast\n    prompt: {id: c2, version: 1}\n", 16, 3,
         "duplicate task 'classify' (first defined at "},
        {"    output: {topic: \"${SY_TEST_UNSET_VAR}\"}\n", 16, 22,
         "environment variable SY_TEST_UNSET_VAR is not set (used in output.topic of task 'classify'"},
        {"    output: {topic: \"x\\t${SY_TEST_UNSET_VAR}\"}\n", 16, 25,
         "environment variable SY_TEST_UNSET_VAR is not set"},
        {"    output: {topic: 'it''s${SY_TEST_UNSET_VAR}'}\n", 16, 27,
         "environment variable SY_TEST_UNSET_VAR is not set"},
        {"    output: {topic: \"x${1BAD}\"}\n", 16, 23,
         "bad variable reference '${1BAD}' in output.topic of task 'classify'"},
        {"    output: {topic: \"x${OPEN\"}\n", 16, 23, "unterminated '${' in output.topic"},
        {"    output_schema: {type: object, anyOf: []}\n", 16, 20,
         "output_schema of task 'classify' must stay within the JSON "
         "Schema subset of README (Structured output): $: keyword 'anyOf' is not in the supported subset"},
        {"    output_schema: {properties: {a: {type: text}}}\n", 16, 20,
         "$.properties.a: type must be one of"},
        {"    output_schema: [1]\n", 16, 20, "output_schema of task 'classify' must be a JSON Schema object"},
        {"    labels: [a, b, A]\n", 16, 13, "labels of task 'classify' must be a list of 1 to 256 distinct"},
        {"    labels: []\n", 16, 13, "labels of task 'classify' must be a list"},
        {"    labels: a\n", 16, 13, "labels of task 'classify' must be a list"},
        {"    labels: [\"a\\tb\"]\n", 16, 13, "of 1 to 64 printable bytes"},
        {"    labels: [a]\n    output_schema: true\n", 16, 13, "not beside an output schema"},
    };
    unsetenv("SY_TEST_UNSET_VAR");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", BASE, cases[i].body);
        expect_error(text, cases[i].line, cases[i].col, cases[i].msg);
    }
}

/* ---- template errors point into the scalar ----------------------------------------------- */

/* Compile src and return the offset the template compiler blames. */
static size_t template_error_offset(const char *src)
{
    sy_template t;
    memset(&t, 0, sizeof t);
    char err[256];
    size_t off = 0;
    assert_int_equal(sy_template_compile(&t, src, err, sizeof err, &off), -1);
    return off;
}

static void test_template_errors(void **state)
{
    (void)state;
    char text[2048];
    const char *prefix = MODELS "tiers: {fast: {models: [mini]}}\ntasks:\n  t:\n    tier: fast\n"
                                "    prompt:\n      id: t\n      version: 1\n"; /* to line 15 */

    /* Double-quoted, with an escape before the error: "\t" is 2 columns, 1 byte. */
    const char *v1 = "A\tB {{x}} then {{";
    size_t off = template_error_offset(v1);
    snprintf(text, sizeof text, "%s      user: \"A\\tB {{x}} then {{\"\n", prefix);
    expect_error(text, 16, 13 + 1 + (int)off + (off > 1 ? 1 : 0),
                 "bad template in prompt.user of task 't'");

    /* Plain scalar. */
    const char *v2 = "Summarize {{text}} in {{";
    off = template_error_offset(v2);
    snprintf(text, sizeof text, "%s      system: %s\n", prefix, v2);
    expect_error(text, 16, 15 + (int)off, "bad template in prompt.system of task 't'");

    /* Literal block: the error on the block's second line. */
    const char *v3 = "Line one {{a}}\nThen {{\n";
    off = template_error_offset(v3);
    snprintf(text, sizeof text, "%s      user: |\n        Line one {{a}}\n        Then {{\n", prefix);
    const char *nl = strchr(v3, '\n');
    int line = 17 + (off > (size_t)(nl - v3) ? 1 : 0);
    int col = 9 + (int)(off > (size_t)(nl - v3) ? off - (size_t)(nl - v3 + 1) : off);
    expect_error(text, line, col, "bad template in prompt.user of task 't'");

    /* Folded block: no exact mapping, so the scalar's start. */
    snprintf(text, sizeof text, "%s      user: >\n        Line one {{a}}\n        Then {{\n", prefix);
    expect_error(text, 16, 13, "bad template in prompt.user of task 't'");
}

/* ---- collecting every error; several files ----------------------------------------------- */

static void test_all_errors_collected(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    int rc = load_one(BASE "    temperature: 9\n"
                           "    output: {parse: yml}\n"
                           "  other:\n"
                           "    tier: nowhere\n"
                           "    prompt: {id: o}\n",
                      0, &cfg, &d, path, sizeof path);
    assert_int_equal(rc, -1);
    if (d.n != 4) dump_diags(&d);
    assert_int_equal(d.n, 4);
    /* Sorted by position, whichever pass found them. */
    assert_int_equal(d.items[0].line, 16);
    assert_non_null(strstr(d.items[0].message, "temperature"));
    assert_int_equal(d.items[1].line, 17);
    assert_non_null(strstr(d.items[1].message, "output.parse"));
    assert_int_equal(d.items[2].line, 19);
    assert_non_null(strstr(d.items[2].message, "unknown tier 'nowhere'"));
    assert_int_equal(d.items[3].line, 20);
    assert_non_null(strstr(d.items[3].message, "missing required key 'version' in prompt"));
    sy_diags_free(&d);
}

static void test_names_across_files(void **state)
{
    (void)state;
    char pa[128], pb[128], pc[128];
    /* a.yaml's task uses b.yaml's tier, b.yaml's tier uses a.yaml's model. */
    write_tmp(MODELS "tasks:\n  t: {tier: remote, prompt: {id: t, version: 1}}\n", pa, sizeof pa);
    write_tmp("version: 1\ntiers:\n  remote: {models: [mini]}\n", pb, sizeof pb);
    const char *files[] = {pa, pb};
    sy_config cfg;
    sy_diags d = {0};
    int rc = sy_config_load(&cfg, sy_provider_kinds, files, 2, 0, &d);
    if (rc) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_string_equal(sy_config_task(&cfg, "t")->tier->name, "remote");
    assert_string_equal(sy_config_task(&cfg, "t")->tier->models[0].model->name, "gpt-4o-mini");
    sy_config_free(&cfg);

    /* The same task in two files: an error at the second, naming the first. */
    write_tmp("version: 1\n\ntasks:\n  t: {tier: remote, prompt: {id: t2, version: 1}}\n", pc,
              sizeof pc);
    const char *three[] = {pa, pb, pc};
    rc = sy_config_load(&cfg, sy_provider_kinds, three, 3, 0, &d);
    assert_int_equal(rc, -1);
    if (d.n != 1) dump_diags(&d);
    assert_int_equal(d.n, 1);
    char want[300];
    snprintf(want, sizeof want, "duplicate task 't' (first defined at %s:10:3)", pa);
    assert_string_equal(d.items[0].message, want);
    assert_string_equal(d.items[0].file, pc);
    assert_int_equal(d.items[0].line, 4);
    assert_int_equal(d.items[0].column, 3);
    sy_diags_free(&d);

    /* Loading the examples twice: every name is a duplicate. */
    const char *twice[] = {examples[0], examples[1], examples[0]};
    rc = sy_config_load(&cfg, sy_provider_kinds, twice, 3, 0, &d);
    assert_int_equal(rc, -1);
    assert_int_equal(d.n, 2 + 4 + 2 + 2); /* providers, models, tiers, tasks */
    const sy_diag *g = find_diag(&d, "duplicate model 'gpt-4o'");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "(first defined at pipelines/support-tickets.yaml:29:3)"));
    sy_diags_free(&d);

    /* An unreadable file. */
    const char *none[] = {"/nonexistent/dir/p.yaml"};
    rc = sy_config_load(&cfg, sy_provider_kinds, none, 1, 0, &d);
    assert_int_equal(rc, -1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 0);
    assert_string_equal(d.items[0].message, "cannot read: No such file or directory");
    sy_diags_free(&d);
}

/* ---- what is read at all ---------------------------------------------------------------- */

/* Loading file fails with one error, not tied to a line, saying msg. */
static void expect_unreadable(const char *file, const char *msg)
{
    sy_config cfg;
    sy_diags d = {0};
    const char *files[] = {file};
    assert_int_equal(sy_config_load(&cfg, sy_provider_kinds, files, 1, 0, &d), -1);
    if (d.n != 1 || strcmp(d.items[0].message, msg)) dump_diags(&d);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].file, file);
    assert_int_equal(d.items[0].line, 0);
    assert_string_equal(d.items[0].message, msg);
    sy_diags_free(&d);
}

/* A file of exactly n bytes: a comment, then newlines. */
static const char *write_sized(size_t n, char *path, size_t pathlen)
{
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, '\n', n);
    text[0] = '#';
    text[n] = '\0';
    write_tmp(text, path, pathlen);
    free(text);
    return path;
}

static void test_only_regular_files(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/a-directory.yaml", tmp_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_unreadable(path, "cannot read: a directory, not a regular file");
    rmdir(path);

    /* A FIFO nobody writes to: refused at once, not waited on. */
    snprintf(path, sizeof path, "%s/a-fifo.yaml", tmp_dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_unreadable(path, "cannot read: a FIFO, not a regular file");
    unlink(path);

    expect_unreadable("/dev/zero", "cannot read: a character device, not a regular file");

    /* The size cap: 1 MB is read, one byte more is not. */
    sy_config cfg;
    sy_diags d = {0};
    const char *at_cap[] = {write_sized(YN_MAX_FILE_BYTES, path, sizeof path)};
    assert_int_equal(sy_config_load(&cfg, sy_provider_kinds, at_cap, 1, 0, &d), -1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].message, "the file is empty"));
    sy_diags_free(&d);
    expect_unreadable(write_sized(YN_MAX_FILE_BYTES + 1, path, sizeof path),
                      "cannot read: larger than 1 MB, the limit of a pipeline file");
}

/* "version: 1\nproviders: " then n levels of flow lists. */
static char *nested(size_t n)
{
    const char *head = "version: 1\nproviders: ";
    size_t h = strlen(head);
    char *text = malloc(h + 2 * n + 2);
    assert_non_null(text);
    memcpy(text, head, h);
    memset(text + h, '[', n);
    memset(text + h + n, ']', n);
    strcpy(text + h + 2 * n, "\n");
    return text;
}

static void test_nesting_depth(void **state)
{
    (void)state;
    /* 64 levels (the top mapping and 63 lists) load; the list is then wrong. */
    char *text = nested(YN_MAX_DEPTH - 1);
    expect_error(text, 2, 12, "providers must be a mapping, got a list");
    free(text);
    /* The 65th level is refused where it opens. */
    text = nested(YN_MAX_DEPTH);
    expect_error(text, 2, 12 + YN_MAX_DEPTH - 1, "nested deeper than 64 levels");
    free(text);
    /* 40,000 levels (libyaml's loader alone took seconds): refused at once. */
    text = nested(40000);
    int64_t t0 = sy_mono_us();
    expect_error(text, 2, 12 + YN_MAX_DEPTH - 1, "nested deeper than 64 levels");
    int64_t took = sy_mono_us() - t0;
    fprintf(stderr, "40,000 levels rejected in %.1f ms\n", (double)took / 1000);
    assert_true(took < 500000);
    free(text);
}

/* ---- API keys -------------------------------------------------------------------------- */

/* A key that looks real going to a local or fake provider is flagged; test
 * keys, real providers and other hosts are not. */
static void test_real_key_to_local(void **state)
{
    (void)state;
    char real[] = "sk-proj-abcdefghijklmnop", anth[] = "sk-ant-api03-xyz",
         legacy[] = "sk-0123456789012345678901234567890123456789abcd", fake[] = "fake-openai-key",
         test[] = "sk-test-openai-SECRET123";
    struct { char *key; const char *url; bool want; } cases[] = {
        {real, "http://fake-provider:8080/v1", true},
        {real, "http://127.0.0.1:9/v1", true},
        {anth, "http://localhost/v1", true},
        {legacy, "http://user:pw@LOCALHOST:8080/v1?x=y", true},
        {real, "http://[::1]:8080/v1", true},
        {real, "https://api.openai.com/v1", false},
        {real, "http://fake-provider.example.com/v1", false},
        {real, "http://127.example.com/v1", false},
        {real, "http://127.0.0.53/v1", true},
        {fake, "http://fake-provider:8080/v1", false},
        {test, "http://127.0.0.1:9/v1", false},
        {NULL, "http://127.0.0.1:9/v1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_provider p = {.api_key = cases[i].key, .base_url = (char *)cases[i].url};
        if (sy_provider_real_key_to_local(&p) != cases[i].want) fail_msg("case %zu", i);
    }
}

static void test_keys(void **state)
{
    (void)state;
    const char *text = "version: 1\nproviders:\n  openai:\n    kind: openai\n"
                       "    api_key_env: SY_TEST_KEY\n";
    sy_config cfg;
    sy_diags d = {0};
    char path[128];

    unsetenv("SY_TEST_KEY");
    assert_int_equal(load_one(text, 0, &cfg, &d, path, sizeof path), 0);
    assert_null(cfg.providers[0]->api_key);
    sy_config_free(&cfg);

    assert_int_equal(load_one(text, SY_LOAD_REQUIRE_KEYS, &cfg, &d, path, sizeof path), -1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 5);
    assert_int_equal(d.items[0].column, 18);
    assert_string_equal(d.items[0].message,
                        "environment variable SY_TEST_KEY (api key of provider 'openai') is not set");
    sy_diags_free(&d);

    setenv("SY_TEST_KEY", "", 1);
    assert_int_equal(load_one(text, SY_LOAD_REQUIRE_KEYS, &cfg, &d, path, sizeof path), -1);
    assert_string_equal(d.items[0].message,
                        "environment variable SY_TEST_KEY (api key of provider 'openai') is empty");
    sy_diags_free(&d);

    setenv("SY_TEST_KEY", "sk-unit-SECRET-zz9", 1);
    assert_int_equal(load_one(text, SY_LOAD_REQUIRE_KEYS, &cfg, &d, path, sizeof path), 0);
    assert_string_equal(cfg.providers[0]->api_key, "sk-unit-SECRET-zz9");
    sy_config_free(&cfg);
    unsetenv("SY_TEST_KEY");
}

static void test_key_never_in_messages(void **state)
{
    (void)state;
    /* Key variables used in wrong places, and a key pasted into api_key_env. */
    sy_config cfg;
    sy_diags d = {0};
    char path[128];
    int rc = load_one("version: 1\n"
                      "providers:\n"
                      "  openai:\n"
                      "    kind: openai\n"
                      "    base_url: ${OPENAI_API_KEY}\n"
                      "    api_key_env: OPENAI_API_KEY\n"
                      "    limits: {requests_per_minute: \"${ANTHROPIC_API_KEY}\"}\n"
                      "  pasted:\n"
                      "    kind: anthropic\n"
                      "    api_key_env: " ANTHROPIC_SECRET "\n"
                      "models:\n"
                      "  m:\n"
                      "    provider: openai\n"
                      "    name: ${OPENAI_API_KEY}\n"
                      "    price_per_mtok: {input: \"${OPENAI_API_KEY}\", output: 1}\n"
                      "    context_window: ${OPENAI_API_KEY}\n",
                      SY_LOAD_REQUIRE_KEYS, &cfg, &d, path, sizeof path);
    assert_int_equal(rc, -1);
    if (d.n != 5) dump_diags(&d);
    assert_int_equal(d.n, 5);
    assert_non_null(find_diag(&d, "base_url of provider 'openai' must start with http://"));
    assert_non_null(find_diag(&d, "limits.requests_per_minute of provider 'openai'"));
    assert_non_null(find_diag(&d, "api_key_env of provider 'pasted' must be the name of"));
    assert_non_null(find_diag(&d, "price_per_mtok.input of model 'm'"));
    assert_non_null(find_diag(&d, "context_window of model 'm'"));
    for (size_t i = 0; i < d.n; i++) {
        assert_null(strstr(d.items[i].message, "SECRET"));
        assert_null(strstr(d.items[i].message, OPENAI_SECRET));
        assert_null(strstr(d.items[i].message, ANTHROPIC_SECRET));
    }
    sy_diags_free(&d);
}

/* ---- printing, helpers ------------------------------------------------------------------------ */

static void test_diags_print(void **state)
{
    (void)state;
    sy_diags d = {0};
    sy_diags_add(&d, "a.yaml", 3, 7, "unknown key '%s'", "x");
    sy_diags_add(&d, "b.yaml", 0, 0, "cannot read: %s", "No such file or directory");
    sy_diags_add(&d, NULL, 0, 0, "no pipeline files");
    FILE *f = tmpfile();
    assert_non_null(f);
    sy_diags_print(&d, f);
    rewind(f);
    char out[512] = "";
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    assert_string_equal(out, "a.yaml:3:7: unknown key 'x'\n"
                             "b.yaml: cannot read: No such file or directory\n"
                             "no pipeline files\n");
    sy_diags_free(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.items);
}

static void test_yn_helpers(void **state)
{
    (void)state;
    int64_t i;
    double x;
    assert_true(yn_parse_int("-42", &i));
    assert_int_equal(i, -42);
    assert_false(yn_parse_int("4.0", &i));
    assert_false(yn_parse_int("0x10", &i));
    assert_false(yn_parse_int("99999999999999999999", &i));
    assert_true(yn_parse_num("1e3", &x));
    assert_near(x, 1000);
    assert_true(yn_parse_num(".5", &x));
    assert_near(x, 0.5);
    assert_false(yn_parse_num("inf", &x));
    assert_false(yn_parse_num("1e999", &x));
    assert_false(yn_parse_num("1.2.3", &x));
    assert_int_equal(sy_edit_distance("tmperature", "temperature"), 1);
    assert_int_equal(sy_edit_distance("kitten", "sitting"), 3);
    const char *keys[] = {"tier", "temperature", "max_tokens"};
    assert_string_equal(sy_closest("temprature", keys, 3), "temperature");
    assert_null(sy_closest("colour", keys, 3));
    assert_null(sy_closest("x", keys, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_structure),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_batch_tier),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_prompt_without_user),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_provider_options),
        cmocka_unit_test(test_registered_kind),
        cmocka_unit_test(test_errors_top_level),
        cmocka_unit_test(test_errors_syntax),
        cmocka_unit_test(test_errors_providers),
        cmocka_unit_test(test_provider_transport),
        cmocka_unit_test(test_errors_models),
        cmocka_unit_test(test_errors_tiers),
        cmocka_unit_test(test_errors_tasks),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_all_errors_collected),
        cmocka_unit_test(test_names_across_files),
        cmocka_unit_test(test_only_regular_files),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_real_key_to_local),
        cmocka_unit_test(test_key_never_in_messages),
        cmocka_unit_test(test_diags_print),
        cmocka_unit_test(test_yn_helpers),
        cmocka_unit_test(test_structured_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
