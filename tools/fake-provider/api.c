/* api.c -- the two provider APIs: routing, checks, bodies, headers, errors.
 *
 * One request comes in parsed by http.c and leaves as an fp_reply: status,
 * headers, body, simulated latency and the call-log line. The checks run in
 * the order a real provider applies them (key, version header, body, rate
 * limit), then the scripted faults (markers), then the random ones, and
 * what is left succeeds with the deterministic answer from answer.c. Both
 * APIs share that flow; they differ only in where the key is, the shapes of
 * bodies and errors, and the rate-limit headers, which are kept here side by
 * side so the two stay comparable. Azure OpenAI is OpenAI's bodies at
 * `/openai/deployments/{deployment}/chat/completions?api-version=...` with
 * the key in `api-key`, error bodies whose `code` is always a string (the
 * status when there is no better one), only the remaining-count rate-limit
 * headers, and `apim-request-id`. */
#include "fake.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum err_kind {
    E_INVALID, E_AUTH, E_QUOTA, E_PERMISSION, E_NOT_FOUND, E_TOO_LARGE,
    E_RATE, E_SERVER, E_OVERLOADED, E_TIMEOUT
} err_kind;

/* Error types per kind: OpenAI type and code, Anthropic type. */
static const struct {
    const char *openai_type, *openai_code, *anthropic_type;
} err_types[] = {
    [E_INVALID] = {"invalid_request_error", NULL, "invalid_request_error"},
    [E_AUTH] = {"invalid_request_error", "invalid_api_key", "authentication_error"},
    [E_QUOTA] = {"insufficient_quota", "insufficient_quota", "billing_error"},
    [E_PERMISSION] = {"invalid_request_error", "unsupported_country_region_territory", "permission_error"},
    [E_NOT_FOUND] = {"invalid_request_error", "model_not_found", "not_found_error"},
    [E_TOO_LARGE] = {"invalid_request_error", "request_too_large", "request_too_large"},
    [E_RATE] = {"requests", "rate_limit_exceeded", "rate_limit_error"},
    [E_SERVER] = {"server_error", NULL, "api_error"},
    [E_OVERLOADED] = {"server_error", "server_is_overloaded", "overloaded_error"},
    [E_TIMEOUT] = {"server_error", "timeout", "timeout_error"},
};

/* Everything known about one provider call while it is decided. */
typedef struct call {
    fp_api api;
    int embed;               /* the embeddings API (embed.c), not chat */
    const fp_request *rq;
    fp_reply *rp;
    fp_slice key;
    json_t *root;
    const char *invalid;     /* why the body is refused, or NULL */
    fp_prompt prompt;
    fp_answer answer;
    fp_markers markers;
    fp_window window;
    int has_window;
    int64_t retry_after_ms;  /* -1 = none */
    int64_t tokens_in, tokens_out;
    char request_id[32];
} call;

static int slice_is(fp_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.p && s.n == n && memcmp(s.p, str, n) == 0;
}

static err_kind kind_for_status(int status)
{
    switch (status) {
    case 401: return E_AUTH;
    case 402: return E_QUOTA;
    case 403: return E_PERMISSION;
    case 404: return E_NOT_FOUND;
    case 413: return E_TOO_LARGE;
    case 429: return E_RATE;
    case 503: case 529: return E_OVERLOADED;
    case 504: return E_TIMEOUT;
    default: return status >= 500 ? E_SERVER : E_INVALID;
    }
}

/* ---- errors ---- */

static void openai_error_body(sy_buf *b, const char *type, const char *code, const char *msg)
{
    sy_buf_puts(b, "{\"error\":{\"message\":");
    sy_buf_json_cstr(b, msg);
    sy_buf_puts(b, ",\"type\":");
    sy_buf_json_cstr(b, type);
    sy_buf_puts(b, ",\"param\":null,\"code\":");
    sy_buf_json_cstr(b, code);
    sy_buf_puts(b, "}}");
}

static void anthropic_error_body(sy_buf *b, const char *type, const char *msg, const char *request_id)
{
    sy_buf_puts(b, "{\"type\":\"error\",\"error\":{\"type\":");
    sy_buf_json_cstr(b, type);
    sy_buf_puts(b, ",\"message\":");
    sy_buf_json_cstr(b, msg);
    sy_buf_puts(b, "},\"request_id\":");
    sy_buf_json_cstr(b, request_id);
    sy_buf_putc(b, '}');
}

/* OpenAI's body and Azure's (same shape; Azure's code is a string such
 * as "429" or "DeploymentNotFound", and its type is null). */
static int openai_like(const call *c)
{
    return c->api == FP_API_OPENAI || c->api == FP_API_AZURE;
}

static void azure_error_body(sy_buf *b, int status, const char *code, const char *msg)
{
    char num[16];
    snprintf(num, sizeof num, "%d", status);
    sy_buf_puts(b, "{\"error\":{\"code\":");
    sy_buf_json_cstr(b, code ? code : num);
    sy_buf_puts(b, ",\"message\":");
    sy_buf_json_cstr(b, msg);
    sy_buf_puts(b, ",\"param\":null,\"type\":null}}");
}

static void fail(call *c, int status, err_kind kind, const char *msg)
{
    c->rp->status = status;
    sy_buf_reset(&c->rp->body);
    if (c->api == FP_API_AZURE) {
        azure_error_body(&c->rp->body, status, err_types[kind].openai_code, msg);
    } else if (c->api == FP_API_OPENAI) {
        const char *type = err_types[kind].openai_type;
        if (kind == E_RATE && c->window.over_tokens) type = "tokens";
        openai_error_body(&c->rp->body, type, err_types[kind].openai_code, msg);
    } else {
        anthropic_error_body(&c->rp->body, err_types[kind].anthropic_type, msg, c->request_id);
    }
}

static void fail_rate_limited(call *c, int64_t retry_after_ms, const char *msg)
{
    c->retry_after_ms = retry_after_ms;
    fail(c, 429, E_RATE, msg);
}

static void fail_overloaded(call *c)
{
    fail(c, openai_like(c) ? 503 : 529, E_OVERLOADED,
         openai_like(c) ? "The server is overloaded or not ready yet." : "Overloaded");
}

static void fail_server(call *c, const char *msg)
{
    fail(c, 500, E_SERVER, msg);
}

static void fail_with_status(call *c, int status)
{
    char msg[80];
    snprintf(msg, sizeof msg, "injected error: HTTP %d ([[status:%d]] marker)", status, status);
    if (status == 429) fail_rate_limited(c, 1000, msg);
    else fail(c, status, kind_for_status(status), msg);
}

/* ---- success bodies ---- */

static void id_hex(char *out, size_t n)
{
    static uint64_t counter;
    uint64_t v = ++counter ^ (fp_cfg.seed * 0x9E3779B97F4A7C15ULL);
    uint64_t a = sy_hash64(&v, sizeof v), b = sy_hash64(&a, sizeof a);
    snprintf(out, n, "%016llx%08llx", (unsigned long long)a, (unsigned long long)(b >> 32));
}

/* [[cached:N]]: how many of the prompt tokens came from the cache. */
static int64_t cached_tokens(const call *c)
{
    return c->markers.cached < c->tokens_in ? c->markers.cached : c->tokens_in;
}

static void openai_success_body(call *c, sy_buf *b)
{
    char id[32];
    id_hex(id, sizeof id);
    sy_buf_printf(b, "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                  id, (long long)(sy_now_ms() / 1000));
    sy_buf_json_cstr(b, json_string_value(json_object_get(c->root, "model")));
    sy_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    sy_buf_json_str(b, c->answer.text.data, c->answer.text.len);
    sy_buf_printf(b, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                  c->answer.truncated ? "length" : "stop");
    if (c->markers.no_usage) { /* as some compatible servers answer */
        sy_buf_puts(b, "\"system_fingerprint\":\"fp_fake\"}");
        return;
    }
    sy_buf_printf(b, "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":%lld,\"audio_tokens\":0},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                     "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
                     "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\"}",
                  (long long)c->tokens_in, (long long)c->tokens_out, (long long)(c->tokens_in + c->tokens_out),
                  (long long)cached_tokens(c));
}

static void anthropic_success_body(call *c, sy_buf *b)
{
    char id[32];
    id_hex(id, sizeof id);
    sy_buf_printf(b, "{\"id\":\"msg_%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", id);
    sy_buf_json_cstr(b, json_string_value(json_object_get(c->root, "model")));
    sy_buf_puts(b, ",\"content\":[{\"type\":\"text\",\"text\":");
    sy_buf_json_str(b, c->answer.text.data, c->answer.text.len);
    sy_buf_printf(b, "}],\"stop_reason\":\"%s\",\"stop_sequence\":null",
                  c->answer.truncated ? "max_tokens" : "end_turn");
    if (c->markers.no_usage) {
        sy_buf_putc(b, '}');
        return;
    }
    sy_buf_printf(b, ",\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld,"
                     "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":%lld}}",
                  (long long)(c->tokens_in - cached_tokens(c)), (long long)c->tokens_out,
                  (long long)cached_tokens(c));
}

static void succeed(call *c, int malformed)
{
    c->rp->status = 200;
    c->tokens_out = c->answer.completion_tokens;
    sy_buf *b = &c->rp->body;
    sy_buf_reset(b);
    if (c->embed) c->tokens_out = 0, fp_embed_body(c->root, c->markers.no_usage, c->tokens_in, b);
    else if (openai_like(c)) openai_success_body(c, b);
    else anthropic_success_body(c, b);
    if (malformed) b->len /= 2; /* cut mid-document: never valid JSON */
}

/* ---- headers ---- */

/* Go's time.Duration format at millisecond precision: 12ms, 1.5s, 6m0s. */
static void go_duration(sy_buf *b, int64_t ms)
{
    if (ms <= 0) { sy_buf_puts(b, "0s"); return; }
    if (ms < 1000) { sy_buf_printf(b, "%lldms", (long long)ms); return; }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    if (h) sy_buf_printf(b, "%lldh", (long long)h);
    if (h || m) sy_buf_printf(b, "%lldm", (long long)m);
    sy_buf_printf(b, "%lld", (long long)s);
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, ".%03d", (int)frac);
        for (size_t n = strlen(f); n > 1 && f[n - 1] == '0'; n--) f[n - 1] = '\0';
        sy_buf_puts(b, f);
    }
    sy_buf_putc(b, 's');
}

/* RFC 3339 UTC time `ms` from now, rounded up to the second. */
static void rfc3339_after(sy_buf *b, int64_t ms)
{
    time_t t = (time_t)((sy_now_ms() + ms + 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sy_buf_puts(b, s);
}

static void openai_limit_headers(const fp_window *w, sy_buf *h)
{
    sy_buf_printf(h, "x-ratelimit-limit-requests: %lld\r\nx-ratelimit-limit-tokens: %lld\r\n"
                     "x-ratelimit-remaining-requests: %lld\r\nx-ratelimit-remaining-tokens: %lld\r\n",
                  (long long)w->limit_requests, (long long)w->limit_tokens,
                  (long long)w->remaining_requests, (long long)w->remaining_tokens);
    sy_buf_puts(h, "x-ratelimit-reset-requests: ");
    go_duration(h, w->reset_ms);
    sy_buf_puts(h, "\r\nx-ratelimit-reset-tokens: ");
    go_duration(h, w->reset_ms);
    sy_buf_puts(h, "\r\n");
}

/* Anthropic rounds remaining tokens to thousands; small test limits are
 * left exact so that they stay usable. */
static void anthropic_limit_headers(const fp_window *w, sy_buf *h)
{
    int64_t tokens = w->remaining_tokens;
    if (w->limit_tokens >= 100000) tokens -= tokens % 1000;
    sy_buf_printf(h, "anthropic-ratelimit-requests-limit: %lld\r\nanthropic-ratelimit-requests-remaining: %lld\r\n"
                     "anthropic-ratelimit-requests-reset: ",
                  (long long)w->limit_requests, (long long)w->remaining_requests);
    rfc3339_after(h, w->reset_ms);
    sy_buf_printf(h, "\r\nanthropic-ratelimit-tokens-limit: %lld\r\nanthropic-ratelimit-tokens-remaining: %lld\r\n"
                     "anthropic-ratelimit-tokens-reset: ",
                  (long long)w->limit_tokens, (long long)tokens);
    rfc3339_after(h, w->reset_ms);
    sy_buf_puts(h, "\r\n");
}

/* [[retry-after:V]] and [[reset:V]]: the values as the marker gives them
 * (1e12, 99999999h, nan, ...), after the real ones (the last one counts). */
static void hostile_headers(call *c, sy_buf *h)
{
    const fp_markers *m = &c->markers;
    int openai = openai_like(c);
    if (m->retry_after.p && c->rp->status == 429)
        sy_buf_printf(h, "retry-after: %.*s\r\n", (int)m->retry_after.n, m->retry_after.p);
    if (m->reset.p)
        sy_buf_printf(h, "%s: 0\r\n%s: %.*s\r\n",
                      openai ? "x-ratelimit-remaining-requests" : "anthropic-ratelimit-requests-remaining",
                      openai ? "x-ratelimit-reset-requests" : "anthropic-ratelimit-requests-reset",
                      (int)m->reset.n, m->reset.p);
}

static void add_headers(call *c)
{
    sy_buf *h = &c->rp->headers;
    if (c->api == FP_API_OPENAI) {
        sy_buf_printf(h, "x-request-id: %s\r\nopenai-version: 2020-10-01\r\nopenai-processing-ms: %lld\r\n",
                      c->request_id, (long long)c->rp->delay_ms);
        if (c->has_window) openai_limit_headers(&c->window, h);
    } else if (c->api == FP_API_AZURE) {
        sy_buf_printf(h, "apim-request-id: %s\r\n", c->request_id);
        if (c->has_window)
            sy_buf_printf(h, "x-ratelimit-remaining-requests: %lld\r\nx-ratelimit-remaining-tokens: %lld\r\n",
                          (long long)c->window.remaining_requests, (long long)c->window.remaining_tokens);
    } else {
        sy_buf_printf(h, "request-id: %s\r\n", c->request_id);
        if (c->has_window) anthropic_limit_headers(&c->window, h);
    }
    if (c->retry_after_ms >= 0)
        sy_buf_printf(h, "retry-after: %lld\r\nretry-after-ms: %lld\r\n",
                      (long long)((c->retry_after_ms + 999) / 1000), (long long)c->retry_after_ms);
    hostile_headers(c, h);
}

/* ---- deciding ---- */

static int check_key(call *c)
{
    int openai = openai_like(c);
    if (!c->key.p || c->key.n == 0) {
        fail(c, 401, E_AUTH, openai ? "You didn't provide an API key. You need to provide your API key in an "
                                      "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                                    : "x-api-key header is required");
    } else if (slice_is(c->key, "bad-key")) {
        fail(c, 401, E_AUTH, openai ? "Incorrect API key provided." : "invalid x-api-key");
    } else if (slice_is(c->key, "no-quota-key")) {
        if (openai) fail(c, 429, E_QUOTA, "You exceeded your current quota, please check your plan and billing details.");
        else fail(c, 402, E_QUOTA, "Your credit balance is too low to access the Anthropic API.");
    } else {
        return 0;
    }
    return -1;
}

/* ?api-version=YYYY-MM-DD[-preview]: the one query parameter Azure requires. */
static int azure_api_version(const fp_request *rq)
{
    static const char name[] = "api-version=";
    const char *end = rq->path.p + rq->path.n, *p = memchr(rq->path.p, '?', rq->path.n);
    while (p && p < end) { /* p at '?' or '&' */
        const char *v = p + 1, *amp = memchr(v, '&', (size_t)(end - v));
        const char *vend = amp ? amp : end;
        if ((size_t)(vend - v) > sizeof name - 1 && !memcmp(v, name, sizeof name - 1)) return 1;
        p = amp;
    }
    return 0;
}

static int check_request(call *c)
{
    if (check_key(c)) return -1;
    if (c->api == FP_API_AZURE && !azure_api_version(c->rq)) {
        fail(c, 404, E_NOT_FOUND, "Resource not found"); /* what Azure answers without api-version */
        return -1;
    }
    if (c->api == FP_API_ANTHROPIC && !c->rq->anthropic_version.p) {
        fail(c, 400, E_INVALID, "anthropic-version: header is required");
        return -1;
    }
    if (c->invalid) {
        fail(c, 400, E_INVALID, c->invalid);
        return -1;
    }
    return 0;
}

static int check_rate_limit(call *c)
{
    int64_t budget = c->prompt.max_tokens ? c->prompt.max_tokens : c->answer.completion_tokens;
    uint64_t key_hash = sy_hash64(c->key.p, c->key.n);
    fp_limits_take(key_hash, c->tokens_in + budget, sy_now_ms(), &c->window);
    c->has_window = 1;
    if (!c->window.over_requests && !c->window.over_tokens) return 0;
    char msg[200];
    snprintf(msg, sizeof msg, "Rate limit reached on %s per window (%lld per %lld ms). Please try again in %lldms.",
             c->window.over_requests ? "requests" : "tokens",
             (long long)(c->window.over_requests ? c->window.window_requests : c->window.window_tokens),
             (long long)fp_cfg.window_ms, (long long)c->window.reset_ms);
    fail_rate_limited(c, c->window.reset_ms, msg);
    return -1;
}

/* [[echo-key:401]] / [[echo-key:200]]: the key as providers repeat it,
 * whole, in its header forms, and masked (its first 6 and last 4 bytes),
 * in a 401 message or in the answer text. For tests that the worker keeps
 * none of it. */
static void echo_key(call *c, int status)
{
    sy_buf t;
    sy_buf_init(&t);
    int n = (int)c->key.n, head = n < 6 ? n : 6, tail = n < 4 ? n : 4;
    sy_buf_printf(&t, "Incorrect API key provided: %.*s. Sent as 'Bearer %.*s' and 'x-api-key: %.*s'. "
                      "You can find your key (%.*s***%.*s) in your account.",
                  n, c->key.p, n, c->key.p, n, c->key.p, head, c->key.p, tail, c->key.p + n - tail);
    if (status == 401) {
        fail(c, 401, E_AUTH, sy_buf_cstr(&t));
    } else {
        sy_buf_reset(&c->answer.text);
        sy_buf_puts(&c->answer.text, "ECHO ");
        sy_buf_append(&c->answer.text, t.data, t.len);
        succeed(c, 0);
    }
    sy_buf_free(&t);
}

/* Scripted faults; returns 0 when no marker decided the outcome. */
static int apply_markers(call *c)
{
    const fp_markers *m = &c->markers;
    const char *model = json_string_value(json_object_get(c->root, "model"));
    if (m->hang) {
        c->rp->status = 0;
    } else if (m->status >= 400) {
        fail_with_status(c, m->status);
    } else if (m->retry_after.p) {
        fail(c, 429, E_RATE, "injected error: [[retry-after]] marker");
    } else if (m->fail_model.p && model && slice_is(m->fail_model, model)) {
        fail_server(c, "injected error: [[fail-model]] marker matches this model");
    } else if (m->fail_first >= 0 &&
               fp_fail_first_count(sy_hash64(c->prompt.user.data, c->prompt.user.len)) <= m->fail_first) {
        fail_server(c, "injected error: [[fail-first]] marker");
    } else if (m->bad_json_first >= 0 && /* its own count: hash of U flipped */
               fp_fail_first_count(~sy_hash64(c->prompt.user.data, c->prompt.user.len)) <= m->bad_json_first) {
        sy_buf_reset(&c->answer.text); /* a model that talks around its JSON */
        sy_buf_puts(&c->answer.text, "Sure! Here is the JSON: {\"label\": ");
        c->answer.completion_tokens = 9;
        succeed(c, 0);
    } else if (m->malformed) {
        succeed(c, 1);
    } else if (m->echo_key) {
        echo_key(c, m->echo_key);
    } else {
        return 0;
    }
    return 1;
}

static void apply_random_faults(call *c)
{
    switch (fp_fault_draw()) {
    case FP_FAULT_ERROR: fail_server(c, "The server had an error while processing your request. Sorry about that!"); break;
    case FP_FAULT_OVERLOAD: fail_overloaded(c); break;
    case FP_FAULT_RATE_LIMIT: fail_rate_limited(c, 1000, "Rate limit reached (injected by --rate-limit-rate)."); break;
    case FP_FAULT_HANG: c->rp->status = 0; break;
    case FP_FAULT_MALFORMED: succeed(c, 1); break;
    case FP_FAULT_NONE: succeed(c, 0); break;
    }
}

static void decide(call *c)
{
    if (check_request(c)) return;
    c->tokens_in = c->prompt.prompt_tokens;
    fp_markers_parse(c->prompt.user.data, c->prompt.user.len, &c->markers);
    fp_answer_compute(&c->prompt, c->markers.size, &c->answer);
    if (c->markers.latency_ms >= 0) c->rp->delay_ms = c->markers.latency_ms;
    if (check_rate_limit(c)) return;
    if (apply_markers(c)) return;
    apply_random_faults(c);
}

/* ---- one call ---- */

static fp_slice request_key(fp_api api, const fp_request *rq)
{
    if (api == FP_API_ANTHROPIC) return rq->api_key;
    if (api == FP_API_AZURE) return rq->azure_key;
    fp_slice k = rq->authorization;
    if (k.p && k.n >= 7 && strncasecmp(k.p, "Bearer ", 7) == 0) {
        k.p += 7;
        k.n -= 7;
        while (k.n && *k.p == ' ') k.p++, k.n--;
    } else {
        k.p = NULL;
        k.n = 0;
    }
    return k;
}

static void call_begin(call *c, fp_api api, int embed, const fp_request *rq, fp_reply *rp)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    c->embed = embed;
    c->rq = rq;
    c->rp = rp;
    c->retry_after_ms = -1;
    c->key = request_key(api, rq);
    snprintf(c->request_id, sizeof c->request_id, "req_");
    id_hex(c->request_id + 4, sizeof c->request_id - 4);
    fp_prompt_init(&c->prompt);
    sy_buf_init(&c->answer.text);
    json_error_t err;
    c->root = json_loadb(rq->body.p ? rq->body.p : "", rq->body.n, 0, &err);
    if (!c->root) c->invalid = "We could not parse the JSON body of your request.";
    else if (embed) c->invalid = fp_embed_read(api, c->root, &c->prompt);
    else c->invalid = fp_prompt_read(api, c->root, &c->prompt);
    rp->api = api;
    rp->delay_ms = fp_latency_draw();
}

static void call_log_tail(call *c)
{
    sy_buf *b = &c->rp->call;
    sy_buf_printf(b, "\"api\":\"%s\",\"model\":",
                  c->api == FP_API_OPENAI ? "openai" : c->api == FP_API_AZURE ? "azure" : "anthropic");
    sy_buf_json_cstr(b, json_string_value(json_object_get(c->root, "model")));
    sy_buf_puts(b, ",\"job\":");
    if (c->rq->job.p) sy_buf_json_str(b, c->rq->job.p, c->rq->job.n);
    else sy_buf_puts(b, "null");
    if (c->key.p && c->key.n)
        sy_buf_printf(b, ",\"key_id\":\"%08llx\"", (unsigned long long)(sy_hash64(c->key.p, c->key.n) >> 32));
    else
        sy_buf_puts(b, ",\"key_id\":null");
    if (c->embed) { /* how many inputs the request carried */
        json_t *in = json_object_get(c->root, "input");
        sy_buf_printf(b, ",\"inputs\":%zu", json_is_array(in) ? json_array_size(in) : (size_t)(in != NULL));
    }
    sy_buf_printf(b, ",\"prompt_hash\":\"%016llx\",\"status\":%d,\"tokens_in\":%lld,\"tokens_out\":%lld,"
                     "\"latency_ms\":%lld}\n",
                  (unsigned long long)sy_hash64(c->prompt.user.data, c->prompt.user.len), c->rp->status,
                  (long long)c->tokens_in, (long long)c->tokens_out, (long long)c->rp->delay_ms);
}

static void call_end(call *c)
{
    json_decref(c->root);
    fp_prompt_free(&c->prompt);
    sy_buf_free(&c->answer.text);
}

static void provider_call(fp_api api, int embed, const fp_request *rq, fp_reply *rp)
{
    call c;
    call_begin(&c, api, embed, rq, rp);
    decide(&c);
    if (rp->status == 0) sy_buf_reset(&rp->body); /* hang: nothing is ever sent */
    add_headers(&c);
    call_log_tail(&c);
    call_end(&c);
}

void fp_api_call(fp_api api, const fp_request *rq, fp_reply *rp)
{
    fp_reply_reset(rp);
    provider_call(api, 0, rq, rp); /* a batch line: a chat call */
}

/* ---- routing ---- */

static void plain(fp_reply *rp, int status, const char *content_type, const char *body)
{
    rp->status = status;
    rp->content_type = content_type;
    sy_buf_puts(&rp->body, body);
}

static void not_found(const fp_request *rq, fp_reply *rp, int status)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %.*s %.*s", status == 405 ? "Method not allowed" : "Unknown request URL",
             (int)rq->method.n, rq->method.p, (int)(rq->path.n > 200 ? 200 : rq->path.n), rq->path.p);
    rp->status = status;
    openai_error_body(&rp->body, "invalid_request_error", status == 405 ? "method_not_allowed" : "unknown_url", msg);
}

/* [.../]openai/deployments/{deployment}/<tail> (any prefix, so that a
 * base URL with a path works), the deployment one path segment. */
static int azure_path_to(fp_slice path, const char *tail_s)
{
    static const char head[] = "/openai/deployments/";
    size_t tail_n = strlen(tail_s);
    const char *end = path.p + path.n, *h = NULL;
    for (const char *p = path.p; p + sizeof head - 1 <= end; p++)
        if (!memcmp(p, head, sizeof head - 1)) { h = p + sizeof head - 1; break; }
    if (!h || (size_t)(end - h) <= tail_n || memcmp(end - tail_n, tail_s, tail_n)) return 0;
    const char *d_end = end - tail_n;
    return d_end > h && !memchr(h, '/', (size_t)(d_end - h));
}

static int azure_path(fp_slice path)
{
    return azure_path_to(path, "/chat/completions") || azure_path_to(path, "/embeddings");
}

void fp_api_handle(const fp_request *rq, fp_reply *rp)
{
    fp_reply_reset(rp);
    fp_slice path = rq->path;
    const char *q = memchr(path.p, '?', path.n);
    if (q) path.n = (size_t)(q - path.p);
    int get = slice_is(rq->method, "GET"), post = slice_is(rq->method, "POST");
    fp_api api = slice_is(path, "/v1/chat/completions") || slice_is(path, "/v1/embeddings") ? FP_API_OPENAI
                 : slice_is(path, "/v1/messages")       ? FP_API_ANTHROPIC
                 : azure_path(path)                     ? FP_API_AZURE
                                                        : FP_API_OTHER;
    fp_record_request(api);
    int embed = slice_is(path, "/v1/embeddings") || azure_path_to(path, "/embeddings");
    if (api != FP_API_OTHER && post) provider_call(api, embed, rq, rp);
    else if (api != FP_API_OTHER) not_found(rq, rp, 405);
    else if (get && slice_is(path, "/health")) plain(rp, 200, "text/plain", "ok");
    else if (get && slice_is(path, "/stats")) { rp->status = 200; fp_record_stats_json(&rp->body); }
    else if (fp_batch_handle(rq, path, rp)) return;
    else not_found(rq, rp, 404);
}
