/* log.h -- leveled logging to stderr, as text or as JSON lines.
 *
 * One line per event. On a terminal, readable text:
 *   "2026-11-24T19:30:00.123Z worker INFO message"
 *   (an event about a job adds "[event job=ID task=T model=M attempt=N]")
 * Otherwise (a file, a pipe, a log collector) one JSON object per line:
 *   {"time":"...","level":"info","component":"worker","event":"...",
 *    "job":"ID","task":"T","model":"M","attempt":N,"msg":"..."}
 * SWITCHYARD_LOG_FORMAT=text|json forces either (sy_log_init reads it).
 * Control characters in a message (CR, LF, ESC, ... from job fields or
 * provider answers) are escaped either way (sy_escape_ctl, or JSON's
 * escapes), so a message is always one line and never drives a terminal.
 * Nothing secret goes through here: API keys live only in sy_provider.api_key
 * and in request headers, and no code formats them into a message.
 *
 * Base layer (base/): uses nothing of switchyard's; every layer above may use it. */
#ifndef SY_LOG_H
#define SY_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

typedef enum { SY_LOG_DEBUG = 0, SY_LOG_INFO, SY_LOG_WARN, SY_LOG_ERROR } sy_log_level;

/* What a line is about (all optional: NULL / attempt 0 leave them out). */
typedef struct sy_log_ctx {
    const char *event; /* a short name: "job_dead_lettered", "circuit_open", ... */
    const char *job, *task, *model;
    int attempt;
} sy_log_ctx;

void sy_log_init(const char *component, sy_log_level min_level);
void sy_log_set_level(sy_log_level min_level);
/* JSON lines (true) or text (false), overriding the choice of sy_log_init. */
void sy_log_set_json(bool json);
/* Parse "debug|info|warn|error"; -1 when unknown. */
int sy_log_level_parse(const char *s);
void sy_log(sy_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, with what the line is about. */
void sy_log_ev(sy_log_level level, const sy_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line, newline included, into out (pure, for the tests): time in ms
 * since the epoch, msg of msglen bytes. */
void sy_log_format(sy_buf *out, bool json, int64_t time_ms, const char *component,
                   sy_log_level level, const sy_log_ctx *ctx, const char *msg, size_t msglen);

/* A periodic statistics line is logged when it changed, or when the same
 * one was last logged `every_us` ago (an idle process does not repeat it
 * each period). */
typedef struct sy_log_repeat {
    uint64_t hash;
    int64_t at_us; /* 0: never logged */
} sy_log_repeat;
/* Is text due now? When yes, it is noted as logged. */
bool sy_log_repeat_due(sy_log_repeat *r, const char *text, int64_t now_us, int64_t every_us);
#define SY_LOG_REPEAT_US (300LL * 1000000) /* the same statistics line at most every 5 minutes */

#define sy_debug(...) sy_log(SY_LOG_DEBUG, __VA_ARGS__)
#define sy_info(...) sy_log(SY_LOG_INFO, __VA_ARGS__)
#define sy_warn(...) sy_log(SY_LOG_WARN, __VA_ARGS__)
#define sy_error(...) sy_log(SY_LOG_ERROR, __VA_ARGS__)

#endif
