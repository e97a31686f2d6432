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
 * (attempts exhausted, non-retryable error, expired) use it. */
#ifndef SY_DEADLETTER_H
#define SY_DEADLETTER_H

#include <librdkafka/rdkafka.h>

#include "result.h"

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

int sy_dead_letter_produce(rd_kafka_t *producer, const char *topic, const sy_dead_letter *d,
                           void *msg_opaque);

#endif
