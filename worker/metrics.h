/* metrics.h -- the worker's metrics and health endpoint (--http).
 *
 * Counted on the loop's thread, as jobs move (plain increments, no locks):
 * run.c calls the wmetrics_* hooks below, which return at once when the
 * endpoint is off (w->metrics NULL). About once a second a loop timer
 * renders the page (Prometheus text, base/prom.h) from these counts, from
 * counters.h, the breakers (health.h), the accounts (pacing.h), the
 * consumer's positions and the store, and publishes it with the readiness
 * to the HTTP thread (base/httpd.h); the loop's before-sleep hook stamps
 * each turn for /readyz, which also asks Kafka for metadata (kafka/lag.h).
 *
 * Worker layer (worker/). */
#ifndef SY_WMETRICS_H
#define SY_WMETRICS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"
#include "lifecycle.h"

typedef struct worker worker;
struct sy_run;

/* Start the endpoint (w->opt.http); 0, or -1 with the reason logged. */
int wmetrics_start(worker *w);
void wmetrics_stop(worker *w);
/* Each loop turn (before sleep). */
void wmetrics_beat(worker *w);
/* Each loop turn, once the turn's calls are launched: the most calls in
 * flight and jobs held since the page was last rendered. The page is
 * rendered once a second on the loop, at one instant of the work's cycle
 * (a worker taking --max-jobs at a time works in bursts): a gauge read
 * there alone can show 0 all along while calls run; the *_max gauges
 * carry what the second between two pages saw. */
void wmetrics_sample(worker *w);
/* A job's result was produced (ok or failed). */
void wmetrics_result(struct sy_run *r);
/* A call came back after latency_ms with class c. */
void wmetrics_call(struct sy_run *r, int64_t latency_ms, sy_err_class c);
/* The first call of a job is sent. */
void wmetrics_first_send(struct sy_run *r);
/* A retry or fallback event of a job (counted per model). */
void wmetrics_event(struct sy_run *r, sy_life_event ev);
/* The pipelines were reloaded (reload.h): models new by alias are added. */
void wmetrics_reloaded(worker *w);
/* A dead letter of class c was produced. */
void wmetrics_dead_letter(worker *w, sy_err_class c);

#endif
