/* txn.h -- opt-in Kafka transactions for the worker (`--transactions`).
 *
 * Results and dead letters, and the input offsets they complete, go out in
 * one Kafka transaction per commit interval. Exactly-once results do not
 * rest on this: the LMDB store is the record of truth with or without it
 * (see txn.c for what the option adds and how it fits the data path).
 * Without the option w->txn is NULL and none of this is called.
 *
 * txn.c knows nothing of jobs: a message's opaque (its run) is kept and
 * handed back; run.c turns what txn_commit returns into the jobs' events
 * (TXN_COMMITTED, TXN_ABORTED: lifecycle.h). Errors are returned, never
 * exited on. */
#ifndef SY_TXN_H
#define SY_TXN_H

#include <stddef.h>

#include "worker.h"

typedef struct sy_txn sy_txn;

/* The result producer, transactional: transactional.id from the group and
 * the worker's id (kept in the state directory), transactions initialised
 * and the first one begun; its delivery reports go to dr_cb (opaque w).
 * Sets w->txn. NULL with a reason in err. kafka: the client options to
 * use (the worker's producer options, worker.c connect_kafka). */
rd_kafka_t *txn_producer(worker *w, const sy_kafka_opts *kafka, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                         char *err, size_t errlen);
/* A delivery report of the result producer: the message is kept (a copy,
 * produced again if the transaction aborts); a failed one dooms the open
 * transaction. */
void txn_keep(sy_txn *t, const rd_kafka_message_t *m);
/* A run (opaque) whose messages are all acknowledged waits for the commit. */
void txn_hold(sy_txn *t, void *run);

typedef enum sy_txn_outcome {
    SY_TXN_IDLE,      /* nothing to commit */
    SY_TXN_COMMITTED, /* *runs: the held runs, their results now committed */
    SY_TXN_ABORTED,   /* *runs: the opaque of each message produced again (NULL for
                         none), in the transaction just begun */
    SY_TXN_FATAL,     /* fenced, or a fatal error: *e says why; stop */
} sy_txn_outcome;
/* Send the committable input offsets with the open transaction and commit
 * it; on an abortable error abort and produce every kept message again.
 * *runs stays valid until the next call. */
sy_txn_outcome txn_commit(worker *w, void ***runs, size_t *n, sy_werr *e);
void txn_report(const worker *w);
void txn_free(worker *w);

#endif
