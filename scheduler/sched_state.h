/* sched_state.h -- the state of a running scheduler.
 *
 * Shared by the router (scheduler.c, which owns it: sched_run creates and
 * ends it) and its optional Kafka transactions (route_txn.c); a header of
 * types only, so that route_txn.c depends on the state, not on the router. */
#ifndef SY_SCHED_STATE_H
#define SY_SCHED_STATE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"
#include "kafka.h"
#include "log.h"
#include "offsets.h"
#include "pipeline.h"

typedef struct sched_txn sched_txn;

typedef struct scheduler {
    const sy_config *cfg;
    const sy_kafka_opts *kafka;
    const char *jobs_topic, *dlq_topic, *group;
    sched_txn *txn;     /* NULL without --transactions */
    rd_kafka_t *consumer, *producer;
    sy_offsets *offsets;
    uint64_t routed, dead, failed_deliveries;
    /* --http (sched_metrics.h) */
    const char *http_spec;
    struct sy_httpd *http;        /* NULL: off */
    uint64_t *routed_by_task;     /* per config task index (with http only) */
    uint64_t dead_by_class[SY_ERR_COUNT];
    int64_t published_us;
    sy_log_repeat stats_logged;   /* the statistics line last logged (log.h) */              /* the consumer said all brokers are down */
    bool fatal;         /* a fatal error (logged): stop without committing more */
} scheduler;

#endif
