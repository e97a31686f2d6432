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

#include "kafka.h"
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
    bool fatal;         /* a fatal error (logged): stop without committing more */
} scheduler;

#endif
