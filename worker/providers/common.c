/* common.c -- what the provider modules share: the request buffers, header
 * lookup, the provider-independent reading of HTTP statuses, retry-after
 * and rate-limit values, error bodies, and the two entry points that call
 * a provider's module through its table (sy_provider_build,
 * sy_provider_parse), where the key is written and scrubbed.
 *
 * Status -> error class follows the providers' SDKs: 408/409/429/5xx are
 * retryable, 400/401/403/404/422 never are, 429 insufficient_quota is a
 * quota problem (no retry helps), context-length errors get their own class
 * so routing can fall back to a model with a larger window. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "adapters.h"
#include "scrub.h"

void sy_request_init(sy_request *r)
{
    sy_buf_init(&r->url);
    sy_buf_init(&r->headers);
    sy_buf_init(&r->body);
    r->nheaders = 0;
    r->http1_only = false;
    r->ca_file = NULL;
    r->lane = NULL;
    r->max_connections = r->max_streams = 0;
    r->get = false;
    r->body_only = false;
}

void sy_request_reset(sy_request *r)
{
    sy_buf_reset(&r->url);
    sy_buf_reset(&r->headers);
    sy_buf_reset(&r->body);
    r->nheaders = 0;
    r->http1_only = false;
    r->ca_file = NULL;
    r->lane = NULL;
    r->max_connections = r->max_streams = 0;
    r->get = false;
    r->body_only = false;
}

void sy_request_free(sy_request *r)
{
    sy_buf_free(&r->url);
    sy_buf_wipe(&r->headers); /* the key's header line */
    sy_buf_free(&r->body);
    r->nheaders = 0;
}

void sy_request_add_header(sy_request *r, const char *fmt, ...)
{
    if (r->body_only) return; /* never sent: no printf, no copy of the key */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    bool ok = n >= 0 && (size_t)n < sizeof line;
    for (int i = 0; ok && i < n; i++) /* a CR or LF would end the header and start another */
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t') ok = false;
    if (ok) {
        sy_buf_append(&r->headers, line, (size_t)n + 1); /* keep the NUL separator */
        r->nheaders++;
    }
    explicit_bzero(line, sizeof line); /* it may be the key's line */
}

void sy_request_add_job_header(sy_request *r, const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    if (r->body_only) return;
    char enc[3 * 256 + 1];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p && o + 4 <= sizeof enc; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) enc[o++] = (char)*p;
        else {
            enc[o++] = '%';
            enc[o++] = hex[*p >> 4];
            enc[o++] = hex[*p & 15];
        }
    }
    enc[o] = '\0';
    sy_request_add_header(r, "X-Switchyard-Job: %s", enc);
}

void sy_outcome_free(sy_outcome *o)
{
    free(o->output);
    o->output = NULL;
}

void sy_request_add_key(sy_request *req, const sy_provider *p)
{
    const sy_provider_ops *ops = p->kind->ops;
    if (p->api_key && *p->api_key)
        sy_request_add_header(req, "%s: %s%s", ops->auth_name, ops->auth_prefix, p->api_key);
    sy_request_transport(req, p);
}

void sy_request_transport(sy_request *req, const sy_provider *p)
{
    req->http1_only = p->http1_only;
    req->ca_file = p->ca_file;
    req->lane = p->max_connections || p->max_streams ? p->name : NULL;
    req->max_connections = p->max_connections;
    req->max_streams = p->max_streams;
}

void sy_provider_build(const sy_call *call, sy_request *req)
{
    sy_request_add_key(req, call->model->provider);
    call->model->provider->kind->ops->build(call, req);
}

static void outcome_init(sy_outcome *o, int status)
{
    memset(o, 0, sizeof *o);
    o->http_status = status;
    o->retry_after_ms = -1;
    o->should_retry = -1;
    o->rl = (sy_ratelimit_info){-1, -1, -1, -1, -1, -1};
}

/* Nothing the worker keeps of an answer holds the key (scrub.h): the
 * message (decoded, so escaped copies too) and the output text. */
static void scrub_outcome(sy_outcome *out, const char *key)
{
    sy_scrub_key_in(out->message, sizeof out->message, key);
    if (!out->output) return;
    size_t n;
    char *clean = sy_scrub_key(out->output, strlen(out->output), key, &n);
    if (!clean) return;
    free(out->output);
    out->output = clean;
}

static void parse_response(const sy_provider_ops *ops, sy_answer_reader read, void *ctx, int status,
                           const char *body, size_t len, bool checked, sy_outcome *out);

static void parse_all(const sy_provider *p, sy_answer_reader read, void *ctx, int status,
                      const char *headers, size_t hlen, const char *body, size_t blen, bool checked,
                      sy_outcome *out);

void sy_provider_parse(const sy_provider *p, int status, const char *headers, size_t hlen,
                       const char *body, size_t blen, sy_outcome *out)
{
    parse_all(p, NULL, NULL, status, headers, hlen, body, blen, false, out);
}

void sy_provider_parse_checked(const sy_provider *p, int status, const char *body, size_t blen, sy_outcome *out)
{
    parse_all(p, NULL, NULL, status, "", 0, body, blen, true, out);
}

void sy_provider_parse_with(const sy_provider *p, sy_answer_reader read, void *ctx, int status,
                            const char *headers, size_t hlen, const char *body, size_t blen,
                            sy_outcome *out)
{
    parse_all(p, read, ctx, status, headers, hlen, body, blen, false, out);
}

static void parse_all(const sy_provider *p, sy_answer_reader read, void *ctx, int status,
                      const char *headers, size_t hlen, const char *body, size_t blen, bool checked,
                      sy_outcome *out)
{
    outcome_init(out, status);
    sy_headers h;
    sy_headers_index(&h, headers, hlen);
    char v[256];
    if (sy_headers_find(&h, "x-should-retry", v, sizeof v))
        out->should_retry = !strcasecmp(v, "true") ? 1 : !strcasecmp(v, "false") ? 0 : -1;
    char ms[64] = "", secs[128] = "";
    int has_ms = sy_headers_find(&h, "retry-after-ms", ms, sizeof ms);
    int has_s = sy_headers_find(&h, "retry-after", secs, sizeof secs);
    out->retry_after_ms = sy_parse_retry_after_ms(has_ms ? ms : NULL, has_s ? secs : NULL, sy_now_ms());
    /* An error body is small: its key copies go before it is read, so that
     * none survives in a message cut to fit. */
    size_t clean_len = 0;
    char *clean = status < 200 || status > 299 ? sy_scrub_key(body, blen, p->api_key, &clean_len) : NULL;
    if (clean) body = clean, blen = clean_len;
    const sy_provider_ops *ops = p->kind->ops;
    ops->limits(&h, &out->rl);
    parse_response(ops, read, ctx, status, body, blen, checked && !clean, out);
    free(clean);
    scrub_outcome(out, p->api_key);
}

/* ---- headers ---- */

/* Start of the last header block (after a redirect or 100 Continue). */
static const char *last_block(const char *h, size_t len, const char **end)
{
    const char *start = h, *p = h;
    *end = h + len;
    while (p < *end) {
        const char *nl = memchr(p, '\n', (size_t)(*end - p));
        if (!nl) break;
        if (nl + 1 < *end && (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < *end && nl[2] == '\n'))) {
            const char *next = nl[1] == '\n' ? nl + 2 : nl + 3;
            if (next < *end) start = next; /* a later block follows */
        }
        p = nl + 1;
    }
    return start;
}

void sy_headers_index(sy_headers *h, const char *block, size_t len)
{
    h->n = 0;
    if (!block) return;
    const char *end, *p = last_block(block, len, &end);
    while (p < end && h->n < SY_MAX_HEADERS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end, *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && isspace((unsigned char)ve[-1])) ve--;
            h->line[h->n].name = p;
            h->line[h->n].nlen = (size_t)(colon - p);
            h->line[h->n].value = v;
            h->line[h->n].vlen = (size_t)(ve - v);
            h->n++;
        }
        p = eol + 1;
    }
}

int sy_headers_find(const sy_headers *h, const char *name, char *val, size_t vallen)
{
    size_t nlen = strlen(name);
    for (int i = h->n - 1; i >= 0 && vallen; i--) { /* the last occurrence wins */
        if (h->line[i].nlen != nlen || strncasecmp(h->line[i].name, name, nlen)) continue;
        size_t n = h->line[i].vlen < vallen - 1 ? h->line[i].vlen : vallen - 1;
        memcpy(val, h->line[i].value, n);
        val[n] = '\0';
        return 1;
    }
    return 0;
}

int64_t sy_header_int(const sy_headers *h, const char *name)
{
    char v[64];
    if (!sy_headers_find(h, name, v, sizeof v) || !isdigit((unsigned char)v[0])) return -1;
    int64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        if (x < SY_PROVIDER_MAX_COUNT) x = x * 10 + (*p - '0'); /* then held at the cap */
    }
    return x < SY_PROVIDER_MAX_COUNT ? x : SY_PROVIDER_MAX_COUNT;
}

void sy_read_limits(const sy_headers *h, const sy_limit_headers *names, sy_ratelimit_info *rl)
{
    rl->limit_requests = sy_header_int(h, names->limit_requests);
    rl->remaining_requests = sy_header_int(h, names->remaining_requests);
    rl->reset_requests_ms = names->reset_ms(h, names->reset_requests);
    rl->limit_tokens = sy_header_int(h, names->limit_tokens);
    rl->remaining_tokens = sy_header_int(h, names->remaining_tokens);
    rl->reset_tokens_ms = names->reset_ms(h, names->reset_tokens);
}

/* ---- time values ---- */

/* A wait in ms from a double the provider sent: -1 for NaN and negatives,
 * held at SY_PROVIDER_MAX_WAIT_MS (infinity and 1e300 included) before
 * any conversion to an integer. */
static int64_t wait_ms(double ms)
{
    if (!(ms >= 0)) return -1;
    return ms < SY_PROVIDER_MAX_WAIT_MS ? (int64_t)ms : SY_PROVIDER_MAX_WAIT_MS;
}

/* Go's time.Duration.String() form: one or more <number><unit>, number
 * digits with an optional fraction, unit h m s ms us \xc2\xb5s ns. Read by
 * hand (no strtod: no signs, exponents, "inf" or "nan"). */
int64_t sy_parse_go_duration_ms(const char *s)
{
    if (!s || !*s) return -1;
    double total = 0;
    const char *p = s;
    while (*p) {
        double x = 0, scale = 1;
        int ndigits = 0;
        for (; isdigit((unsigned char)*p); p++, ndigits++) x = x * 10 + (*p - '0');
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++, ndigits++) x += (*p - '0') * (scale /= 10);
        if (!ndigits) return -1;
        double unit;
        if (!strncmp(p, "ms", 2)) unit = 1, p += 2;
        else if (!strncmp(p, "us", 2)) unit = 0.001, p += 2;
        else if (!strncmp(p, "\xc2\xb5s", 3)) unit = 0.001, p += 3;
        else if (!strncmp(p, "ns", 2)) unit = 1e-6, p += 2;
        else if (*p == 'h') unit = 3600000, p++;
        else if (*p == 'm') unit = 60000, p++;
        else if (*p == 's') unit = 1000, p++;
        else return -1;
        total += x * unit; /* at most 63 digits of a 64-byte header: finite */
    }
    return wait_ms(total + 0.5); /* to the nearest ms */
}

/* A whole-string decimal number (strtod's forms, "inf" and "nan" among
 * them: wait_ms sorts those out); 0 when s is not one. */
static int read_number(const char *s, double *v)
{
    char *end;
    if (!s || !*s) return 0;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

int64_t sy_parse_retry_after_ms(const char *retry_after_ms, const char *retry_after, int64_t now_ms)
{
    double v;
    int64_t ms;
    if (read_number(retry_after_ms, &v) && (ms = wait_ms(v)) >= 0) return ms;
    if (!retry_after || !*retry_after) return -1;
    if (read_number(retry_after, &v)) return wait_ms(v * 1000);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!rest || *rest) return -1;
    int64_t at = (int64_t)timegm(&tm) * 1000;
    return at > now_ms ? wait_ms((double)(at - now_ms)) : 0;
}

int64_t sy_reset_from_rfc3339(const sy_headers *h, const char *name)
{
    char v[64];
    if (!sy_headers_find(h, name, v, sizeof v)) return -1;
    int64_t at = sy_parse_rfc3339_ms(v), now = sy_now_ms();
    return at < 0 ? -1 : at > now ? wait_ms((double)(at - now)) : 0;
}

int64_t sy_reset_from_go(const sy_headers *h, const char *name)
{
    char v[64];
    if (!sy_headers_find(h, name, v, sizeof v)) return -1;
    return sy_parse_go_duration_ms(v);
}

int64_t sy_usage_tokens(sy_jspan v)
{
    if (!v.p || v.p == v.end || !isdigit((unsigned char)*v.p)) return 0; /* negative, absent, text */
    int64_t n = 0;
    const char *p = v.p;
    for (; p < v.end && isdigit((unsigned char)*p); p++)
        if (n <= SY_MAX_USAGE_TOKENS) n = n * 10 + (*p - '0'); /* then held: no overflow */
    if (p != v.end) return 0; /* a fraction or an exponent: not a count */
    return n < SY_MAX_USAGE_TOKENS ? n : SY_MAX_USAGE_TOKENS;
}

/* ---- errors ---- */

static bool mentions(const char *s, const char *needle)
{
    return s && strcasestr(s, needle);
}

sy_err_class sy_status_class(int status, const char *type, const char *code, const char *message)
{
    if (mentions(type, "insufficient_quota") || mentions(code, "insufficient_quota")) return SY_ERR_QUOTA;
    if (mentions(code, "context_length_exceeded") || mentions(message, "context length") ||
        mentions(message, "maximum context") || mentions(message, "prompt is too long"))
        return SY_ERR_CONTEXT_WINDOW;
    switch (status) {
    case 400: case 413: case 422: return SY_ERR_BAD_REQUEST;
    case 401: case 403: return SY_ERR_AUTH;
    case 402: return SY_ERR_QUOTA;
    case 404: return SY_ERR_NOT_FOUND;
    case 429: return SY_ERR_RATE_LIMITED;
    case 503: case 529: return SY_ERR_OVERLOADED;
    default: return SY_ERR_SERVER; /* 408, 409, other 5xx, anything unexpected */
    }
}

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '*' || c == '.';
}

/* Replace anything that looks like a secret (a token starting with "sk-",
 * or a token of more than 20 characters after the word "key") with
 * [redacted]: providers echo parts of bad keys in 401 messages. */
static void redact(char *s, size_t size)
{
    char out[512];
    size_t o = 0;
    const char *key_word = strcasestr(s, "key");
    for (const char *p = s; *p && o + 11 < sizeof out;) {
        size_t run = 0;
        while (token_char(p[run])) run++;
        if (!run) {
            out[o++] = *p++;
            continue;
        }
        bool secret = !strncmp(p, "sk-", 3) || (run > 20 && key_word && key_word < p);
        if (secret) o += (size_t)snprintf(out + o, sizeof out - o, "[redacted]");
        else {
            size_t n = run < sizeof out - o - 1 ? run : sizeof out - o - 1;
            memcpy(out + o, p, n);
            o += n;
        }
        p += run;
    }
    if (o >= size) o = size - 1; /* the message buffer is smaller than ours */
    memcpy(s, out, o);
    s[o] = '\0';
}

static void outcome_error(const sy_provider_ops *ops, sy_outcome *o, int status,
                          const char *type, const char *code, const char *message)
{
    o->error = ops->classify(status, type, code, message);
    snprintf(o->message, sizeof o->message, "HTTP %d %s: %s", status,
             code && *code ? code : type && *type ? type : "error", message ? message : "");
    redact(o->message, sizeof o->message);
}

static void write_turn(sy_buf *b, bool first, const char *role, const char *content)
{
    sy_buf_puts(b, first ? "{\"role\":" : ",{\"role\":");
    sy_buf_json_cstr(b, role);
    sy_buf_puts(b, ",\"content\":");
    sy_buf_json_cstr(b, content);
    sy_buf_putc(b, '}');
}

void sy_write_turns(sy_buf *b, const char *system, const sy_msg *msgs, size_t n)
{
    sy_buf_putc(b, '[');
    if (system) write_turn(b, true, "system", system);
    for (size_t i = 0; i < n; i++) write_turn(b, i == 0 && !system, msgs[i].role, msgs[i].content);
    sy_buf_putc(b, ']');
}

/* A member as text: a string decoded, or an integer as written; NULL if
 * it is neither (or absent). */
static char *member_text(sy_jspan v, bool integer_too)
{
    if (sy_js_is_string(v)) return sy_js_strdup(v);
    if (!integer_too || !v.p) return NULL;
    const char *p = v.p + (*v.p == '-');
    if (p == v.end) return NULL;
    for (const char *q = p; q < v.end; q++)
        if (!isdigit((unsigned char)*q)) return NULL;
    return sy_xstrndup(v.p, (size_t)(v.end - v.p));
}

/* An error body of any of the known shapes: {"error": {...}} or flat. */
static void parse_error_body(const sy_provider_ops *ops, int status, const char *body, size_t len,
                             sy_outcome *out)
{
    static const char *const keys[] = {"type", "message", "code"};
    sy_jspan root = {0}, f[3];
    bool parsed = body && len && sy_js_parse(body, len, &root) && (sy_js_is_object(root) || sy_js_is_array(root));
    sy_jspan e = sy_js_get(root, "error");
    if (!sy_js_is_object(e)) e = root; /* flat shape (vLLM, Mistral) */
    sy_js_get_many(e, keys, f, 3);
    char *type = member_text(f[0], false), *message = member_text(f[1], false), *code = member_text(f[2], true);
    outcome_error(ops, out, status, type, code, message ? message : parsed ? NULL : "(no JSON error body)");
    free(type);
    free(message);
    free(code);
}

void sy_outcome_malformed(sy_outcome *out, const char *what)
{
    out->error = SY_ERR_MALFORMED;
    snprintf(out->message, sizeof out->message, "HTTP %d: malformed response: %s",
             out->http_status, what);
}

/* A response: errors through parse_error_body, a 2xx JSON object through
 * the module's read_answer (the document checked whole, read with jscan;
 * `checked`: it was checked whole before), anything else as a malformed
 * response. */
static void parse_response(const sy_provider_ops *ops, sy_answer_reader read, void *ctx, int status,
                           const char *body, size_t len, bool checked, sy_outcome *out)
{
    if (status < 200 || status > 299) {
        parse_error_body(ops, status, body, len, out);
        return;
    }
    sy_jspan root;
    if (!body || !len) sy_outcome_malformed(out, "empty body");
    else if (checked ? !(root = sy_js_checked(body, len)).p : !sy_js_parse(body, len, &root))
        sy_outcome_malformed(out, "body is not valid JSON");
    else if (!sy_js_is_object(root)) sy_outcome_malformed(out, "body is not a JSON object");
    else if (read) read(root, out, ctx);
    else ops->read_answer(root, out);
}

char *sy_js_strdup(sy_jspan v)
{
    sy_buf b;
    sy_buf_init(&b);
    if (!sy_js_string(v, &b)) return NULL;
    char *s = sy_xstrndup(b.len ? b.data : "", b.len);
    sy_buf_free(&b);
    return s;
}

/* ---- request bodies through the parameter mapping ---- */

void sy_body_open(sy_body *w, sy_buf *b, const sy_provider *p)
{
    const sy_option_value *drop = sy_provider_option(p, "drop_params");
    const sy_option_value *rename = sy_provider_option(p, "rename_params");
    w->b = b;
    w->drop = drop ? drop->text : NULL;
    w->rename = rename ? rename->text : NULL;
    w->first = true;
    sy_buf_putc(b, '{');
}

/* The word `name` in a space-separated list (name=value words for a
 * map): where it starts, or NULL. */
static const char *word_in(const char *list, const char *name, bool map)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL)
        if (!strncmp(p, name, n) && (map ? p[n] == '=' : (p[n] == ' ' || !p[n]))) return p;
    return NULL;
}

bool sy_body_key(sy_body *w, const char *name)
{
    if (w->drop && word_in(w->drop, name, false)) return false;
    const char *r = w->rename ? word_in(w->rename, name, true) : NULL;
    sy_buf_puts(w->b, w->first ? "\"" : ",\"");
    w->first = false;
    if (r) {
        r += strlen(name) + 1;
        sy_buf_append(w->b, r, strcspn(r, " ")); /* checked [a-z0-9_] at load */
    } else {
        sy_buf_puts(w->b, name);
    }
    sy_buf_puts(w->b, "\":");
    return true;
}

void sy_body_close(sy_body *w)
{
    sy_buf_putc(w->b, '}');
}

void sy_write_strings(sy_buf *b, char *const *s, size_t n)
{
    sy_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_json_cstr(b, s[i]);
    }
    sy_buf_putc(b, ']');
}
