/* anthropic.c -- provider module `anthropic`: the Anthropic messages wire
 * format (provider.h says what a module is).
 *
 *   POST {base_url}/messages
 *   x-api-key: KEY, anthropic-version: 2023-06-01 (options: api_version)
 *   {"model", "max_tokens", "system", "messages", "temperature", "top_p",
 *    "stop_sequences"}
 *
 * The system prompt is a top-level field, not a turn; temperature is 0..1;
 * the task's stop goes in as stop_sequences; there is no JSON mode and no
 * seed (a task's response_format and seed are not sent: the prompt asks
 * for JSON, and output.parse: json checks it). The answer is the
 * concatenation of the text blocks of `content` (thinking and tool_use
 * blocks are not output). stop_reason: refusal is SY_ERR_REFUSED (the
 * tier's on_refusal model, else no retry); max_tokens is an answer cut at
 * the task's max_tokens: delivered as it is (it was asked for and billed),
 * and for a task that parses JSON the cut document fails that parse
 * (output_parse: retried, then the next model); end_turn, stop_sequence and
 * any other reason are answers. Usage: cache_read_input_tokens and
 * cache_creation_input_tokens priced apart (cached_input, cache_write). Rate limits come in
 * anthropic-ratelimit-* headers with RFC 3339 reset times. */
#include <stdio.h>
#include <string.h>

#include "adapters.h"

#define DEFAULT_VERSION "2023-06-01"

static void build(const sy_call *call, sy_request *req)
{
    const sy_provider *p = call->model->provider;
    sy_buf_printf(&req->url, "%s/messages", p->base_url);
    const sy_option_value *version = sy_provider_option(p, "api_version");
    sy_request_add_header(req, "anthropic-version: %s", version ? version->text : DEFAULT_VERSION);
    sy_request_add_header(req, "Content-Type: application/json");
    sy_body w;
    sy_body_open(&w, &req->body, p);
    if (sy_body_key(&w, "model")) sy_buf_json_cstr(w.b, call->model->name);
    if (sy_body_key(&w, "max_tokens")) sy_buf_printf(w.b, "%d", call->max_tokens);
    if (call->system && sy_body_key(&w, "system")) sy_buf_json_cstr(w.b, call->system);
    if (sy_body_key(&w, "messages")) sy_write_turns(w.b, NULL, call->messages, call->nmessages);
    double t = call->temperature < 0 ? 0 : call->temperature > 1 ? 1 : call->temperature;
    if (sy_body_key(&w, "temperature")) sy_buf_json_double(w.b, t);
    const sy_task_params *tp = call->params;
    if (tp && tp->has_top_p && sy_body_key(&w, "top_p")) sy_buf_json_double(w.b, tp->top_p);
    if (tp && tp->nstop && sy_body_key(&w, "stop_sequences")) sy_write_strings(w.b, tp->stop, tp->nstop);
    sy_body_close(&w);
}

static void limits(const sy_headers *h, sy_ratelimit_info *rl)
{
    static const sy_limit_headers names = {
        "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
        sy_reset_from_rfc3339};
    sy_read_limits(h, &names, rl);
}

/* Each object is walked once for all the members read from it.
 * input_tokens counts only the input the cache did not serve; the
 * result's tokens_in is all of it (input + cache read + cache creation),
 * with the two cache parts priced apart. */
static void read_answer(sy_jspan root, sy_outcome *out)
{
    static const char *const root_keys[] = {"content", "usage", "stop_reason"};
    static const char *const usage_keys[] = {"input_tokens", "output_tokens",
                                             "cache_read_input_tokens", "cache_creation_input_tokens"};
    static const char *const block_keys[] = {"type", "text"};
    sy_jspan top[3], usage[4], block[2], b;
    sy_js_get_many(root, root_keys, top, 3);
    sy_js_get_many(top[1], usage_keys, usage, 4);
    out->usage.cached_in = sy_usage_tokens(usage[2]);
    out->usage.cache_write_in = sy_usage_tokens(usage[3]);
    int64_t in = sy_usage_tokens(usage[0]) + out->usage.cached_in + out->usage.cache_write_in;
    out->tokens_in = in < SY_MAX_USAGE_TOKENS ? in : SY_MAX_USAGE_TOKENS; /* each part is bounded, not the sum */
    out->tokens_out = sy_usage_tokens(usage[1]);
    out->usage.estimated = !sy_js_is_object(top[1]) || (!usage[0].p && !usage[1].p);
    if (!sy_js_is_array(top[0])) return sy_outcome_malformed(out, "no content array");
    sy_buf text;
    sy_buf_init(&text);
    sy_jsiter blocks = sy_js_iter(top[0]);
    while (sy_js_iter_next(&blocks, &b)) { /* one walk: no restart per element */
        sy_js_get_many(b, block_keys, block, 2); /* text blocks; thinking, tool_use: not output */
        if (sy_js_string_is(block[0], "text") && sy_js_is_string(block[1])) sy_js_string(block[1], &text);
    }
    if (sy_js_string_is(top[2], "refusal")) {
        out->error = SY_ERR_REFUSED;
        snprintf(out->message, sizeof out->message, "refused (stop_reason refusal)");
    } else {
        out->output = sy_xstrndup(text.len ? text.data : "", text.len);
    }
    sy_buf_free(&text);
}

static const sy_provider_ops ops = {
    .auth_name = "x-api-key", .auth_prefix = "", .build = build, .limits = limits,
    .read_answer = read_answer, .classify = sy_status_class};

/* The API version the requests name (anthropic-version), for a newer one. */
static const sy_kind_option options[] = {
    {.key = "api_version", .type = SY_OPTION_TOKEN},
    SY_PARAM_MAPPING_OPTIONS,
    {0},
};

const sy_provider_kind sy_anthropic = {
    .name = "anthropic", .default_base_url = "https://api.anthropic.com/v1", .key_required = true,
    .options = options, .ops = &ops};
