/* msgpack_json.c -- any msgpack value as one line of JSON.
 *
 * `switchyard results` prints msgpack results as JSON lines with this, so
 * people and tools like jq can read any output topic. Strings and map keys
 * are escaped (invalid UTF-8 becomes U+FFFD); non-string keys are printed
 * and quoted; binary becomes a string of its bytes (escaped); extension
 * types become null. A non-string key is printed once: a key inside such a
 * key, if a map or an array, becomes "?" (each level of quoting doubles the escapes, so nested
 * keys would grow the text exponentially: 30 levels of maps as keys made
 * 50 MB out of 71 bytes, found by fuzz_job). */
#include "msgpack_json.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>

#include "msgpack_check.h"

#define MAX_DEPTH 64

static void write_key(const msgpack_object *k, sy_buf *out, int depth, bool in_key);

static int write_value(const msgpack_object *o, sy_buf *out, int depth, bool in_key)
{
    if (depth > MAX_DEPTH) return -1;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: sy_buf_puts(out, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: sy_buf_puts(out, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: sy_buf_printf(out, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: sy_buf_json_int(out, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: sy_buf_json_double(out, o->via.f64); break;
    case MSGPACK_OBJECT_STR: sy_buf_json_str(out, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: sy_buf_json_str(out, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        sy_buf_putc(out, '[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) sy_buf_putc(out, ',');
            if (write_value(&o->via.array.ptr[i], out, depth + 1, in_key) != 0) return -1;
        }
        sy_buf_putc(out, ']');
        break;
    case MSGPACK_OBJECT_MAP:
        sy_buf_putc(out, '{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i) sy_buf_putc(out, ',');
            write_key(&o->via.map.ptr[i].key, out, depth, in_key);
            sy_buf_putc(out, ':');
            if (write_value(&o->via.map.ptr[i].val, out, depth + 1, in_key) != 0) return -1;
        }
        sy_buf_putc(out, '}');
        break;
    default: sy_buf_puts(out, "null");
    }
    return 0;
}

static void write_key(const msgpack_object *k, sy_buf *out, int depth, bool in_key)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        sy_buf_json_str(out, k->via.str.ptr, k->via.str.size);
        return;
    }
    if (in_key && (k->type == MSGPACK_OBJECT_MAP || k->type == MSGPACK_OBJECT_ARRAY)) {
        sy_buf_puts(out, "\"?\"");
        return;
    }
    sy_buf text;
    sy_buf_init(&text);
    if (write_value(k, &text, depth + 1, true) != 0) sy_buf_puts(&text, "?");
    sy_buf_json_str(out, text.data, text.len);
    sy_buf_free(&text);
}

int sy_msgpack_to_json(const void *data, size_t len, sy_buf *out)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (sy_msgpack_check(data, len) == 0 && msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
        size_t start = out->len;
        rc = write_value(&u.data, out, 0, false);
        if (rc != 0) out->len = start;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}
