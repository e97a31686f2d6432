/* http_floor.c -- bench/floor.sh's helper: the cost of the provider call
 * alone, through the worker's own HTTP engine (engine.c) and adapter
 * (providers/), with nothing else of a job around it: no Kafka, no store,
 * no routing. What a job costs beyond this is switchyard's own doing.
 *
 *   http-floor BASE_URL CALLS INFLIGHT
 *
 * Keeps INFLIGHT chat-completion calls going until CALLS have been
 * answered, each built by the worker's adapter with a prompt like the
 * bench's jobs; reads every answer as the worker does (status, rate-limit
 * headers, JSON) and prints the CPU (user and system, getrusage) per call.
 * The first INFLIGHT calls open the connections and are not counted.
 * SY_CA_FILE (a certificate to trust) and SY_HTTP1=1 (no HTTP/2) set the
 * provider's ca_file and http (bench/lib.sh, TRANSPORT). Prints also the
 * connections the engine opened and the memory per call in flight: the
 * peak RSS over the RSS before the first call, over INFLIGHT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

typedef struct floor_run {
    sy_engine *engine;
    sy_provider provider;
    sy_model model;
    long launched, answered, failed, calls, warm;
    int64_t user0_us, sys0_us, t0_us;
} floor_run;

static void cpu_us(int64_t *user_us, int64_t *sys_us)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
    *sys_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
}

/* Resident memory now, in KB. */
static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    if (f) fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The request is built by the worker's own adapter, as for a job. */
static void launch(floor_run *f)
{
    sy_transfer *t = sy_engine_acquire(f->engine);
    if (!t) return;
    char text[128];
    snprintf(text, sizeof text, "Classify item %ld: the printer on floor %ld jams every morning",
             f->launched, f->launched % 97);
    sy_msg user = {.role = "user", .content = text};
    sy_call call = {.model = &f->model, .messages = &user, .nmessages = 1, .max_tokens = 32};
    sy_provider_build(&call, &t->req);
    f->launched++;
    sy_engine_launch(f->engine, t, 30000, NULL);
}

static void on_done(void *ctx, sy_transfer *t, void *opaque)
{
    (void)opaque;
    floor_run *f = ctx;
    sy_outcome out;
    sy_provider_parse(&f->provider, (int)t->http_status, t->headers.data, t->headers.len,
                      t->body.data, t->body.len, &out);
    if (t->curl_code != CURLE_OK || out.error || !out.output) f->failed++;
    sy_outcome_free(&out);
    if (++f->answered == f->warm) {
        cpu_us(&f->user0_us, &f->sys0_us);
        f->t0_us = sy_mono_us();
    }
    if (f->launched < f->calls + f->warm) launch(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: http-floor BASE_URL CALLS INFLIGHT\n");
        return 2;
    }
    int inflight = atoi(argv[3]);
    floor_run f = {.calls = atol(argv[2]), .warm = inflight};
    f.provider = (sy_provider){.name = "floor", .kind = sy_provider_kind_named("openai"), .base_url = argv[1],
                               .api_key = "bench-key"};
    f.model = (sy_model){.alias = "floor", .provider = &f.provider, .name = "gpt-4o-mini"};
    f.provider.ca_file = getenv("SY_CA_FILE");
    f.provider.http1_only = getenv("SY_HTTP1") && !strcmp(getenv("SY_HTTP1"), "1");
    sy_werr err = {0};
    sy_loop *loop = sy_loop_new(&err);
    f.engine = loop ? sy_engine_new(loop, inflight, 1, on_done, &f, &err) : NULL;
    if (!f.engine) {
        fprintf(stderr, "http-floor: %s\n", err.msg);
        return 1;
    }
    long rss0_kb = rss_kb();
    for (int i = 0; i < inflight; i++) launch(&f);
    while (f.answered < f.calls + f.warm) sy_loop_turn(loop, 100);
    int64_t user, sys;
    cpu_us(&user, &sys);
    double secs = (double)(sy_mono_us() - f.t0_us) / 1e6, n = (double)f.calls;
    printf("calls %ld  in flight %d  failed %ld  %.0f calls/s\n", f.calls, inflight, f.failed, n / secs);
    printf("CPU us/call %.1f: in the kernel %.1f, in user space %.1f (the first %ld calls not counted)\n",
           (double)(user - f.user0_us + sys - f.sys0_us) / n, (double)(sys - f.sys0_us) / n,
           (double)(user - f.user0_us) / n, f.warm);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    sy_engine_stats es = sy_engine_get_stats(f.engine);
    printf("connections opened %llu, calls over HTTP/2 %llu, over HTTP/1.x %llu; memory per call in flight "
           "%.1f KB (peak RSS %ld KB - %ld KB before the first call, / %d)\n",
           (unsigned long long)es.connections_opened, (unsigned long long)es.calls_h2,
           (unsigned long long)es.calls_h1, (double)(ru.ru_maxrss - rss0_kb) / inflight, ru.ru_maxrss, rss0_kb,
           inflight);
    sy_engine_free(f.engine);
    sy_loop_free(loop);
    return f.failed ? 1 : 0;
}
