/* log.c -- see log.h. Every message is escaped (control characters as
 * \xHH, util.h) before it is written. */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *log_component = "switchyard";
static sy_log_level log_min = SY_LOG_INFO;

void sy_log_init(const char *component, sy_log_level min_level)
{
    log_component = component;
    log_min = min_level;
}

void sy_log_set_level(sy_log_level min_level)
{
    log_min = min_level;
}

int sy_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

void sy_log(sy_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_min) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), log_component, tags[level]);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    if ((size_t)m >= sizeof msg) m = sizeof msg - 1;
    /* Messages carry job ids, task names and provider text: escaped, so
     * that one event is one line and nothing reaches a terminal raw. */
    size_t len = (size_t)n + sy_escape_ctl(line + n, sizeof line - (size_t)n - 1, msg, (size_t)m);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one write per line: lines of processes sharing a log do not interleave */
}
