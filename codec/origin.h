/* origin.h -- where a job entered the pipeline.
 *
 * The scheduler routes each job of the jobs topic to a tier topic and adds
 * the job's coordinates there in headers:
 *   switchyard.origin.topic / .partition / .offset
 * The worker keeps them with the job's record in its store. A scheduler
 * that crashed after producing but before committing routes the same jobs
 * again: such a copy carries the same origin as the stored answer and is
 * released without a second result, while a producer's resubmission of the
 * key (another message on the jobs topic) has another origin and is
 * answered, marked deduplicated. Headers come from Kafka: parsed strictly,
 * anything malformed counts as no origin.
 *
 * Codec layer (codec/): wire formats, on base/ only. */
#ifndef SY_ORIGIN_H
#define SY_ORIGIN_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SY_ORIGIN_MAX 300 /* "topic/partition/offset": topic <= 249 chars */

void sy_origin_add_headers(rd_kafka_headers_t *h, const char *topic, int32_t partition,
                           int64_t offset);
/* The origin of a tier message as "topic/partition/offset" (canonical:
 * the same coordinates always give the same string); false when the
 * headers are absent or malformed. */
bool sy_origin_of(rd_kafka_headers_t *h, char out[SY_ORIGIN_MAX]);
/* The same, parsed back into coordinates (topic points into o). */
bool sy_origin_parse(const char *o, char topic[SY_ORIGIN_MAX], int32_t *partition, int64_t *offset);

#endif
