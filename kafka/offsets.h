/* offsets.h -- which input offsets may be committed.
 *
 * Jobs of one partition finish out of order (a short prompt overtakes a long
 * one, a retry waits), but Kafka commits a single position per partition. So
 * each partition keeps a FIFO of the offsets it has handed out, in the order
 * they were consumed; a job marks its slot done when its result (or
 * dead letter) is acknowledged by the broker, and the committable position is
 * the first slot not yet done. Everything below it is finished; nothing above
 * it is committed, so a crash redelivers only unfinished work (and finished
 * work above the prefix, which the worker's store answers without a call).
 *
 * A handle is (partition slot, sequence number). Sequence numbers only grow,
 * and a revoked partition's FIFO is emptied, so a late completion for a
 * revoked partition is simply ignored. Both the scheduler and the worker use
 * this: it is the "commit only what is done" rule in one place.
 *
 * Kafka layer (kafka/): on config/, codec/ and base/; used by the
 * scheduler, the worker and the commands. */
#ifndef SY_OFFSETS_H
#define SY_OFFSETS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sy_offsets sy_offsets;

typedef struct sy_offset_handle {
    uint32_t part; /* index of the partition slot */
    uint64_t seq;
} sy_offset_handle;

sy_offsets *sy_offsets_new(void);
void sy_offsets_free(sy_offsets *o);

/* Note that `offset` of topic/partition was consumed and is now in work. */
sy_offset_handle sy_offsets_track(sy_offsets *o, const char *topic, int32_t partition,
                                  int64_t offset);
/* Its work is finished (result acknowledged). Stale handles are ignored. */
void sy_offsets_done(sy_offsets *o, sy_offset_handle h);
/* A partition's window: offsets tracked from its oldest unfinished one on
 * (done ones above it are held until the prefix reaches them). */
size_t sy_offsets_window(const sy_offsets *o, const char *topic, int32_t partition);
/* The same for the partition of h (O(1), for the hot path). */
size_t sy_offsets_window_of(const sy_offsets *o, sy_offset_handle h);
/* The partition of h's done prefix: every offset tracked below it is done
 * (-1: none yet, or h is stale). */
int64_t sy_offsets_done_below(const sy_offsets *o, sy_offset_handle h);
/* Jobs in work in total. */
size_t sy_offsets_pending_total(const sy_offsets *o);

/* Jobs of topic/partition not done yet. */
size_t sy_offsets_unfinished(const sy_offsets *o, const char *topic, int32_t partition);

/* Commit every partition whose committable position moved. async: fire and
 * forget (the next commit supersedes a lost one); else wait for the answer,
 * at most SY_OFFSETS_SYNC_MS (Kafka gone: a stopping process still exits).
 * Returns the number of partitions committed, or -1 on a synchronous commit
 * error or timeout. */
#define SY_OFFSETS_SYNC_MS 10000
int sy_offsets_commit(sy_offsets *o, rd_kafka_t *consumer, bool async);
/* The positions that moved since the last take, as a list to commit some
 * other way (the worker's Kafka transactions), noted as committed; NULL
 * when none moved. The caller destroys the list. */
rd_kafka_topic_partition_list_t *sy_offsets_take(sy_offsets *o);
/* The last take was not committed after all: the next take lists every
 * known position again. */
void sy_offsets_untake(sy_offsets *o);

/* Forget a revoked partition: its pending work no longer counts, late
 * completions for it are ignored. */
void sy_offsets_revoke(sy_offsets *o, const char *topic, int32_t partition);

#endif
