/* route_txn.h -- `switchyard scheduler --transactions`: routing in Kafka
 * transactions (see route_txn.c for the protocol).
 *
 * Called by the router (scheduler.c) only. A fatal error (fenced, a message
 * refused for good, too many aborts in a row) is logged and noted in
 * s->fatal; the functions then return -1 and commit nothing more, and the
 * router stops: the command decides the exit code. */
#ifndef SY_ROUTE_TXN_H
#define SY_ROUTE_TXN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "sched_state.h"

/* The transactional producer (transactional.id
 * "switchyard-scheduler-<group>-<host>" unless -X sets one), transactions
 * initialised and the first begun; sets s->txn. NULL with a reason. */
rd_kafka_t *sched_txn_producer(scheduler *s,
                               void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                               char *err, size_t errlen);
/* A delivery of the open transaction failed: the transaction will abort,
 * or, refused for good, the scheduler must stop (s->fatal). */
void sched_txn_on_failure(scheduler *s, const rd_kafka_message_t *m);
/* Send the done prefix of the jobs-topic offsets with the open transaction
 * and commit it, then begin the next; on an abortable error abort and
 * rewind the consumer to the committed offsets. 0, or -1 on a fatal error
 * (or after one: nothing is committed then). */
int sched_txn_commit(scheduler *s);
void sched_txn_free(scheduler *s);

#endif
