/* scheduler.h -- the scheduler's state, shared by scheduler.c (the router)
 * and route_txn.c (its optional Kafka transactions). */
#ifndef SY_SCHEDULER_H
#define SY_SCHEDULER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "kafka.h"
#include "offsets.h"
#include "pipeline.h"

typedef struct sched_txn sched_txn;

typedef struct scheduler {
    sy_config cfg;
    sy_kafka_opts kafka;
    const char *jobs_topic, *dlq_topic, *group;
    bool transactions;  /* --transactions */
    sched_txn *txn;     /* NULL without it */
    rd_kafka_t *consumer, *producer;
    sy_offsets *offsets;
    uint64_t routed, dead, failed_deliveries;
} scheduler;

/* route_txn.c: the transactional producer (transactional.id
 * "switchyard-scheduler-<group>-<host>" unless -X sets one), transactions
 * initialised and the first begun; sets s->txn. NULL with a reason. */
rd_kafka_t *sched_txn_producer(scheduler *s,
                               void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                               char *err, size_t errlen);
/* A delivery of the open transaction failed. */
void sched_txn_on_failure(scheduler *s, const rd_kafka_message_t *m);
/* Send the done prefix of the jobs-topic offsets with the open transaction
 * and commit it, then begin the next; on an abortable error abort and
 * rewind the consumer to the committed offsets; exit on a fatal one. */
void sched_txn_commit(scheduler *s);
void sched_txn_free(scheduler *s);

#endif
