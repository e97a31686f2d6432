/* buf.h -- a growable byte buffer, and a JSON writer on top of it.
 *
 * Every encoder in switchyard (results, provider request bodies, JSON lines
 * printed by the CLI) writes into an sy_buf. Buffers are reused across jobs
 * (sy_buf_reset keeps the memory), which keeps the hot path free of
 * per-job allocations once warmed up.
 *
 * Base layer (base/): uses nothing of switchyard's; every layer above may use it. */
#ifndef SY_BUF_H
#define SY_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sy_buf {
    char *data;
    size_t len;
    size_t cap;
} sy_buf;

void sy_buf_init(sy_buf *b);
void sy_buf_free(sy_buf *b);
void sy_buf_reset(sy_buf *b);
/* Zero the whole allocation (it held a secret), then free it. */
void sy_buf_wipe(sy_buf *b);
void sy_buf_reserve(sy_buf *b, size_t extra);
void sy_buf_append(sy_buf *b, const void *p, size_t n);
void sy_buf_putc(sy_buf *b, char c);
void sy_buf_puts(sy_buf *b, const char *s);
void sy_buf_printf(sy_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* NUL-terminates (without counting the NUL in len) and returns data. */
const char *sy_buf_cstr(sy_buf *b);

/* JSON writing helpers: append a quoted, escaped JSON string (n bytes of s;
 * invalid UTF-8 bytes are replaced by U+FFFD), an integer, a double (finite,
 * shortest round-trip form), or a "key": prefix. */
void sy_buf_json_str(sy_buf *b, const char *s, size_t n);
void sy_buf_json_cstr(sy_buf *b, const char *s); /* NULL -> null */
void sy_buf_json_int(sy_buf *b, int64_t v);
void sy_buf_json_double(sy_buf *b, double v);
void sy_buf_json_key(sy_buf *b, const char *key); /* "key": */

#endif
