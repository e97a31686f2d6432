/* util.c -- see util.h. */

#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void oom(size_t n)
{
    fprintf(stderr, "switchyard: out of memory (%zu bytes)\n", n);
    abort();
}

void *sy_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *sy_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *sy_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *sy_xstrdup(const char *s)
{
    return sy_xstrndup(s, strlen(s));
}

char *sy_xstrndup(const char *s, size_t n)
{
    char *p = sy_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t sy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sy_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sy_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

uint64_t sy_fnv1a64(uint64_t basis, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = basis;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

uint64_t sy_hash64(const void *data, size_t len)
{
    return sy_fnv1a64(1469598103934665603ULL, data, len);
}

size_t sy_fmt_i64(char *out, int64_t v)
{
    char tmp[SY_I64_CHARS];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    return len;
}

int sy_list_contains(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, item, n) == 0) return 1;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n decimal digits at s (all of them digits, none past the string's end:
 * the scan stops at the NUL), or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Strict "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)": every field has
 * its exact number of digits and every byte is checked before the next is
 * read, so no input (cut short anywhere, signs, blanks, any length) reads
 * past its end. */
int64_t sy_parse_rfc3339_ms(const char *s)
{
    if (!s) return -1;
    int y = digits(s, 4);
    if (y < 0 || s[4] != '-') return -1;
    int mo = digits(s + 5, 2);
    if (mo < 1 || mo > 12 || s[7] != '-') return -1;
    int d = digits(s + 8, 2);
    if (d < 1 || d > days_in_month(y, mo)) return -1;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return -1;
    int h = digits(s + 11, 2);
    if (h < 0 || h > 23 || s[13] != ':') return -1;
    int mi = digits(s + 14, 2);
    if (mi < 0 || mi > 59 || s[16] != ':') return -1;
    int sec = digits(s + 17, 2);
    if (sec < 0 || sec > 60) return -1;
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3) ms = ms * 10 + (*p - '0');
        if (!n) return -1;
        for (; n < 3; n++) ms *= 10;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') p++;
    else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2);
        if (oh < 0 || oh > 23 || p[3] != ':') return -1;
        int om = digits(p + 4, 2);
        if (om < 0 || om > 59) return -1;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else return -1;
    if (*p) return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    return secs * 1000 + ms;
}

size_t sy_escape_ctl(char *out, size_t outlen, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!outlen) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* C0 controls, DEL, and the C1 controls in their UTF-8 form
         * (U+0080..U+009F, 0xC2 0x80..0x9F: U+009B is a terminal's CSI) */
        bool c1 = c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                  (unsigned char)s[i + 1] <= 0x9f;
        if (c >= 0x20 && c != 0x7f && !c1) {
            if (o + 1 >= outlen) break;
            out[o++] = (char)c;
            continue;
        }
        if (c1) c = (unsigned char)s[++i];
        const char *pre = c1 ? "\\u00" : "\\x";
        size_t plen = strlen(pre);
        if (o + plen + 2 >= outlen) break;
        memcpy(out + o, pre, plen);
        o += plen;
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    out[o] = '\0';
    return o;
}

int sy_read_first_line(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(out, (int)outlen, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}
