/* sched_metrics.h -- the scheduler's metrics and health endpoint (--http).
 *
 * The routing loop counts into the scheduler's state (sched_state.h: jobs
 * routed per task, dead letters per class: plain increments, one thread);
 * once a second sched_metrics_tick renders the page (base/prom.h) with the
 * consumer's lag (kafka/lag.h) and publishes it to the HTTP thread
 * (base/httpd.h), and each turn stamps the loop's heartbeat for /readyz
 * (which also asks Kafka for metadata: kafka/lag.h).
 *
 * Scheduler layer (scheduler/). */
#ifndef SY_SCHED_METRICS_H
#define SY_SCHED_METRICS_H

#include <stdint.h>

#include "sched_state.h"

/* Start serving s->http_spec (no-op without it); 0, or -1 (logged). */
int sched_metrics_start(scheduler *s);
/* Each loop turn; publishes when a second has passed. */
void sched_metrics_tick(scheduler *s, int64_t now_us);
void sched_metrics_stop(scheduler *s);

#endif
