/* openai.c -- provider modules `openai` and `openai-compatible`: the OpenAI
 * chat completions wire format, also spoken by "openai-compatible" servers
 * (vLLM, Ollama, Groq, Azure-style gateways). Two tables, one set of
 * functions (provider.h says what a module is).
 *
 *   POST {base_url}/chat/completions
 *   Authorization: Bearer KEY
 *   [OpenAI-Organization: ORG, OpenAI-Project: PROJECT]  (options, openai)
 *   {"model", "messages", "max_completion_tokens" | "max_tokens",
 *    "temperature", "response_format"}
 *
 * Kind openai sends max_completion_tokens (reasoning models accept only
 * that); openai-compatible sends max_tokens, the one those servers read,
 * and needs no key. Rate limits come in x-ratelimit-* headers with
 * Go-style reset durations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"

static void build(const sy_call *call, sy_request *req, const char *max_tokens_field)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/chat/completions", p->base_url);
    const sy_option_value *org = sy_provider_option(p, "organization");
    const sy_option_value *project = sy_provider_option(p, "project");
    if (org) sy_request_add_header(req, "OpenAI-Organization: %s", org->text);
    if (project) sy_request_add_header(req, "OpenAI-Project: %s", project->text);
    sy_request_add_header(req, "Content-Type: application/json");
    sy_buf *b = &req->body;
    sy_buf_puts(b, "{\"model\":");
    sy_buf_json_cstr(b, call->model->name);
    sy_buf_putc(b, ',');
    sy_write_turns(b, call->system, call->messages, call->nmessages); /* system = first turn */
    sy_buf_printf(b, ",\"%s\":%d,\"temperature\":", max_tokens_field, call->max_tokens);
    sy_buf_json_double(b, call->temperature);
    if (call->want_json) sy_buf_puts(b, ",\"response_format\":{\"type\":\"json_object\"}");
    sy_buf_putc(b, '}');
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

/* Each object is walked once for all the members read from it. */
static void read_answer(sy_jspan root, sy_outcome *out)
{
    static const char *const root_keys[] = {"choices", "usage"};
    static const char *const choice_keys[] = {"message", "finish_reason"};
    static const char *const msg_keys[] = {"content", "refusal"};
    static const char *const usage_keys[] = {"prompt_tokens", "completion_tokens"};
    sy_jspan top[2], choice[2], msg[2], usage[2];
    sy_js_get_many(root, root_keys, top, 2);
    sy_js_get_many(sy_js_at(top[0], 0), choice_keys, choice, 2);
    sy_js_get_many(choice[0], msg_keys, msg, 2);
    sy_js_get_many(top[1], usage_keys, usage, 2);
    out->tokens_in = sy_usage_tokens(usage[0]);
    out->tokens_out = sy_usage_tokens(usage[1]);
    sy_jspan content = msg[0], refusal = msg[1];
    if (!sy_js_is_object(choice[0])) return sy_outcome_malformed(out, "no choices[0].message");
    if (sy_js_is_string(refusal) || sy_js_string_is(choice[1], "content_filter"))
        return refused(refusal, out);
    if (!sy_js_is_string(content)) return sy_outcome_malformed(out, "choices[0].message.content is not a string");
    out->output = sy_js_strdup(content);
}

static const sy_provider_ops openai_ops = {
    .auth_name = "Authorization", .auth_prefix = "Bearer ", .build = openai_build,
    .limits = limits, .read_answer = read_answer, .classify = sy_status_class};

static const sy_provider_ops compatible_ops = {
    .auth_name = "Authorization", .auth_prefix = "Bearer ", .build = compatible_build,
    .limits = limits, .read_answer = read_answer, .classify = sy_status_class};

/* OpenAI's organization and project IDs (org-..., proj_...): sent as
 * headers, for keys that belong to several. */
static const sy_kind_option openai_options[] = {
    {.key = "organization", .type = SY_OPTION_TOKEN},
    {.key = "project", .type = SY_OPTION_TOKEN},
    {0},
};

const sy_provider_kind sy_openai = {
    .name = "openai", .default_base_url = "https://api.openai.com/v1", .key_required = true,
    .options = openai_options, .ops = &openai_ops};

const sy_provider_kind sy_openai_compatible = {
    .name = "openai-compatible", .default_base_url = NULL, .key_required = false,
    .options = NULL, .ops = &compatible_ops};
