/* topic_read.h -- read whole topics once, from the beginning to their end.
 *
 * For the commands that look back over a topic (dlq, report): every
 * partition is assigned without joining a consumer group (no offsets are
 * moved), read from its low watermark, and left when it reaches the high
 * watermark it had when the read started (or reports its end: a
 * transaction marker may be the last offset). Messages produced later are
 * not read, so the commands end by themselves on a busy topic. */
#ifndef SY_CLI_TOPIC_READ_H
#define SY_CLI_TOPIC_READ_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"

/* Called for each message; a non-zero return stops the read. */
typedef int (*cli_topic_fn)(const rd_kafka_message_t *m, void *arg);

/* Read the topics (each must exist: a missing one is an error, as a
 * metadata request naming a topic could create it). Stops when every
 * partition is at its end, or when nothing arrives for idle_ms (then
 * says so on stderr and returns 1). Errors are printed as "switchyard CMD:
 * ..." and return -1; a stop asked by fn or a signal returns 0. */
int cli_read_topics(const sy_kafka_opts *k, const char *cmd, const char *const *topics,
                    size_t ntopics, int idle_ms, cli_topic_fn fn, void *arg);

/* Header value of m as a NUL-terminated copy in buf (cut to fit), or NULL. */
const char *cli_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t len);



/* A --since/--until value: RFC 3339 ("2026-01-02T03:04:05Z") or a time
 * ago ("90s", "30m", "2h", "7d"). Unix ms in *out; false when neither. */
bool cli_time_arg(const char *s, int64_t *out);

/* Is the message's timestamp within [since, until) (0: no bound)? */
bool cli_in_window(const rd_kafka_message_t *m, int64_t since, int64_t until);

/* The i-th header of m (name, value and its length; a NULL value reads as
 * ""); false past the last. */
bool cli_header_at(const rd_kafka_message_t *m, size_t i, const char **name, const void **val,
                   size_t *len);
#endif
