/* openai.c -- provider modules `openai` and `openai-compatible`: the OpenAI
 * chat completions wire format, also spoken by "openai-compatible" servers
 * (vLLM, Ollama, Groq, Azure-style gateways). Two tables, one set of
 * functions (provider.h says what a module is).
 *
 *   POST {base_url}/chat/completions
 *   Authorization: Bearer KEY
 *   [OpenAI-Organization: ORG, OpenAI-Project: PROJECT]  (options, openai)
 *   {"model", "messages", "max_completion_tokens" | "max_tokens",
 *    "temperature", "top_p", "seed", "stop", "response_format"}
 *
 * The task's parameters (pipeline.h sy_task_params) go in under their
 * OpenAI names; a provider's drop_params / rename_params options drop or
 * rename any member but model and messages (common.c sy_body_key).
 * Usage: prompt_tokens (cached_tokens of them from the prompt cache),
 * completion_tokens (reasoning_tokens of them); no usage -> estimated.
 *
 * Embeddings: POST {base_url}/embeddings, {"model", "input": [...],
 * "encoding_format": "float", "dimensions"?} (embeddings.h), both kinds.
 *
 * Kind openai sends max_completion_tokens (reasoning models accept only
 * that); openai-compatible sends max_tokens, the one those servers read,
 * and needs no key. Rate limits come in x-ratelimit-* headers with
 * Go-style reset durations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"
#include "embeddings.h"

/* The task's parameters, each under its own name (the mapping may rename
 * or drop it). */
static void task_params(const sy_call *call, sy_body *w)
{
    const sy_task_params *tp = call->params;
    if (tp && tp->has_top_p && sy_body_key(w, "top_p")) sy_buf_json_double(w->b, tp->top_p);
    if (tp && tp->has_seed && sy_body_key(w, "seed")) sy_buf_printf(w->b, "%lld", (long long)tp->seed);
    if (tp && tp->nstop && sy_body_key(w, "stop")) sy_write_strings(w->b, tp->stop, tp->nstop);
    sy_response_format rf = tp ? tp->response_format : SY_RF_DEFAULT;
    if (rf == SY_RF_DEFAULT) rf = call->want_json ? SY_RF_JSON_OBJECT : SY_RF_DEFAULT;
    if (rf == SY_RF_DEFAULT || !sy_body_key(w, "response_format")) return;
    if (rf == SY_RF_TEXT) sy_buf_puts(w->b, "{\"type\":\"text\"}");
    else if (rf == SY_RF_JSON_OBJECT) sy_buf_puts(w->b, "{\"type\":\"json_object\"}");
    else {
        sy_buf_puts(w->b, "{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
        sy_buf_json_cstr(w->b, tp->schema_name);
        sy_buf_printf(w->b, ",\"strict\":%s,\"schema\":%s}}", tp->strict ? "true" : "false",
                      tp->schema_json); /* JSON written by the loader (common/params.c) */
    }
}

void sy_openai_body(const sy_call *call, sy_request *req, const char *max_tokens_field,
                    bool with_model)
{
    sy_body w;
    sy_body_open(&w, &req->body, call->model->provider);
    if (with_model && sy_body_key(&w, "model")) sy_buf_json_cstr(w.b, call->model->name);
    if (sy_body_key(&w, "messages"))
        sy_write_turns(w.b, call->system, call->messages, call->nmessages); /* system = first turn */
    if (sy_body_key(&w, max_tokens_field)) sy_buf_printf(w.b, "%d", call->max_tokens);
    if (sy_body_key(&w, "temperature")) sy_buf_json_double(w.b, call->temperature);
    task_params(call, &w);
    sy_body_close(&w);
}

/* The kind's headers: the organization and project, the body's type. */
static void kind_headers(const sy_provider *p, sy_request *req)
{
    const sy_option_value *org = sy_provider_option(p, "organization");
    const sy_option_value *project = sy_provider_option(p, "project");
    if (org) sy_request_add_header(req, "OpenAI-Organization: %s", org->text);
    if (project) sy_request_add_header(req, "OpenAI-Project: %s", project->text);
    sy_request_add_header(req, "Content-Type: application/json");
}

static void build(const sy_call *call, sy_request *req, const char *max_tokens_field)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/chat/completions", p->base_url);
    kind_headers(p, req);
    sy_openai_body(call, req, max_tokens_field, true);
}

/* POST {base_url}/embeddings (embeddings.h) */
static void build_embeddings(const sy_embed_call *call, sy_request *req)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/embeddings", p->base_url);
    kind_headers(p, req);
    sy_embed_body(call, req, true);
}

static void openai_build(const sy_call *call, sy_request *req)
{
    build(call, req, "max_completion_tokens");
}

static void compatible_build(const sy_call *call, sy_request *req)
{
    build(call, req, "max_tokens");
}

static void limits(const sy_headers *h, sy_ratelimit_info *rl)
{
    static const sy_limit_headers names = {
        "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",   "x-ratelimit-remaining-tokens",   "x-ratelimit-reset-tokens",
        sy_reset_from_go};
    sy_read_limits(h, &names, rl);
}

static void refused(sy_jspan refusal, sy_outcome *out)
{
    char *why = sy_js_strdup(refusal);
    out->error = SY_ERR_REFUSED;
    snprintf(out->message, sizeof out->message, "refused: %s", why ? why : "content_filter");
    free(why);
}

/* Each object is walked once for all the members read from it. An
 * answer without usage (or with neither count) is marked for the local
 * estimate (estimate.c). */
void sy_openai_read_answer(sy_jspan root, sy_outcome *out)
{
    static const char *const root_keys[] = {"choices", "usage"};
    static const char *const choice_keys[] = {"message", "finish_reason"};
    static const char *const msg_keys[] = {"content", "refusal"};
    static const char *const usage_keys[] = {"prompt_tokens", "completion_tokens",
                                             "prompt_tokens_details", "completion_tokens_details"};
    sy_jspan top[2], choice[2], msg[2], usage[4];
    sy_js_get_many(root, root_keys, top, 2);
    sy_js_get_many(sy_js_at(top[0], 0), choice_keys, choice, 2);
    sy_js_get_many(choice[0], msg_keys, msg, 2);
    sy_js_get_many(top[1], usage_keys, usage, 4);
    out->tokens_in = sy_usage_tokens(usage[0]);
    out->tokens_out = sy_usage_tokens(usage[1]);
    out->usage.cached_in = sy_usage_tokens(sy_js_get(usage[2], "cached_tokens"));
    out->usage.reasoning_out = sy_usage_tokens(sy_js_get(usage[3], "reasoning_tokens"));
    out->usage.estimated = !sy_js_is_object(top[1]) || (!usage[0].p && !usage[1].p);
    sy_jspan content = msg[0], refusal = msg[1];
    if (!sy_js_is_object(choice[0])) return sy_outcome_malformed(out, "no choices[0].message");
    if (sy_js_is_string(refusal) || sy_js_string_is(choice[1], "content_filter"))
        return refused(refusal, out);
    if (!sy_js_is_string(content)) return sy_outcome_malformed(out, "choices[0].message.content is not a string");
    out->output = sy_js_strdup(content);
}

static const sy_provider_ops openai_ops = {
    .auth_name = "Authorization", .auth_prefix = "Bearer ", .build = openai_build,
    .limits = limits, .read_answer = sy_openai_read_answer, .classify = sy_status_class,
    .build_embeddings = build_embeddings};

static const sy_provider_ops compatible_ops = {
    .auth_name = "Authorization", .auth_prefix = "Bearer ", .build = compatible_build,
    .limits = limits, .read_answer = sy_openai_read_answer, .classify = sy_status_class,
    .build_embeddings = build_embeddings};

/* OpenAI's organization and project IDs (org-..., proj_...): sent as
 * headers, for keys that belong to several. */
static const sy_kind_option openai_options[] = {
    {.key = "organization", .type = SY_OPTION_TOKEN},
    {.key = "project", .type = SY_OPTION_TOKEN},
    SY_PARAM_MAPPING_OPTIONS,
    SY_EMBED_OPTIONS,
    {0},
};

/* What a server does not take is dropped or renamed (drop_params,
 * rename_params): Mistral's random_seed, a server without seed. */
static const sy_kind_option compatible_options[] = {
    SY_PARAM_MAPPING_OPTIONS,
    SY_EMBED_OPTIONS,
    {0},
};

const sy_provider_kind sy_openai = {
    .name = "openai", .default_base_url = "https://api.openai.com/v1", .key_required = true,
    .options = openai_options, .embeddings = true, .ops = &openai_ops};

const sy_provider_kind sy_openai_compatible = {
    .name = "openai-compatible", .default_base_url = NULL, .key_required = false,
    .options = compatible_options, .embeddings = true, .ops = &compatible_ops};
