/* txn.h -- opt-in Kafka transactions for the worker (`--transactions`).
 *
 * Results and dead letters, and the input offsets they complete, go out in
 * one Kafka transaction per commit interval. Exactly-once results do not
 * rest on this: the LMDB store is the record of truth with or without it
 * (see txn.c for what the option adds and how it fits the data path).
 * Without the option w->txn is NULL and none of this is called. */
#ifndef SY_TXN_H
#define SY_TXN_H

#include <stddef.h>

#include "worker.h"

typedef struct sy_txn sy_txn;

/* The result producer, transactional: transactional.id from the group and
 * the worker's id (kept in the state directory), transactions initialised
 * and the first one begun. Sets w->txn. NULL with a reason in err. */
rd_kafka_t *txn_producer(worker *w, char *err, size_t errlen);
/* A delivery report of the result producer. */
void txn_on_delivery(worker *w, const rd_kafka_message_t *m);
/* Send the committable input offsets with the open transaction and commit
 * it; then note its results PUBLISHED. Aborts and produces again on an
 * abortable error; exits on a fatal one. */
void txn_commit(worker *w);
void txn_report(const worker *w);
void txn_free(worker *w);

#endif
