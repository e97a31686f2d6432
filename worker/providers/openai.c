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

void sy_openai_limits(const char *h, size_t len, sy_ratelimit_info *rl)
{
    rl->limit_requests = sy_header_int(h, len, "x-ratelimit-limit-requests");
    rl->remaining_requests = sy_header_int(h, len, "x-ratelimit-remaining-requests");
    rl->reset_requests_ms = sy_reset_from_go(h, len, "x-ratelimit-reset-requests");
    rl->limit_tokens = sy_header_int(h, len, "x-ratelimit-limit-tokens");
    rl->remaining_tokens = sy_header_int(h, len, "x-ratelimit-remaining-tokens");
    rl->reset_tokens_ms = sy_reset_from_go(h, len, "x-ratelimit-reset-tokens");
}

static void refused(sy_jspan refusal, sy_outcome *out)
{
    char *why = sy_js_strdup(refusal);
    out->error = SY_ERR_REFUSED;
    snprintf(out->message, sizeof out->message, "refused: %s", why ? why : "content_filter");
    free(why);
}

static void read_success(sy_jspan root, sy_outcome *out)
{
    sy_jspan choice = sy_js_at(sy_js_get(root, "choices"), 0);
    sy_jspan msg = sy_js_get(choice, "message"), usage = sy_js_get(root, "usage");
    sy_jspan content = sy_js_get(msg, "content"), refusal = sy_js_get(msg, "refusal");
    out->tokens_in = sy_js_int(sy_js_get(usage, "prompt_tokens"));
    out->tokens_out = sy_js_int(sy_js_get(usage, "completion_tokens"));
    if (!sy_js_is_object(msg)) return sy_outcome_malformed(out, "no choices[0].message");
    if (sy_js_is_string(refusal) || sy_js_string_is(sy_js_get(choice, "finish_reason"), "content_filter"))
        return refused(refusal, out);
    if (!sy_js_is_string(content)) return sy_outcome_malformed(out, "choices[0].message.content is not a string");
    out->output = sy_js_strdup(content);
}

void sy_openai_parse(int status, const char *body, size_t len, sy_outcome *out)
{
    sy_parse_response(status, body, len, out, read_success);
}
