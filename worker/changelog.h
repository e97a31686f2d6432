/* changelog.h -- what changelog.c offers: final job states mirrored to <tier topic>.changelog
 * and restored, as loop work, when a partition is assigned (state follows
 * partitions: docs/durability.md) */
#ifndef SY_CHANGELOG_H
#define SY_CHANGELOG_H

#include "worker.h"

void changelog_init(worker *w);
void changelog_free(worker *w);
const char *changelog_topic(worker *w, const char *tier_topic);
void changelog_mirror(worker *w, const char *key, const sy_job_record *rec, sy_run *r);
/* A sync job's PUBLISHING record with its progress mark (codec/progress.h):
 * `done` is its input partition's done prefix. */
void changelog_mirror_marked(worker *w, const char *key, const sy_job_record *rec, sy_run *r, int64_t done);
/* A result acknowledged at topic/partition/offset: the next marks carry it. */
void changelog_note_output(worker *w, const char *topic, int32_t partition, int64_t offset);
/* Assigned partitions: hold them (flow.c) and start reading their
 * changelog partitions, then the output partitions, as loop work. */
void changelog_restore_start(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* Each turn: advance the restores; a finished one is committed, then
 * `restored` is called with its partitions (the caller's: batch tiers poll
 * the batches it brought and list the provider's for those partitions,
 * batchio.h), then its partitions are released. 1 when one
 * stopped at its batch limit (more is waiting: do not sleep), 0, or -1 when
 * the restored state cannot be made durable (w->fatal set). */
int changelog_restore_step(worker *w, void (*restored)(worker *w, const rd_kafka_topic_partition_list_t *parts));
/* Restores under way (their readers' wake-ups are registered). */
bool changelog_restoring(const worker *w);
/* Stop them (shutting down): what was read stays, the partitions stay held. */
void changelog_restore_cancel(worker *w);
/* A changelog value (writer id, then the store's record bytes), as read
 * from Kafka: 0, or -1 if malformed. rec points into value. */
int changelog_decode(const void *value, size_t len, uint64_t *owner, sy_job_record *rec);

#endif
