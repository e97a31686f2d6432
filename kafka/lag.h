/* lag.h -- a consumer's lag per assigned partition, as Prometheus text,
 * and whether the cluster answers (for /readyz).
 *
 * For the /metrics pages of the scheduler and the worker (base/prom.h,
 * base/httpd.h): the high watermark librdkafka last saw for each assigned
 * partition minus the consumer's position (both cached in the client: no
 * broker request, so it may be called from the loop).
 *
 * Kafka layer (kafka/). */
#ifndef SY_LAG_H
#define SY_LAG_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "buf.h"

/* Appends switchyard_consumer_lag{topic,partition} and
 * switchyard_partitions_assigned; returns the partitions assigned. */
int sy_kafka_prom_lag(rd_kafka_t *consumer, sy_buf *b);
/* Does the cluster answer a metadata request within timeout_ms? For
 * /readyz (httpd.h's probe: safe on another thread than the client's
 * user). False with "Kafka unreachable: ..." in why. */
bool sy_kafka_probe(rd_kafka_t *rk, int timeout_ms, char *why, size_t len);

#endif
