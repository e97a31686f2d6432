/* openai_batch.h -- OpenAI Batch API output lines from switchyard's
 * results and dead letters (openai_batch_out.c; the input side is
 * input.h's sy_input_openai_batch). */
#ifndef SY_OPENAI_BATCH_H
#define SY_OPENAI_BATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sy_batch_record {
    json_t *value;          /* the result as JSON (NULL for a dead letter) */
    json_t *key;            /* a dead letter's Kafka key: the job's idempotency key */
    json_t *dl_class;       /* its switchyard.error.class; NULL: a result */
    json_t *dl_message;     /* its switchyard.error.message (strings, may be NULL) */
    int partition;
    int64_t offset;
} sy_batch_record;

/* The output line for rec (a new reference), or NULL when it is not a
 * result or a dead letter with a key. */
json_t *sy_openai_batch_line(const sy_batch_record *rec);

#endif
