/* result.c -- encoding results (see result.h).
 *
 * One map, two encodings: msgpack (default, compact, what the worker also
 * stores for idempotent answers) and JSON (for consumers that want text).
 * Both are written straight into a reused sy_buf, with no intermediate
 * tree: building a result costs a few hundred nanoseconds. The one value
 * that needs parsing is output_json (the model's JSON answer, embedded as a
 * value rather than a string), which is checked with jansson. */
#include "result.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <msgpack.h>
#include <string.h>

/* ---- msgpack ---- */

static int write_buf(void *data, const char *p, size_t n)
{
    sy_buf_append(data, p, n);
    return 0;
}

/* A string, its header and body written straight into the packer's
 * sy_buf (the same bytes as msgpack_pack_str and _str_body, without two
 * trips through write_buf: a result has ~47 strings). */
static void mp_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s), h;
    sy_buf *b = pk->data;
    sy_buf_reserve(b, 5 + n);
    unsigned char *d = (unsigned char *)b->data + b->len;
    if (n < 32) {
        d[0] = (unsigned char)(0xa0 | n), h = 1;
    } else if (n < 256) {
        d[0] = 0xd9, d[1] = (unsigned char)n, h = 2;
    } else if (n < 65536) {
        d[0] = 0xda, d[1] = (unsigned char)(n >> 8), d[2] = (unsigned char)n, h = 3;
    } else {
        d[0] = 0xdb, h = 5;
        for (int i = 0; i < 4; i++) d[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    }
    memcpy(d + h, s, n);
    b->len += h + n;
}

static void mp_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    mp_str(pk, k);
    mp_str(pk, v);
}

static void mp_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
    mp_str(pk, k);
    msgpack_pack_int64(pk, v);
}

/* output_json as msgpack, or 0 when it is not valid JSON. */
static bool valid_json_msgpack(const char *json, sy_buf *out)
{
    char err[128];
    return json && sy_json_to_msgpack(json, strlen(json), out, err, sizeof err) == 0;
}

static void mp_error_name(msgpack_packer *pk, sy_err_class c)
{
    if (c == SY_ERR_NONE) msgpack_pack_nil(pk);
    else mp_str(pk, sy_err_class_name(c));
}

static void mp_route(msgpack_packer *pk, const sy_result *r)
{
    mp_str(pk, "route");
    msgpack_pack_map(pk, 2);
    mp_kv_str(pk, "strategy", r->strategy);
    mp_kv_str(pk, "reason", r->route_reason);
    mp_str(pk, "attempt_history");
    msgpack_pack_array(pk, r->nhistory);
    for (size_t i = 0; i < r->nhistory; i++) {
        const sy_attempt_note *a = &r->history[i];
        msgpack_pack_map(pk, 4);
        mp_kv_str(pk, "model", a->model);
        mp_kv_int(pk, "http_status", a->http_status);
        mp_str(pk, "error");
        mp_error_name(pk, a->error);
        mp_kv_int(pk, "latency_ms", a->latency_ms);
    }
}

static void encode_msgpack(const sy_result *r, sy_buf *out)
{
    sy_buf oj;
    sy_buf_init(&oj);
    bool has_json = valid_json_msgpack(r->output_json, &oj);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_buf);
    bool has_vec = r->embedding != NULL;
    msgpack_pack_map(&pk, 21 + has_json + has_vec + (r->batch_id != NULL));
    mp_kv_str(&pk, "job_id", r->job_id);
    mp_kv_str(&pk, "task", r->task);
    mp_kv_str(&pk, "idempotency_key", r->idempotency_key);
    mp_kv_str(&pk, "status", r->ok ? "ok" : "failed");
    mp_str(&pk, "deduplicated");
    r->deduplicated ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    mp_kv_str(&pk, "output", r->output);
    if (has_json) {
        mp_str(&pk, "output_json");
        sy_buf_append(out, oj.data, oj.len);
    }
    if (has_vec) {
        mp_str(&pk, "embedding");
        msgpack_pack_array(&pk, r->nembedding);
        for (size_t i = 0; i < r->nembedding; i++) msgpack_pack_float(&pk, r->embedding[i]);
    }
    mp_kv_str(&pk, "provider", r->provider);
    mp_kv_str(&pk, "model", r->model);
    mp_kv_str(&pk, "model_name", r->model_name);
    mp_kv_str(&pk, "tier", r->tier);
    mp_str(&pk, "prompt");
    msgpack_pack_map(&pk, 2);
    mp_kv_str(&pk, "id", r->prompt_id);
    mp_kv_int(&pk, "version", r->prompt_version);
    mp_kv_int(&pk, "attempts", r->attempts);
    mp_str(&pk, "tokens");
    const sy_usage_detail *u = &r->usage;
    msgpack_pack_map(&pk, 2 + (u->cached_in > 0) + (u->cache_write_in > 0) + (u->reasoning_out > 0) +
                              u->estimated);
    mp_kv_int(&pk, "in", r->tokens_in);
    mp_kv_int(&pk, "out", r->tokens_out);
    if (u->cached_in > 0) mp_kv_int(&pk, "cached_in", u->cached_in);
    if (u->cache_write_in > 0) mp_kv_int(&pk, "cache_write_in", u->cache_write_in);
    if (u->reasoning_out > 0) mp_kv_int(&pk, "reasoning_out", u->reasoning_out);
    if (u->estimated) {
        mp_str(&pk, "estimated");
        msgpack_pack_true(&pk);
    }
    mp_str(&pk, "cost_usd");
    msgpack_pack_double(&pk, r->cost_usd);
    mp_kv_int(&pk, "latency_ms", r->latency_ms);
    mp_route(&pk, r);
    mp_str(&pk, "error");
    if (r->ok) msgpack_pack_nil(&pk);
    else {
        msgpack_pack_map(&pk, 3);
        mp_kv_str(&pk, "class", sy_err_class_name(r->error_class));
        mp_kv_str(&pk, "message", r->error_message ? r->error_message : "");
        mp_kv_int(&pk, "http_status", r->http_status);
    }
    mp_str(&pk, "metadata");
    msgpack_pack_map(&pk, r->nmetadata);
    for (size_t i = 0; i < r->nmetadata; i++) mp_kv_str(&pk, r->metadata[i].key, r->metadata[i].value);
    mp_kv_int(&pk, "finished_ms", r->finished_ms);
    if (r->batch_id) mp_kv_str(&pk, "batch_id", r->batch_id);
    mp_kv_str(&pk, "schema", "switchyard.result/1");
    sy_buf_free(&oj);
}

/* ---- JSON ---- */

static void js_str(sy_buf *b, const char *k, const char *v)
{
    sy_buf_putc(b, ',');
    sy_buf_json_key(b, k);
    sy_buf_json_cstr(b, v);
}

static void js_int(sy_buf *b, const char *k, int64_t v)
{
    sy_buf_putc(b, ',');
    sy_buf_json_key(b, k);
    sy_buf_json_int(b, v);
}

static bool valid_json(const char *s)
{
    if (!s) return false;
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    json_decref(v);
    return v != NULL;
}

static void js_route(sy_buf *b, const sy_result *r)
{
    sy_buf_puts(b, ",\"route\":{\"strategy\":");
    sy_buf_json_cstr(b, r->strategy);
    js_str(b, "reason", r->route_reason);
    sy_buf_puts(b, "},\"attempt_history\":[");
    for (size_t i = 0; i < r->nhistory; i++) {
        const sy_attempt_note *a = &r->history[i];
        sy_buf_puts(b, i ? ",{\"model\":" : "{\"model\":");
        sy_buf_json_cstr(b, a->model);
        js_int(b, "http_status", a->http_status);
        if (a->error == SY_ERR_NONE) sy_buf_puts(b, ",\"error\":null");
        else js_str(b, "error", sy_err_class_name(a->error));
        js_int(b, "latency_ms", a->latency_ms);
        sy_buf_putc(b, '}');
    }
    sy_buf_putc(b, ']');
}

static void encode_json(const sy_result *r, sy_buf *b)
{
    sy_buf_putc(b, '{');
    sy_buf_json_key(b, "job_id");
    sy_buf_json_cstr(b, r->job_id);
    js_str(b, "task", r->task);
    js_str(b, "idempotency_key", r->idempotency_key);
    js_str(b, "status", r->ok ? "ok" : "failed");
    sy_buf_puts(b, r->deduplicated ? ",\"deduplicated\":true" : ",\"deduplicated\":false");
    js_str(b, "output", r->output);
    if (valid_json(r->output_json)) {
        sy_buf_puts(b, ",\"output_json\":");
        sy_buf_puts(b, r->output_json);
    }
    if (r->embedding) { /* %.9g: each float32 read back exactly */
        sy_buf_puts(b, ",\"embedding\":[");
        for (size_t i = 0; i < r->nembedding; i++)
            sy_buf_printf(b, i ? ",%.9g" : "%.9g", (double)r->embedding[i]);
        sy_buf_putc(b, ']');
    }
    js_str(b, "provider", r->provider);
    js_str(b, "model", r->model);
    js_str(b, "model_name", r->model_name);
    js_str(b, "tier", r->tier);
    sy_buf_puts(b, ",\"prompt\":{");
    sy_buf_json_key(b, "id");
    sy_buf_json_cstr(b, r->prompt_id);
    js_int(b, "version", r->prompt_version);
    sy_buf_putc(b, '}');
    js_int(b, "attempts", r->attempts);
    sy_buf_puts(b, ",\"tokens\":{\"in\":");
    sy_buf_json_int(b, r->tokens_in);
    js_int(b, "out", r->tokens_out);
    if (r->usage.cached_in > 0) js_int(b, "cached_in", r->usage.cached_in);
    if (r->usage.cache_write_in > 0) js_int(b, "cache_write_in", r->usage.cache_write_in);
    if (r->usage.reasoning_out > 0) js_int(b, "reasoning_out", r->usage.reasoning_out);
    if (r->usage.estimated) sy_buf_puts(b, ",\"estimated\":true");
    sy_buf_puts(b, "},\"cost_usd\":");
    sy_buf_json_double(b, r->cost_usd);
    js_int(b, "latency_ms", r->latency_ms);
    js_route(b, r);
    if (r->ok) sy_buf_puts(b, ",\"error\":null");
    else {
        sy_buf_puts(b, ",\"error\":{\"class\":");
        sy_buf_json_cstr(b, sy_err_class_name(r->error_class));
        js_str(b, "message", r->error_message ? r->error_message : "");
        js_int(b, "http_status", r->http_status);
        sy_buf_putc(b, '}');
    }
    sy_buf_puts(b, ",\"metadata\":{");
    for (size_t i = 0; i < r->nmetadata; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_json_key(b, r->metadata[i].key);
        sy_buf_json_cstr(b, r->metadata[i].value);
    }
    sy_buf_putc(b, '}');
    js_int(b, "finished_ms", r->finished_ms);
    if (r->batch_id) js_str(b, "batch_id", r->batch_id);
    js_str(b, "schema", "switchyard.result/1");
    sy_buf_putc(b, '}');
}

/* Room for a result, made once: its buffer is usually new (a run's, per
 * job), and growing it from 64 bytes doubling by doubling cost ~2,500
 * instructions a job in reallocs (bench/callgrind.sh). Fixed fields and
 * names take ~600 bytes; the texts and lists are counted. */
static size_t size_hint(const sy_result *r)
{
    size_t n = 640 + 96 * r->nhistory + 16 * r->nembedding;
    const char *texts[] = {r->output, r->output_json, r->error_message};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i]) n += strlen(texts[i]);
    for (size_t i = 0; i < r->nmetadata; i++)
        n += 8 + strlen(r->metadata[i].key) + (r->metadata[i].value ? strlen(r->metadata[i].value) : 0);
    return n;
}

void sy_result_encode(const sy_result *r, sy_format fmt, sy_buf *out)
{
    sy_buf_reserve(out, size_hint(r));
    if (fmt == SY_FORMAT_JSON) encode_json(r, out);
    else encode_msgpack(r, out);
}

void sy_usage_detail_add(sy_usage_detail *a, const sy_usage_detail *b)
{
    const int64_t cap = INT64_MAX / 4; /* per call each is at most SY_MAX_USAGE_TOKENS */
    a->cached_in = a->cached_in < cap - b->cached_in ? a->cached_in + b->cached_in : cap;
    a->cache_write_in = a->cache_write_in < cap - b->cache_write_in ? a->cache_write_in + b->cache_write_in : cap;
    a->reasoning_out = a->reasoning_out < cap - b->reasoning_out ? a->reasoning_out + b->reasoning_out : cap;
    a->estimated = a->estimated || b->estimated;
}
