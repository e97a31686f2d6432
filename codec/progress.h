/* progress.h -- the progress mark on a job's PUBLISHING changelog record.
 *
 * A job of a sync tier is mirrored to its tier's changelog once, as
 * PUBLISHING with its result, before the result goes out; its PUBLISHED
 * state is not mirrored. The record's Kafka header "switchyard.progress"
 * says instead what a worker that restores the partition needs to tell
 * whether that result went out (docs/durability.md, "State follows
 * partitions"):
 *   done   every job of the record's input partition below this offset
 *          has its result acknowledged (the writer's done prefix when the
 *          record was made; -1: none known). A restored key below the
 *          highest mark of its partition is PUBLISHED.
 *   notes  for each partition of the result's output topic the writer had
 *          results acknowledged on, the highest such offset. The result
 *          goes out after this record is acknowledged, so it lands above
 *          them: where a restore looks for a result not known to be out.
 * Wire: version byte 1, done (int64 big-endian), then per note partition
 * (int32 big-endian) and offset (int64 big-endian). Read from Kafka:
 * hostile, checked whole (fuzz_record).
 *
 * Codec layer (codec/): wire formats, on base/ only. */
#ifndef SY_PROGRESS_H
#define SY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#define SY_PROGRESS_HEADER "switchyard.progress"
#define SY_PROGRESS_NOTES_MAX 64
#define SY_PROGRESS_MAX_BYTES (9 + 12 * SY_PROGRESS_NOTES_MAX)

typedef struct sy_progress_note {
    int32_t partition;
    int64_t offset;
} sy_progress_note;

typedef struct sy_progress {
    int64_t done;
    uint32_t nnotes;
    sy_progress_note notes[SY_PROGRESS_NOTES_MAX];
} sy_progress;

/* Writes at most SY_PROGRESS_MAX_BYTES (done below -1 as -1; notes beyond the maximum are left
 * out: their partitions are then looked through from their start);
 * returns the length. */
size_t sy_progress_encode(int64_t done, const sy_progress_note *notes, uint32_t nnotes, unsigned char *out);
/* 0, or -1 when the bytes are not a mark: wrong version or length, done
 * below -1, a negative partition or offset. */
int sy_progress_decode(const void *data, size_t len, sy_progress *p);
/* Where to look for the result in partition `partition`: after its note
 * (the lowest, if noted twice), or 0 when there is none. */
int64_t sy_progress_scan_from(const sy_progress_note *notes, uint32_t n, int32_t partition);

#endif
