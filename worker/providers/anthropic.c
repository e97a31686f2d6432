/* anthropic.c -- the Anthropic messages wire format.
 *
 *   POST {base_url}/messages
 *   x-api-key: KEY, anthropic-version: 2023-06-01
 *   {"model", "max_tokens", "system", "messages", "temperature"}
 *
 * The system prompt is a top-level field, not a turn; temperature is 0..1;
 * there is no JSON mode (the prompt asks for JSON). The answer is the
 * concatenation of the text blocks of `content`. Rate limits come in
 * anthropic-ratelimit-* headers with RFC 3339 reset times. */
#include <stdio.h>
#include <string.h>

#include "adapters.h"

void sy_anthropic_build(const sy_call *call, sy_request *req)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/messages", p->base_url);
    if (p->api_key && *p->api_key) sy_request_add_header(req, "x-api-key: %s", p->api_key);
    sy_request_add_header(req, "anthropic-version: 2023-06-01");
    sy_request_add_header(req, "Content-Type: application/json");
    sy_buf *b = &req->body;
    sy_buf_puts(b, "{\"model\":");
    sy_buf_json_cstr(b, call->model->name);
    sy_buf_printf(b, ",\"max_tokens\":%d,", call->max_tokens);
    if (call->system) {
        sy_buf_puts(b, "\"system\":");
        sy_buf_json_cstr(b, call->system);
        sy_buf_putc(b, ',');
    }
    sy_write_turns(b, NULL, call->messages, call->nmessages);
    double t = call->temperature < 0 ? 0 : call->temperature > 1 ? 1 : call->temperature;
    sy_buf_puts(b, ",\"temperature\":");
    sy_buf_json_double(b, t);
    sy_buf_putc(b, '}');
}

void sy_anthropic_limits(const char *h, size_t len, sy_ratelimit_info *rl)
{
    rl->limit_requests = sy_header_int(h, len, "anthropic-ratelimit-requests-limit");
    rl->remaining_requests = sy_header_int(h, len, "anthropic-ratelimit-requests-remaining");
    rl->reset_requests_ms = sy_reset_from_rfc3339(h, len, "anthropic-ratelimit-requests-reset");
    rl->limit_tokens = sy_header_int(h, len, "anthropic-ratelimit-tokens-limit");
    rl->remaining_tokens = sy_header_int(h, len, "anthropic-ratelimit-tokens-remaining");
    rl->reset_tokens_ms = sy_reset_from_rfc3339(h, len, "anthropic-ratelimit-tokens-reset");
}

static void read_success(sy_jspan root, sy_outcome *out)
{
    sy_jspan content = sy_js_get(root, "content"), usage = sy_js_get(root, "usage");
    out->tokens_in = sy_js_int(sy_js_get(usage, "input_tokens"));
    out->tokens_out = sy_js_int(sy_js_get(usage, "output_tokens"));
    if (!sy_js_is_array(content)) return sy_outcome_malformed(out, "no content array");
    sy_buf text;
    sy_buf_init(&text);
    sy_jspan block;
    for (size_t i = 0; (block = sy_js_at(content, i)).p; i++) {
        sy_jspan t = sy_js_get(block, "text");
        if (sy_js_string_is(sy_js_get(block, "type"), "text") && sy_js_is_string(t))
            sy_js_string(t, &text);
    }
    if (sy_js_string_is(sy_js_get(root, "stop_reason"), "refusal")) {
        out->error = SY_ERR_REFUSED;
        snprintf(out->message, sizeof out->message, "refused (stop_reason refusal)");
    } else {
        out->output = sy_xstrndup(text.len ? text.data : "", text.len);
    }
    sy_buf_free(&text);
}

void sy_anthropic_parse(int status, const char *body, size_t len, sy_outcome *out)
{
    sy_parse_response(status, body, len, out, read_success);
}
