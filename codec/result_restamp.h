/* result_restamp.h -- answering a job again from its stored result.
 *
 * Codec layer. The worker stores each final result as msgpack (result.h);
 * when the same idempotency key comes again it publishes the stored result
 * for the new job without calling a provider (see result_restamp.c). */
#ifndef SY_RESULT_RESTAMP_H
#define SY_RESULT_RESTAMP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "result.h"

/* Is the stored (msgpack) result one of task `task`? false when unreadable. */
bool sy_result_task_is(const void *stored, size_t len, const char *task);
/* Re-encode a stored (msgpack) result for publishing again: with job_id
 * replaced (when not NULL) and, when dedup, `deduplicated: true`; in the
 * given format (appends to out). Returns -1 if the stored bytes are not a
 * msgpack map. */
int sy_result_restamp(const void *stored, size_t len, const char *job_id, bool dedup,
                      sy_format fmt, sy_buf *out);

#endif
