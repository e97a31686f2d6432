/* log.h -- leveled logging to stderr.
 *
 * One line per event: "2026-11-24T19:30:00.123Z worker INFO message".
 * Control characters in a message (CR, LF, ESC, ... from job fields or
 * provider answers) are written escaped (sy_escape_ctl), so a message is
 * always one line and never drives a terminal.
 * Nothing secret goes through here: API keys live only in sy_provider.api_key
 * and in request headers, and no code formats them into a message.
 *
 * Base layer (base/): uses nothing of switchyard's; every layer above may use it. */
#ifndef SY_LOG_H
#define SY_LOG_H

typedef enum { SY_LOG_DEBUG = 0, SY_LOG_INFO, SY_LOG_WARN, SY_LOG_ERROR } sy_log_level;

void sy_log_init(const char *component, sy_log_level min_level);
void sy_log_set_level(sy_log_level min_level);
/* Parse "debug|info|warn|error"; -1 when unknown. */
int sy_log_level_parse(const char *s);
void sy_log(sy_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sy_debug(...) sy_log(SY_LOG_DEBUG, __VA_ARGS__)
#define sy_info(...) sy_log(SY_LOG_INFO, __VA_ARGS__)
#define sy_warn(...) sy_log(SY_LOG_WARN, __VA_ARGS__)
#define sy_error(...) sy_log(SY_LOG_ERROR, __VA_ARGS__)

#endif
