/* openai.c -- the OpenAI chat completions wire format, also spoken by
 * "openai-compatible" servers (vLLM, Ollama, Groq, Azure-style gateways).
 *
 *   POST {base_url}/chat/completions
 *   Authorization: Bearer KEY
 *   {"model", "messages", "max_completion_tokens" | "max_tokens",
 *    "temperature", "response_format"}
 *
 * Kind openai sends max_completion_tokens (reasoning models accept only
 * that); openai-compatible sends max_tokens, the one those servers read.
 * Rate limits come in x-ratelimit-* headers with Go-style reset durations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"

void sy_openai_build(const sy_call *call, sy_request *req)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/chat/completions", p->base_url);
    if (p->api_key && *p->api_key) sy_request_add_header(req, "Authorization: Bearer %s", p->api_key);
    sy_request_add_header(req, "Content-Type: application/json");
    sy_buf *b = &req->body;
    sy_buf_puts(b, "{\"model\":");
    sy_buf_json_cstr(b, call->model->name);
    sy_buf_putc(b, ',');
    sy_write_turns(b, call->system, call->messages, call->nmessages); /* system = first turn */
    sy_buf_printf(b, ",\"%s\":%d,\"temperature\":",
                  p->kind == SY_PROVIDER_OPENAI ? "max_completion_tokens" : "max_tokens",
                  call->max_tokens);
    sy_buf_json_double(b, call->temperature);
    if (call->want_json) sy_buf_puts(b, ",\"response_format\":{\"type\":\"json_object\"}");
    sy_buf_putc(b, '}');
}

void sy_openai_limits(const sy_headers *h, sy_ratelimit_info *rl)
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
static void read_success(sy_jspan root, sy_outcome *out)
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

void sy_openai_parse(int status, const char *body, size_t len, sy_outcome *out)
{
    sy_parse_response(status, body, len, out, read_success);
}
