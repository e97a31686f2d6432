/* record.c -- what the fake provider counts and logs.
 *
 * Counters feed GET /stats and the one-line summary printed on SIGTERM.
 * The call log (--call-log) is what tests assert on: one JSON line per
 * provider call answered (and one, with status 0, when a call starts to
 * hang). Each line goes out in a single write(2) on an O_APPEND descriptor,
 * so lines stay whole even if the process is killed. The API key is never
 * recorded, only the first 8 hex digits of its hash. */
#include "fake.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static struct {
    uint64_t requests, by_api[FP_API_AZURE + 1], by_status[600], hung;
    int64_t connections_open, connections_peak; /* peak: most open at once */
    int h2_streams_peak; /* most streams open at once on one connection */
    uint64_t connections_total;
    uint64_t tls_connections, h2_connections, h2_streams;
    int64_t start_ms;
    int call_fd;
} rec = {.call_fd = -1};

static const char *const api_names[] = {"other", "openai", "anthropic", "azure"};
_Static_assert(sizeof api_names / sizeof api_names[0] == FP_API_AZURE + 1, "a name per api");

void fp_record_open(const char *call_log_path)
{
    rec.start_ms = sy_now_ms();
    if (!call_log_path) return;
    rec.call_fd = open(call_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (rec.call_fd < 0) perror(call_log_path);
}

void fp_record_request(fp_api api)
{
    rec.requests++;
    rec.by_api[api]++;
}

static void call_log_write(const char *call, size_t call_len)
{
    static sy_buf line;
    sy_buf_reset(&line);
    sy_buf_printf(&line, "{\"ts_ms\":%lld,", (long long)sy_now_ms());
    sy_buf_append(&line, call, call_len);
    ssize_t n;
    do n = write(rec.call_fd, line.data, line.len);
    while (n < 0 && errno == EINTR);
}

void fp_record_answer(int status, const char *call, size_t call_len)
{
    if (status == 0) rec.hung++;
    else if (status > 0 && status < 600) rec.by_status[status]++;
    if (call_len && rec.call_fd >= 0) call_log_write(call, call_len);
}

void fp_record_connection(int delta)
{
    rec.connections_open += delta;
    if (rec.connections_open > rec.connections_peak) rec.connections_peak = rec.connections_open;
    if (delta > 0) rec.connections_total++;
}

void fp_record_tls_connection(void)
{
    rec.tls_connections++;
}

void fp_record_h2_connection(void)
{
    rec.h2_connections++;
}

void fp_record_h2_stream(int open)
{
    rec.h2_streams++;
    if (open > rec.h2_streams_peak) rec.h2_streams_peak = open;
}

void fp_record_stats_json(sy_buf *b)
{
    sy_buf_printf(b, "{\"requests\":%llu,\"by_status\":{", (unsigned long long)rec.requests);
    const char *sep = "";
    for (int s = 0; s < 600; s++) {
        if (!rec.by_status[s]) continue;
        sy_buf_printf(b, "%s\"%d\":%llu", sep, s, (unsigned long long)rec.by_status[s]);
        sep = ",";
    }
    sy_buf_puts(b, "},\"by_api\":{");
    for (int a = 0; a < (int)(sizeof api_names / sizeof api_names[0]); a++)
        sy_buf_printf(b, "%s\"%s\":%llu", a ? "," : "", api_names[a], (unsigned long long)rec.by_api[a]);
    sy_buf_printf(b, "},\"hung\":%llu,\"pending\":%zu,\"connections_open\":%lld,"
                     "\"connections_total\":%llu,\"tls_connections\":%llu,\"h2_connections\":%llu,"
                     "\"h2_streams\":%llu,\"connections_peak\":%lld,\"h2_streams_peak\":%d,"
                     "\"cpu_us\":%lld,\"uptime_ms\":%lld}\n",
                  (unsigned long long)rec.hung, fp_timers_count(), (long long)rec.connections_open,
                  (unsigned long long)rec.connections_total, (unsigned long long)rec.tls_connections,
                  (unsigned long long)rec.h2_connections, (unsigned long long)rec.h2_streams,
                  (long long)rec.connections_peak, rec.h2_streams_peak, (long long)sy_cpu_us(),
                  (long long)(sy_now_ms() - rec.start_ms));
}

void fp_record_summary(void)
{
    sy_buf b;
    sy_buf_init(&b);
    sy_buf_printf(&b, "fake-provider: requests=%llu", (unsigned long long)rec.requests);
    for (int s = 0; s < 600; s++)
        if (rec.by_status[s]) sy_buf_printf(&b, " %d=%llu", s, (unsigned long long)rec.by_status[s]);
    sy_buf_printf(&b, " hung=%llu connections=%llu tls=%llu h2=%llu h2_streams=%llu cpu_us=%lld\n",
                  (unsigned long long)rec.hung, (unsigned long long)rec.connections_total,
                  (unsigned long long)rec.tls_connections, (unsigned long long)rec.h2_connections,
                  (unsigned long long)rec.h2_streams, (long long)sy_cpu_us());
    fputs(sy_buf_cstr(&b), stderr);
    fflush(stderr);
    sy_buf_free(&b);
}
