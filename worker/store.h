/* store.h -- the worker's durable memory (LMDB): job state and idempotency.
 *
 * One record per task and idempotency key says how far that job got:
 *
 *   IN_FLIGHT   an attempt was about to be sent (the intent, written and
 *               made durable BEFORE the HTTP call goes out): after a crash,
 *               only jobs in this state can have been paid for twice. A
 *               clean stop marks the intents of jobs that had no call out
 *               (waiting for a retry, a slot, a rate limit): no_call_out
 *   PUBLISHING  the final result is known and stored here (written durably
 *               BEFORE it is produced): a redelivered job is answered from
 *               here, never by a second call
 *   PUBLISHED   the broker acknowledged the result (output partition and
 *               offset noted): a redelivery of the same input message is
 *               simply skipped; a resubmission of the key (another input
 *               message) gets the stored result, marked deduplicated
 *
 * Changes are staged in one write transaction and made durable together by
 * sy_store_commit (group commit): the worker commits at the end of a loop
 * turn (at most --commit-interval-ms after the first change staged since
 * the last commit) and only then launches the calls and produces the
 * results that depend on it.
 * The store also notes, per output partition, the highest offset whose
 * acknowledgement it has recorded; on start-up the worker reads the output
 * partitions from there to find results that landed just before a crash.
 * How these records keep every job and pay no call twice: docs/durability.md. */
#ifndef SY_STORE_H
#define SY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum sy_job_state {
    SY_STATE_NONE = 0,
    SY_STATE_IN_FLIGHT = 1,
    SY_STATE_PUBLISHING = 2,
    SY_STATE_PUBLISHED = 3,
} sy_job_state;

typedef struct sy_job_record {
    sy_job_state state;
    bool ok;                  /* PUBLISHING/PUBLISHED: the result's status */
    bool no_call_out;         /* IN_FLIGHT: a clean stop saw no call of it out */
    uint32_t attempts;        /* calls made so far (all models) */
    int32_t src_partition;    /* the input message this record is about */
    int64_t src_offset;
    int64_t updated_ms;
    int64_t expires_ms;       /* idempotency key lifetime; 0 = never */
    int32_t out_partition;    /* PUBLISHED: where the result landed */
    int64_t out_offset;
    const char *src_topic;    /* views into the record's storage */
    const char *model;        /* IN_FLIGHT: alias of the model being called */
    const char *out_topic;    /* PUBLISHING/PUBLISHED: the task's output topic */
    const void *result;       /* PUBLISHING/PUBLISHED: the result (msgpack) */
    size_t result_len;
    const char *origin;       /* where the job entered (origin.h), or NULL; records
                                 without one keep the version-1 layout */
} sy_job_record;

#define SY_RECORD_ORIGIN_MAX 300 /* bytes of an origin, with its NUL */

typedef struct sy_store sy_store;

/* The store's key of a job: its task, SY_STORE_KEY_SEP, its idempotency
 * key. An idempotency key is scoped to its task, so that jobs of two tasks
 * that happen to share one never answer each other (nor wait for each
 * other). The changelog is keyed the same way. Stores and changelogs
 * written before hold bare idempotency keys; run.c still reads those. */
#define SY_STORE_KEY_SEP '\x1f'
const char *sy_store_key(sy_buf *out, const char *task, const char *idempotency_key);
/* The idempotency key inside a store key; *task_len is the length of the
 * task before it (0 for a bare key of an older store). */
const char *sy_store_key_split(const char *skey, size_t *task_len);

/* Open (creating) the environment in dir; map_mb bounds its size. */
sy_store *sy_store_open(const char *dir, size_t map_mb, char *err, size_t errlen);
void sy_store_close(sy_store *s);
/* fsync each commit (default), or leave write-back to the OS: every commit
 * still reaches the OS before the calls and produces that depend on it, so
 * a killed or crashed worker loses nothing; only a power loss or kernel
 * crash can lose the last commits. */
void sy_store_set_fsync(sy_store *s, bool on);

/* Look a key up (seeing staged changes). Returns 1 and fills rec, whose
 * strings and result point into `storage`; 0 when absent. */
int sy_store_get(sy_store *s, const char *key, sy_job_record *rec, sy_buf *storage);
/* Stage a record (replaces the key's record). Returns 0, or -1 when the
 * record is larger than an eighth of the map asked for (map_mb): nothing is
 * staged, and the caller ends that job otherwise. A full map never stops
 * the store: it grows (see store.c). */
int sy_store_put(sy_store *s, const char *key, const sy_job_record *rec);
/* Stage the removal of a key's record. */
void sy_store_del(sy_store *s, const char *key);
/* Note the acknowledgement of output offset `offset` in topic/partition:
 * kept in memory, written (the highest one per partition) by the next
 * sy_store_commit, so durable with the same group commit as a staged write. */
void sy_store_note_output(sy_store *s, const char *topic, int32_t partition, int64_t offset);
/* Highest acknowledged offset noted for topic/partition, or -1. */
int64_t sy_store_output_noted(sy_store *s, const char *topic, int32_t partition);
/* Make every staged change durable. Returns 0, or -1 (logged): the
 * commit failed, or a write before it did (the store then stays failed:
 * nothing more is staged, every commit returns -1; the caller stops, see
 * werr.h). The store never ends the process itself. */
int sy_store_commit(sy_store *s);
/* Something is staged that the next commit makes durable. */
bool sy_store_staged(const sy_store *s);
/* Transactions committed since the store was opened (statistics). */
uint64_t sy_store_commits(const sy_store *s);

/* Call fn for every record in IN_FLIGHT or PUBLISHING state. */
size_t sy_store_each_unfinished(sy_store *s,
                                void (*fn)(void *ctx, const char *key, const sy_job_record *rec),
                                void *ctx);
/* Batch records (batchrec.h), by a key of the caller's: staged like every
 * change, durable at the next commit. put returns -1 (nothing staged) for
 * a record larger than a job record may be. each_batch calls fn with a
 * copy of each (staged ones included); fn must not stage changes to the
 * batches themselves. */
int sy_store_batch_put(sy_store *s, const char *key, const void *data, size_t len);
void sy_store_batch_del(sy_store *s, const char *key);
size_t sy_store_each_batch(sy_store *s, void (*fn)(void *ctx, const char *key, const void *data, size_t len),
                           void *ctx);
/* Delete up to `max` expired records; returns how many. */
size_t sy_store_purge(sy_store *s, int64_t now_ms, size_t max);
/* Number of records. */
size_t sy_store_count(sy_store *s);
/* Bytes of the map in use (pages up to the last one written). */
size_t sy_store_bytes(sy_store *s);

const char *sy_job_state_name(sy_job_state st);

/* A record's bytes, as stored (and as mirrored to the changelog topic).
 * Decoding checks every length: bytes from Kafka are not trusted; the
 * record's strings and result point into `data`. 0, or -1 if malformed. */
void sy_record_encode(sy_buf *b, const sy_job_record *r);
/* The same bytes appended to what b holds (the changelog's value: the
 * writer's id, then the record), in one reservation. */
void sy_record_append(sy_buf *b, const sy_job_record *r);
int sy_record_decode(const void *data, size_t len, sy_job_record *r);

#endif
