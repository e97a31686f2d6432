/* buf.c -- see buf.h. */
#include "buf.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sy_buf_init(sy_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void sy_buf_free(sy_buf *b)
{
    free(b->data);
    sy_buf_init(b);
}

void sy_buf_wipe(sy_buf *b)
{
    if (b->data) explicit_bzero(b->data, b->cap);
    sy_buf_free(b);
}

void sy_buf_reset(sy_buf *b)
{
    b->len = 0;
}

void sy_buf_reserve(sy_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* room for a NUL */
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = sy_xrealloc(b->data, cap);
    b->cap = cap;
}

void sy_buf_append(sy_buf *b, const void *p, size_t n)
{
    sy_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

void sy_buf_putc(sy_buf *b, char c)
{
    sy_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void sy_buf_puts(sy_buf *b, const char *s)
{
    sy_buf_append(b, s, strlen(s));
}

void sy_buf_printf(sy_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= room) {
        sy_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

const char *sy_buf_cstr(sy_buf *b)
{
    sy_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { len = 2; cp = s[0] & 0x1F; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { len = 3; cp = s[0] & 0x0F; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { len = 4; cp = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void sy_buf_json_str(sy_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    sy_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* copy runs of plain bytes at once */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            sy_buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t l = utf8_seq_len(p + i, n - i);
            if (l) sy_buf_append(b, p + i, l), i += l;
            else sy_buf_append(b, "\xEF\xBF\xBD", 3), i++;
            continue;
        }
        switch (c) {
        case '"': sy_buf_append(b, "\\\"", 2); break;
        case '\\': sy_buf_append(b, "\\\\", 2); break;
        case '\n': sy_buf_append(b, "\\n", 2); break;
        case '\r': sy_buf_append(b, "\\r", 2); break;
        case '\t': sy_buf_append(b, "\\t", 2); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sy_buf_append(b, e, 6);
        }
        }
        i++;
    }
    sy_buf_putc(b, '"');
}

void sy_buf_json_cstr(sy_buf *b, const char *s)
{
    if (!s) sy_buf_append(b, "null", 4);
    else sy_buf_json_str(b, s, strlen(s));
}

void sy_buf_json_int(sy_buf *b, int64_t v)
{
    sy_buf_printf(b, "%lld", (long long)v);
}

void sy_buf_json_double(sy_buf *b, double v)
{
    if (!isfinite(v)) {
        sy_buf_append(b, "null", 4);
        return;
    }
    char tmp[32];
    if (fabs(v) < 1e6 && v == (double)(int)v && !(v == 0 && signbit(v))) { /* (int) only in range */
        /* a whole number (a temperature of 0 or 1): its digits, what %.6g
         * writes below 1e6, without a trip through snprintf and strtod */
        int i = (int)v;
        unsigned u = i < 0 ? 0u - (unsigned)i : (unsigned)i;
        char *p = tmp + sizeof tmp;
        do *--p = (char)('0' + u % 10); while (u /= 10);
        if (i < 0) *--p = '-';
        sy_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
        return;
    }
    for (int prec = 6; prec <= 17; prec++) { /* shortest form that round-trips */
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    sy_buf_puts(b, tmp);
}

void sy_buf_json_key(sy_buf *b, const char *key)
{
    sy_buf_json_cstr(b, key);
    sy_buf_putc(b, ':');
}
