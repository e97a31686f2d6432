/* job.c -- decoding and encoding jobs (see job.h).
 *
 * msgpack is the canonical wire format and the fast path: the value is
 * unpacked into msgpack-c's object tree (bounded nesting, every length
 * checked against the bytes present) and the known fields are copied out.
 * A JSON job is parsed with jansson and re-packed as msgpack first, so both
 * formats go through one field decoder and give the same errors. Unknown
 * top-level fields are ignored (forward compatibility); known fields of the
 * wrong type are errors that name the field. */
#include "job.h"
#include "msgpack_check.h"
#include "util.h"

#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ID 256
#define MAX_TASK 128
#define MAX_META 64
#define MAX_JSON_DEPTH 32

typedef struct decoder {
    sy_job *job;
    char *err;
    size_t errlen;
} decoder;

static int fail(decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(decoder *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "number";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    default: return "extension";
    }
}

/* A str or bin object as (pointer, length); 0 if it is neither. */
static int text_of(const msgpack_object *o, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) *p = o->via.str.ptr, *n = o->via.str.size;
    else if (o->type == MSGPACK_OBJECT_BIN) *p = o->via.bin.ptr, *n = o->via.bin.size;
    else return 0;
    return 1;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    const char *p;
    size_t n;
    return text_of(k, &p, &n) && n == strlen(name) && memcmp(p, name, n) == 0;
}

/* The first control character (C0, DEL) in p[0..n), or -1. */
static long control_at(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) return (long)i;
    return -1;
}

/* A required non-empty string of at most max bytes, without control
 * characters (NUL, CR, LF, ESC, ...): ids, keys and task names go into
 * request headers, Kafka keys and log lines. */
static int get_string(decoder *d, const msgpack_object *o, const char *field, size_t max,
                      char **out)
{
    const char *p;
    size_t n;
    if (!text_of(o, &p, &n))
        return fail(d, "field '%s': expected a string, got %s", field, type_name(o));
    if (n == 0) return fail(d, "field '%s' is empty", field);
    if (n > max) return fail(d, "field '%s' is %zu bytes, above the %zu-byte limit", field, n, max);
    long at = control_at(p, n);
    if (at >= 0)
        return fail(d, "field '%s' contains a control character (byte 0x%02x at %ld)", field,
                    (unsigned char)p[at], at);
    free(*out);
    *out = sy_xstrndup(p, n);
    return 0;
}

/* A scalar as text: strings as is, numbers and booleans printed. */
static int scalar_text(const msgpack_object *o, char **out)
{
    char tmp[64];
    const char *p;
    size_t n;
    if (text_of(o, &p, &n)) {
        if (memchr(p, '\0', n)) return -1;
        *out = sy_xstrndup(p, n);
        return 0;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN: snprintf(tmp, sizeof tmp, "%s", o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(tmp, sizeof tmp, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(tmp, sizeof tmp, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: snprintf(tmp, sizeof tmp, "%.17g", o->via.f64); break;
    default: return -1;
    }
    *out = sy_xstrdup(tmp);
    return 0;
}

/* A map of string -> scalar into kv pairs (vars, metadata). */
static int get_kv_map(decoder *d, const msgpack_object *o, const char *field, size_t max,
                      sy_kv **out, size_t *nout)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, "field '%s': expected a map, got %s", field, type_name(o));
    const msgpack_object_map *m = &o->via.map;
    if (m->size > max) return fail(d, "field '%s' has %u entries, above the limit of %zu", field, m->size, max);
    *out = sy_xcalloc(m->size ? m->size : 1, sizeof(sy_kv));
    for (uint32_t i = 0; i < m->size; i++) {
        const char *kp;
        size_t kn;
        if (!text_of(&m->ptr[i].key, &kp, &kn) || kn == 0 || memchr(kp, '\0', kn))
            return fail(d, "field '%s': keys must be non-empty strings", field);
        sy_kv *kv = &(*out)[(*nout)++];
        kv->key = sy_xstrndup(kp, kn);
        if (scalar_text(&m->ptr[i].val, &kv->value) != 0)
            return fail(d, "field '%s.%s': expected a string, number or boolean, got %s", field,
                        kv->key, type_name(&m->ptr[i].val));
    }
    return 0;
}

static int get_message(decoder *d, const msgpack_object *o, size_t i, sy_msg *msg)
{
    char field[64];
    snprintf(field, sizeof field, "messages[%zu]", i);
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, "field '%s': expected a map, got %s", field, type_name(o));
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key, *val = &o->via.map.ptr[k].val;
        const char *p;
        size_t n;
        char **dst = key_is(key, "role") ? &msg->role : key_is(key, "content") ? &msg->content : NULL;
        if (!dst) continue;
        if (!text_of(val, &p, &n) || memchr(p, '\0', n))
            return fail(d, "field '%s': role and content must be strings", field);
        free(*dst);
        *dst = sy_xstrndup(p, n);
    }
    if (!msg->role || !msg->content) return fail(d, "field '%s': needs role and content", field);
    if (strcmp(msg->role, "system") && strcmp(msg->role, "user") && strcmp(msg->role, "assistant"))
        return fail(d, "field '%s.role': expected system, user or assistant", field);
    return 0;
}

static int get_messages(decoder *d, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, "field 'messages': expected an array, got %s", type_name(o));
    sy_job *j = d->job;
    j->messages = sy_xcalloc(o->via.array.size ? o->via.array.size : 1, sizeof(sy_msg));
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        j->nmessages++;
        if (get_message(d, &o->via.array.ptr[i], i, &j->messages[i]) != 0) return -1;
    }
    return 0;
}

static int get_int(decoder *d, const msgpack_object *o, const char *field, int64_t lo, int64_t hi,
                   int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = o->via.i64;
    else return fail(d, "field '%s': expected an integer, got %s", field, type_name(o));
    if (*out < lo || *out > hi)
        return fail(d, "field '%s' is %" PRId64 ", outside %" PRId64 "..%" PRId64, field, *out, lo, hi);
    return 0;
}

static int get_deadline(decoder *d, const msgpack_object *o)
{
    const char *p;
    size_t n;
    if (o->type == MSGPACK_OBJECT_NIL) return 0;
    if (text_of(o, &p, &n)) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 63 ? n : 63), p);
        d->job->deadline_ms = sy_parse_rfc3339_ms(tmp);
        if (d->job->deadline_ms < 0 || n > 63)
            return fail(d, "field 'deadline': expected unix milliseconds or an RFC 3339 time");
        return 0;
    }
    return get_int(d, o, "deadline", 0, INT64_MAX, &d->job->deadline_ms);
}

static int decode_field(decoder *d, const msgpack_object *k, const msgpack_object *v)
{
    sy_job *j = d->job;
    int64_t prio = 0;
    if (key_is(k, "id")) return get_string(d, v, "id", MAX_ID, &j->id);
    if (key_is(k, "task")) return get_string(d, v, "task", MAX_TASK, &j->task);
    if (key_is(k, "idempotency_key"))
        return v->type == MSGPACK_OBJECT_NIL ? 0 : get_string(d, v, "idempotency_key", MAX_ID, &j->idempotency_key);
    if (key_is(k, "vars") && !j->vars) return get_kv_map(d, v, "vars", 4096, &j->vars, &j->nvars);
    if (key_is(k, "metadata") && !j->metadata)
        return get_kv_map(d, v, "metadata", MAX_META, &j->metadata, &j->nmetadata);
    if (key_is(k, "messages") && !j->messages) return get_messages(d, v);
    if (key_is(k, "priority")) {
        if (get_int(d, v, "priority", -1000, 1000, &prio) != 0) return -1;
        j->priority = (int)prio;
        return 0;
    }
    if (key_is(k, "deadline")) return get_deadline(d, v);
    if (key_is(k, "vars") || key_is(k, "metadata") || key_is(k, "messages"))
        return fail(d, "field '%.*s' appears twice", (int)k->via.str.size, k->via.str.ptr);
    return 0; /* unknown field: ignored */
}

static int decode_object(decoder *d, const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return fail(d, "a job must be a map, got %s", type_name(root));
    for (uint32_t i = 0; i < root->via.map.size; i++)
        if (decode_field(d, &root->via.map.ptr[i].key, &root->via.map.ptr[i].val) != 0) return -1;
    if (!d->job->id) return fail(d, "missing required field 'id'");
    if (!d->job->task) return fail(d, "missing required field 'task'");
    if (!d->job->idempotency_key) d->job->idempotency_key = sy_xstrdup(d->job->id);
    return 0;
}

static int decode_msgpack(decoder *d, const char *data, size_t len)
{
    if (sy_msgpack_check(data, len) != 0)
        return fail(d, "not a JSON object, and truncated or malformed msgpack (first byte 0x%02x, "
                       "%zu bytes)", (unsigned char)data[0], len);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(&u, data, len, &off);
    int result;
    if (rc == MSGPACK_UNPACK_SUCCESS && u.data.type != MSGPACK_OBJECT_MAP && off != len)
        result = fail(d, "not a JSON object or msgpack map (first byte 0x%02x)", (unsigned char)data[0]);
    else if (rc == MSGPACK_UNPACK_SUCCESS && off != len)
        result = fail(d, "trailing bytes after the msgpack object (%zu of %zu used)", off, len);
    else if (rc == MSGPACK_UNPACK_SUCCESS) result = decode_object(d, &u.data);
    else if (rc == MSGPACK_UNPACK_CONTINUE) result = fail(d, "truncated msgpack (%zu bytes)", len);
    else result = fail(d, "not a msgpack map (first byte 0x%02x)", (unsigned char)data[0]);
    msgpack_unpacked_destroy(&u);
    return result;
}

/* ---- JSON: parsed with jansson, re-packed as msgpack ---- */

static int write_buf(void *data, const char *p, size_t n)
{
    sy_buf_append(data, p, n);
    return 0;
}

static int pack_json(msgpack_packer *pk, json_t *v, int depth)
{
    if (depth > MAX_JSON_DEPTH) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach(v, k, x) {
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            if (pack_json(pk, x, depth + 1) != 0) return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++)
            if (pack_json(pk, json_array_get(v, i), depth + 1) != 0) return -1;
        return 0;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        return msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(v));
    case JSON_REAL: return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE: return msgpack_pack_true(pk);
    case JSON_FALSE: return msgpack_pack_false(pk);
    default: return msgpack_pack_nil(pk);
    }
}

int sy_json_to_msgpack(const void *json_text, size_t len, sy_buf *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (!root) {
        snprintf(err, errlen, "not valid JSON: %s at line %d column %d", je.text, je.line, je.column);
        return -1;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_buf);
    int rc = pack_json(&pk, root, 0);
    json_decref(root);
    if (rc != 0) snprintf(err, errlen, "JSON nested deeper than %d levels", MAX_JSON_DEPTH);
    return rc;
}

static bool looks_like_json(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    return i < len && p[i] == '{';
}

int sy_job_decode(const void *data, size_t len, sy_job *job, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    decoder d = {.job = job, .err = err, .errlen = errlen};
    int rc;
    if (!data || len == 0) rc = fail(&d, "empty message");
    else if (len > SY_JOB_MAX_BYTES)
        rc = fail(&d, "job is %zu bytes, above the %d-byte limit", len, SY_JOB_MAX_BYTES);
    else if (looks_like_json(data, len)) {
        sy_buf mp;
        sy_buf_init(&mp);
        rc = sy_json_to_msgpack(data, len, &mp, err, errlen);
        if (rc == 0) rc = decode_msgpack(&d, mp.data, mp.len);
        sy_buf_free(&mp);
    } else rc = decode_msgpack(&d, data, len);
    if (rc != 0) sy_job_free(job);
    return rc;
}

/* ---- encoding ---- */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const sy_kv *kv, size_t n)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        pack_cstr(pk, kv[i].key);
        pack_cstr(pk, kv[i].value);
    }
}

void sy_job_encode_msgpack(const sy_job *j, sy_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_buf);
    size_t n = 5 + (j->nmessages > 0) + (j->priority != 0) + (j->deadline_ms != 0);
    msgpack_pack_map(&pk, n);
    pack_cstr(&pk, "id"); pack_cstr(&pk, j->id);
    pack_cstr(&pk, "task"); pack_cstr(&pk, j->task);
    pack_cstr(&pk, "idempotency_key"); pack_cstr(&pk, j->idempotency_key ? j->idempotency_key : j->id);
    pack_cstr(&pk, "vars"); pack_kv(&pk, j->vars, j->nvars);
    pack_cstr(&pk, "metadata"); pack_kv(&pk, j->metadata, j->nmetadata);
    if (j->nmessages) {
        pack_cstr(&pk, "messages");
        msgpack_pack_array(&pk, j->nmessages);
        for (size_t i = 0; i < j->nmessages; i++) {
            msgpack_pack_map(&pk, 2);
            pack_cstr(&pk, "role"); pack_cstr(&pk, j->messages[i].role);
            pack_cstr(&pk, "content"); pack_cstr(&pk, j->messages[i].content);
        }
    }
    if (j->priority) { pack_cstr(&pk, "priority"); msgpack_pack_int(&pk, j->priority); }
    if (j->deadline_ms) { pack_cstr(&pk, "deadline"); msgpack_pack_int64(&pk, j->deadline_ms); }
}

static void json_kv(sy_buf *b, const char *name, const sy_kv *kv, size_t n)
{
    sy_buf_json_key(b, name);
    sy_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_json_key(b, kv[i].key);
        sy_buf_json_cstr(b, kv[i].value);
    }
    sy_buf_putc(b, '}');
}

void sy_job_encode_json(const sy_job *j, sy_buf *out)
{
    sy_buf_puts(out, "{");
    sy_buf_json_key(out, "id"); sy_buf_json_cstr(out, j->id);
    sy_buf_putc(out, ','); sy_buf_json_key(out, "task"); sy_buf_json_cstr(out, j->task);
    sy_buf_putc(out, ','); sy_buf_json_key(out, "idempotency_key");
    sy_buf_json_cstr(out, j->idempotency_key ? j->idempotency_key : j->id);
    sy_buf_putc(out, ','); json_kv(out, "vars", j->vars, j->nvars);
    sy_buf_putc(out, ','); json_kv(out, "metadata", j->metadata, j->nmetadata);
    if (j->nmessages) {
        sy_buf_putc(out, ','); sy_buf_json_key(out, "messages"); sy_buf_putc(out, '[');
        for (size_t i = 0; i < j->nmessages; i++) {
            sy_buf_puts(out, i ? ",{" : "{");
            sy_buf_json_key(out, "role"); sy_buf_json_cstr(out, j->messages[i].role);
            sy_buf_putc(out, ','); sy_buf_json_key(out, "content"); sy_buf_json_cstr(out, j->messages[i].content);
            sy_buf_putc(out, '}');
        }
        sy_buf_putc(out, ']');
    }
    if (j->priority) { sy_buf_putc(out, ','); sy_buf_json_key(out, "priority"); sy_buf_json_int(out, j->priority); }
    if (j->deadline_ms) { sy_buf_putc(out, ','); sy_buf_json_key(out, "deadline"); sy_buf_json_int(out, j->deadline_ms); }
    sy_buf_putc(out, '}');
}

static void free_kv(sy_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void sy_job_free(sy_job *j)
{
    free(j->id);
    free(j->task);
    free(j->idempotency_key);
    free_kv(j->vars, j->nvars);
    free_kv(j->metadata, j->nmetadata);
    for (size_t i = 0; i < j->nmessages; i++) {
        free(j->messages[i].role);
        free(j->messages[i].content);
    }
    free(j->messages);
    memset(j, 0, sizeof *j);
}

static const char *kv_find(const sy_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, name)) return kv[i].value;
    return NULL;
}

const char *sy_job_var(const sy_job *job, const char *name)
{
    return kv_find(job->vars, job->nvars, name);
}

const char *sy_job_meta(const sy_job *job, const char *name)
{
    return kv_find(job->metadata, job->nmetadata, name);
}
