/* log.c -- see log.h. Every message is escaped (control characters as
 * \xHH in text, JSON escapes in JSON) before it is written. */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "switchyard";
static sy_log_level log_min = SY_LOG_INFO;
static bool log_json;

void sy_log_init(const char *component, sy_log_level min_level)
{
    log_component = component;
    log_min = min_level;
    const char *f = getenv("SWITCHYARD_LOG_FORMAT");
    if (f && !strcmp(f, "json")) log_json = true;
    else if (f && !strcmp(f, "text")) log_json = false;
    else log_json = !isatty(STDERR_FILENO);
}

void sy_log_set_level(sy_log_level min_level)
{
    log_min = min_level;
}

void sy_log_set_json(bool json)
{
    log_json = json;
}

int sy_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

#define MSG_MAX 2048 /* bytes of a line's message, escaped: longer ones are cut */

/* s escaped, at most cap bytes (cut at a whole escape). */
static void text_ctl(sy_buf *out, const char *s, size_t n, size_t cap)
{
    if (cap > 4 * n) cap = 4 * n; /* \xHH at most per byte */
    sy_buf_reserve(out, cap + 1);
    out->len += sy_escape_ctl(out->data + out->len, cap + 1, s, n);
}

/* A JSON string with no raw control character at all: JSON's own escapes
 * (sy_buf_json_str: C0, quotes, invalid UTF-8) and then DEL and the C1
 * controls (U+0080..U+009F, which JSON allows raw but a terminal may act
 * on) as \u00HH too. */
static void json_ctl(sy_buf *out, const char *s, size_t n)
{
    sy_buf tmp;
    sy_buf_init(&tmp);
    sy_buf_json_str(&tmp, s, n);
    while (tmp.len > MSG_MAX + 2 && n > 0) { /* too long escaped: cut the input in proportion */
        n = n * MSG_MAX / tmp.len;
        sy_buf_reset(&tmp);
        sy_buf_json_str(&tmp, s, n);
    }
    const unsigned char *p = (const unsigned char *)tmp.data;
    for (size_t i = 0; i < tmp.len; i++) {
        if (p[i] == 0x7f) sy_buf_puts(out, "\\u007f");
        else if (p[i] == 0xc2 && i + 1 < tmp.len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            sy_buf_printf(out, "\\u00%02x", p[++i]);
        else sy_buf_putc(out, (char)p[i]);
    }
    sy_buf_free(&tmp);
}

void sy_log_format(sy_buf *out, bool json, int64_t time_ms, const char *component,
                   sy_log_level level, const sy_log_ctx *ctx, const char *msg, size_t msglen)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *names[] = {"debug", "info", "warn", "error"};
    time_t sec = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[96];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(time_ms % 1000));
    static const sy_log_ctx none;
    if (!ctx) ctx = &none;
    if (json) {
        sy_buf_printf(out, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", ts, names[level]);
        json_ctl(out, component, strlen(component));
        const char *keys[] = {"event", "job", "task", "model"};
        const char *vals[] = {ctx->event, ctx->job, ctx->task, ctx->model};
        for (int i = 0; i < 4; i++)
            if (vals[i]) {
                sy_buf_printf(out, ",\"%s\":", keys[i]);
                json_ctl(out, vals[i], strlen(vals[i]) > 256 ? 256 : strlen(vals[i]));
            }
        if (ctx->attempt > 0) sy_buf_printf(out, ",\"attempt\":%d", ctx->attempt);
        sy_buf_puts(out, ",\"msg\":");
        json_ctl(out, msg, msglen);
        sy_buf_puts(out, "}\n");
        return;
    }
    sy_buf_printf(out, "%s %s %s ", ts, component, tags[level]);
    if (ctx->event) {
        sy_buf_putc(out, '[');
        text_ctl(out, ctx->event, strlen(ctx->event), 256);
        const char *keys[] = {" job=", " task=", " model="};
        const char *vals[] = {ctx->job, ctx->task, ctx->model};
        for (int i = 0; i < 3; i++)
            if (vals[i]) {
                sy_buf_puts(out, keys[i]);
                text_ctl(out, vals[i], strlen(vals[i]), 256);
            }
        if (ctx->attempt > 0) sy_buf_printf(out, " attempt=%d", ctx->attempt);
        sy_buf_puts(out, "] ");
    }
    text_ctl(out, msg, msglen, MSG_MAX);
    sy_buf_putc(out, '\n');
}

static void vlog(sy_log_level level, const sy_log_ctx *ctx, const char *fmt, va_list ap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char msg[2048];
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    if (m < 0) m = 0;
    if ((size_t)m >= sizeof msg) m = sizeof msg - 1;
    sy_buf line;
    sy_buf_init(&line);
    /* Messages carry job ids, task names and provider text: escaped, so
     * that one event is one line and nothing reaches a terminal raw. */
    sy_log_format(&line, log_json, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, log_component,
                  level, ctx, msg, (size_t)m);
    fwrite(line.data, 1, line.len, stderr); /* one write per line: lines of processes sharing a log do not interleave */
    sy_buf_free(&line);
}

void sy_log(sy_log_level level, const char *fmt, ...)
{
    if (level < log_min) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void sy_log_ev(sy_log_level level, const sy_log_ctx *ctx, const char *fmt, ...)
{
    if (level < log_min) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, ctx, fmt, ap);
    va_end(ap);
}

bool sy_log_repeat_due(sy_log_repeat *r, const char *text, int64_t now_us, int64_t every_us)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    if (r->at_us && h == r->hash && now_us - r->at_us < every_us) return false;
    r->hash = h;
    r->at_us = now_us;
    return true;
}
