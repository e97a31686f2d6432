/* run.h -- a job's life in the worker (run.c): the shell around its state
 * machine (lifecycle.h). worker.c calls these as things happen; each turns
 * into an event of the job and its effects. Nothing here calls back into
 * worker.c; publish.c and txn.c are called from here only.
 *
 * A fatal error on the way (a dead producer, a transaction that cannot go
 * on) is left in w->fatal (werr.h): the loop ends and the command
 * returns it. */
#ifndef SY_RUN_H
#define SY_RUN_H

#include "worker.h"

/* intake: a message of a tier topic (copied; m stays the caller's) */
void run_start(worker *w, const rd_kafka_message_t *m);
/* a job rebuilt from a batch record after a restart (batchrec.h): its
 * tier message, whose offset is committed already; it runs as if consumed
 * (the store answers it if its result is out) and joins its batch */
void run_restore(worker *w, const sy_tier *tier, int32_t partition, int64_t offset, const char *origin,
                 const void *key, size_t keylen, const void *value, size_t len);
/* Test hook: SWITCHYARD_BATCH_HOLD_REBUILT_MS=<ms> holds each rebuilt job
 * that long with its intent staged, before it joins its batch (widens the
 * window a revoke must handle: docs/durability.md, "Batches follow
 * partitions"), or, answered from the store, with its stored result
 * staged, before it goes out (tests/integration/batch_publish_hold.sh). */
/* a batch (batchio.c): the batch carrying r is recorded created; it owns
 * r, whose input offset is released (BATCH_OWNED) and which no longer
 * counts as held */
void run_batch_owned(sy_run *r);
/* the timer heap: r's timer fired */
void run_on_timer(sy_run *r);
/* the ready queue: r got an engine slot */
void run_on_slot(sy_run *r);
/* the engine: r's call ended (sy_engine's completion callback) */
void run_on_response(worker *w, sy_transfer *t, void *opaque);
/* a batch (batchio.c): r's line, status_code and response body (as
 * sy_batch_match_line gave it: checked whole, not checked again), or
 * status 0 and the line's error code (expired, no line: retriable); true
 * when its result is staged (batchio_result_out follows), false when retried */
bool run_on_batch_line(sy_run *r, const char *batch_id, int status, const char *body, size_t len,
                       const char *error_code);
/* after the store's group commit: what waited for it (w->deferred) goes */
void run_after_group_commit(worker *w);
/* the producers' delivery report callback (opaque: the worker) */
void run_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* --transactions: where offsets are committed, commit the transaction and
 * tell the jobs what became of it */
void run_txn_commit(worker *w);
/* let jobs waiting on accounts through as their buckets allow, and expire
 * those whose deadline passed; returns microseconds until the next account
 * has room or the next waiting job's deadline (-1: none waits). */
int64_t run_release_paced(worker *w);
/* partitions taken away: their jobs finish (their results still go out),
 * but those batches hold (batchio_hand_over): a job a batch owns is left
 * to the next owner, one never sent is dropped (the next owner consumes
 * it), one whose batch is on its way is waited for (FIRST, then AGAIN
 * each loop turn of the wait) until its batch owns it, and dropped at
 * LAST if it does not. Returns how many were dropped (their offsets stay
 * unfinished: the next owner has them). */
typedef enum sy_revoke_pass { SY_REVOKE_FIRST, SY_REVOKE_AGAIN, SY_REVOKE_LAST } sy_revoke_pass;
size_t run_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts, sy_revoke_pass pass);
/* jobs of these partitions whose offsets were released before their
 * results went out (a batch owned them) and whose results, or the records
 * that follow them, are not all acknowledged yet; a revoke waits for them
 * as for unfinished offsets (the next owner may rebuild them from their
 * batch's record, kept until their results are out: batchio_result_out) */
size_t run_results_held_in(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* what batchio.c asks of a job (batchio_start is handed it) */
extern const struct batchio_hooks run_batch_hooks;
/* the worker exits: every job left is dropped (redelivered on restart) */
void run_abandon_all(worker *w);
/* questions about one run */
bool run_call_out(const sy_run *r);  /* its call is in flight */
bool run_owns_key(const sy_run *r);  /* it is the job in work for its key */

#endif
