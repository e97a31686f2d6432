/* sched_metrics.c -- see sched_metrics.h. */
#include "sched_metrics.h"
#include "httpd.h"
#include "lag.h"
#include "log.h"
#include "prom.h"
#include "util.h"

#include <stdlib.h>

#define STUCK_MS 10000

/* /readyz's check, on its own thread (httpd.h): the producer (made before the endpoint,
 * destroyed after it) asks the cluster for metadata. */
static bool kafka_probe(void *ctx, char *why, size_t len)
{
    return sy_kafka_probe(((scheduler *)ctx)->producer, 2000, why, len);
}

int sched_metrics_start(scheduler *s)
{
    if (!s->http_spec) return 0;
    char err[256];
    s->http = sy_httpd_start(s->http_spec, getenv(SY_HTTP_TOKEN_ENV), STUCK_MS, kafka_probe, s, err, sizeof err);
    if (!s->http) {
        sy_error("http: %s", err);
        return -1;
    }
    s->routed_by_task = sy_xcalloc(s->cfg->ntasks + 1, sizeof *s->routed_by_task);
    sy_info("http: serving /metrics /healthz /readyz on %.40s (port %d)", s->http_spec,
            sy_httpd_port(s->http));
    sched_metrics_tick(s, sy_mono_us());
    return 0;
}

static void render(scheduler *s, sy_buf *b)
{
    sy_prom_family(b, "switchyard_jobs_routed_total", "Jobs routed to their tier topic, by task and tier.", SY_PROM_COUNTER);
    for (size_t i = 0; i < s->cfg->ntasks; i++) {
        const sy_task *t = s->cfg->tasks[i];
        sy_prom_label l[] = {{"task", t->name}, {"tier", t->tier ? t->tier->name : ""}};
        sy_prom_sample(b, "switchyard_jobs_routed_total", l, 2, (double)s->routed_by_task[i]);
    }
    sy_prom_family(b, "switchyard_dead_letters_total", "Dead letters produced by class.", SY_PROM_COUNTER);
    for (int c = 0; c < SY_ERR_COUNT; c++)
        if (s->dead_by_class[c])
            sy_prom_sample(b, "switchyard_dead_letters_total", &(sy_prom_label){"class", sy_err_class_name(c)}, 1,
                           (double)s->dead_by_class[c]);
    sy_prom_family(b, "switchyard_failed_deliveries_total", "Routed messages the broker did not acknowledge (produced again or dead-lettered).", SY_PROM_COUNTER);
    sy_prom_sample(b, "switchyard_failed_deliveries_total", NULL, 0, (double)s->failed_deliveries);
    sy_prom_family(b, "switchyard_reloads_total", "Pipeline reloads (SIGHUP or a file change) by result.", SY_PROM_COUNTER);
    sy_prom_sample(b, "switchyard_reloads_total", &(sy_prom_label){"result", "ok"}, 1, (double)s->reloads_ok);
    sy_prom_sample(b, "switchyard_reloads_total", &(sy_prom_label){"result", "failed"}, 1, (double)s->reloads_failed);
    sy_kafka_prom_lag(s->consumer, b);
}

void sched_metrics_tick(scheduler *s, int64_t now)
{
    if (!s->http) return;
    sy_httpd_beat(s->http, now);
    if (s->published_us && now - s->published_us < 1000000) return;
    s->published_us = now;
    sy_buf b;
    sy_buf_init(&b);
    render(s, &b);
    sy_httpd_publish(s->http, b.data ? b.data : "", b.len,
                     s->fatal ? "stopping after a fatal error" : NULL);
    sy_buf_free(&b);
}

void sched_metrics_stop(scheduler *s)
{
    sy_httpd_stop(s->http);
    s->http = NULL;
    free(s->routed_by_task);
    s->routed_by_task = NULL;
}
