/* batchio.h -- the shell of a batch tier's batches: the HTTP calls of the
 * OpenAI Batch API through the engine, and the timers.
 *
 * run.c hands over a job whose call is prepared (its request body is the
 * batch line's body); its run stays CALL_OUT (lifecycle.h) while a batch
 * carries it. batch.h decides (state machine, limits, polling, matching);
 * this file uploads the JSONL input (POST {base}/files), creates the batch
 * (POST {base}/batches), polls it (GET {base}/batches/{id}), downloads the
 * output and error files (GET {base}/files/{id}/content, bounded by
 * --max-answer-bytes), and gives each job its line (the hooks' `line`),
 * or, for a job no line answered, a retriable failure. One batch per
 * (tier, model) collects at a time. Each batch is recorded in the store
 * (batchrec.h) and, once recorded created, owns its jobs (their input
 * offsets are released: docs/durability.md, "Batch tiers"). */
#ifndef SY_WORKER_BATCHIO_H
#define SY_WORKER_BATCHIO_H

#include <stdbool.h>

#include "worker.h"

/* r's call, prepared in t, goes into its tier's collecting batch: t is
 * released. False when it cannot (its line is larger than a batch may be):
 * the caller launches it as an ordinary call. */
bool batchio_take(worker *w, sy_run *r, sy_transfer *t);
/* What this file asks of the jobs' shell (run.c), handed at start the way
 * embed.c is handed its ending: batchio.c calls no function of run.c. */
typedef struct batchio_hooks {
    /* the batch carrying r is recorded created: it owns r (run_batch_owned) */
    void (*owned)(sy_run *r);
    /* r's line, or status 0 and an error code (run_on_batch_line); true
     * when r's result is staged: the batch's record then stays until
     * batchio_result_out says that result is out */
    bool (*line)(sy_run *r, const char *batch_id, int status, const char *body, size_t len,
                 const char *error_code);
    /* a job rebuilt from a batch record, its offset committed (run_restore) */
    void (*restore)(worker *w, const sy_tier *tier, int32_t partition, int64_t offset, const char *origin,
                    const void *key, size_t keylen, const void *value, size_t len);
} batchio_hooks;

/* At start, before consuming (hooks kept for the worker's life): each
 * batch tier's recorded batches are polled again and the jobs they own
 * rebuilt (hooks->restore); then the provider's listing is looked at for
 * a batch created but not recorded. */
void batchio_start(worker *w, const batchio_hooks *hooks);
/* A finished engine transfer: true if it was a batch's call (handled). */
bool batchio_on_response(worker *w, sy_transfer *t, void *opaque);
/* Before each group commit: the batch records staged so far are the ones
 * it makes durable (a record staged after it, e.g. by a batch sent from
 * run_after_group_commit, waits for the next one). */
void batchio_before_group_commit(worker *w);
/* After each group commit: the batches whose record it made durable go on
 * (their create, or their polling). */
void batchio_after_group_commit(worker *w);
/* After a changelog restore of `parts` stored the batch records another
 * worker mirrored: the new batches are polled, the jobs they own rebuilt
 * (records of a batch polled already add their jobs to it); after the
 * first restore, the provider's listing is read again for a batch of these
 * partitions created but not recorded by a worker that died. */
void batchio_restored(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* A changelog delivery report: true if it was a batch record's (handled). */
bool batchio_on_delivery(worker *w, const rd_kafka_message_t *m);
/* r's partition is revoked (docs/durability.md, "Batches follow
 * partitions"): what becomes of r, a job a batch (or its tier's recovery
 * queue) holds.
 *   KEEP: no batch holds it; it finishes here as any job at a revoke.
 *   HANDED: a batch owns it (its record is on the changelog, where the
 *     partition's next owner reads it): it left the batch, which neither
 *     answers nor records it any more. Also a batch-owned job waiting in
 *     the recovery queue whose record is on the changelog.
 *   DROPPED: it was never sent (a collecting batch, the recovery queue),
 *     or (last) its batch went out but does not own it yet: it left the
 *     batch, whose line for it is ignored. Its offset is not committed:
 *     the next owner consumes it.
 *   WAIT: its batch is on its way (upload, create, record): the caller
 *     waits for it to own r (then HANDED), asking again; `last` when the
 *     wait is over (WAIT is then DROPPED).
 *   RELEASE: r is batch-owned but joined to no batch yet (rebuilt from a
 *     record, its store lookup and intent under way; or gone to a retry)
 *     and a batch's record on the changelog still carries it: it left
 *     that batch, the next owner rebuilds it from the record; the caller
 *     releases r without a result where it would join its batch. With no
 *     record left for it (a retry whose batch is over), KEEP: the next
 *     owner has nothing to rebuild it from and its offset is committed.
 * HANDED and DROPPED: the caller frees r without a result.
 * batchio_after_hand_over then records the batches again without those
 * jobs, and stops polling a batch left with no job to answer here. */
typedef enum batchio_revoke {
    BATCHIO_KEEP, BATCHIO_HANDED, BATCHIO_DROPPED, BATCHIO_WAIT, BATCHIO_RELEASE
} batchio_revoke;
batchio_revoke batchio_hand_over(worker *w, sy_run *r, bool last);
void batchio_after_hand_over(worker *w);
/* r is freed: no batch answers it any more. */
void batchio_forget_run(worker *w, sy_run *r);
/* The result a batch answered r with is out (out: its PUBLISHED record is
 * staged, after its changelog mirror), or r is freed without it (!out: a
 * stop; the record then stays for the next start). A batch's record goes
 * (store and changelog) only once every result it answered is out, so
 * that a crash before then rebuilds the jobs, answered from the store
 * (docs/durability.md, "Batch tiers"). */
void batchio_result_out(worker *w, sy_run *r, bool out);
/* r, a job rebuilt from a batch's record (batch-owned), is answered from
 * its stored result (replay or dedup), not by its batch: that batch's
 * record stays until this result is out too (batchio_result_out), as for
 * the results the batch answered, so that a crash before then rebuilds it
 * again. Nothing when no adopted batch here carries r's message. */
void batchio_answered_from_store(worker *w, sy_run *r);
/* Teardown: every batch freed, nothing answered (the jobs are redone). */
void batchio_free_all(worker *w);

#endif
