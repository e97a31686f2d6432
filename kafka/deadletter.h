/* deadletter.h -- sending a job that cannot succeed to the dead-letter topic.
 *
 * A dead letter keeps the original key and value byte for byte (so it can be
 * replayed after a fix) and says why in headers:
 *   switchyard.error.class     invalid_job, unknown_task, bad_request, ...
 *   switchyard.error.message   one line, never containing a secret
 *   switchyard.stage           scheduler | worker
 *   switchyard.source.topic / .partition / .offset
 *   switchyard.attempts, switchyard.http_status, switchyard.models (worker only)
 * Both the scheduler (undecodable job, unknown task) and the worker
 * (attempts exhausted, non-retryable error, expired) use it.
 *
 * A dead letter that cannot be produced whole (larger than the client's or
 * the broker's message.max.bytes, an invalid record, ...) goes out in its
 * truncated form: the same headers, plus
 *   switchyard.truncated              "1"
 *   switchyard.truncated.reason       why the whole one was refused
 *   switchyard.original.key_size      bytes of the original key
 *   switchyard.original.value_size    bytes of the original value
 *   switchyard.original.value_fnv1a64 64-bit FNV-1a of the original value,
 *                                     16 hex digits
 * and only the first SY_DEAD_LETTER_KEEP bytes of the key and of the value
 * (enough to see the job's id and task; the source coordinates say where
 * the whole message is). Either way the job's input offset is released:
 * one oversized message never freezes its partition.
 *
 * Kafka layer (kafka/): on config/, codec/ and base/; used by the
 * scheduler, the worker and the commands. */
#ifndef SY_DEADLETTER_H
#define SY_DEADLETTER_H

#include <librdkafka/rdkafka.h>

#include "errclass.h"

#define SY_DEAD_LETTER_KEEP 1024

typedef struct sy_dead_letter {
    const char *stage;
    const char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
    const void *key;
    size_t keylen;
    const void *value;
    size_t len;
    sy_err_class error_class;
    const char *message;
    int attempts;       /* 0 when no call was made */
    int http_status;    /* 0 when none */
    const char *models; /* comma-separated aliases tried, or NULL */
} sy_dead_letter;

/* Produce a dead letter whole or, when the client refuses it for good at
 * once, truncated. Returns 0 when one form is queued; else the error (the
 * loss is logged, once per topic: the caller releases the offset). */
int sy_dead_letter_produce(rd_kafka_t *producer, const char *topic, const sy_dead_letter *d,
                           void *msg_opaque);

/* The delivery of dead letter m failed for good (or past its retries):
 * produce its truncated form with the same opaque. Returns 0 when queued;
 * non-zero when m already was the truncated form or that is refused too
 * (logged once per topic: the caller releases the offset). */
int sy_dead_letter_truncate(rd_kafka_t *producer, const rd_kafka_message_t *m);

/* Add the truncation headers for an original key/value of these sizes. */
void sy_dead_letter_truncation_headers(rd_kafka_headers_t *h, size_t keylen, const void *value,
                                       size_t len, const char *reason);

#endif
