/* kafka_admin.h -- what a cluster has of the topics a pipeline needs, and
 * creating the missing ones (Kafka Admin API).
 *
 * Used by `switchyard topics` and, as a start-time check, by the scheduler
 * and the worker. Partition counts come from a metadata request for all
 * topics (so nothing is auto-created by asking); cleanup.policy and the
 * broker's auto.create.topics.enable from DescribeConfigs. The embedded
 * broker has no Admin API: there only the partition counts are checked.
 *
 * Kafka layer (kafka/): on config/, codec/ and base/; used by the
 * scheduler, the worker and the commands. */
#ifndef SY_KAFKA_ADMIN_H
#define SY_KAFKA_ADMIN_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "topicplan.h"

typedef struct sy_cluster_view {
    sy_topic_seen *seen; /* one per plan topic (owned) */
    int auto_create;     /* 1, 0, or -1 unknown */
    int nbrokers;
    bool admin;          /* the cluster answered DescribeConfigs */
} sy_cluster_view;

/* Fill v for plan p. Returns 0, or -1 with err when the metadata request
 * failed. */
int sy_cluster_observe(rd_kafka_t *rk, const sy_topic_plan *p, int timeout_ms, sy_cluster_view *v,
                       char *err, size_t errlen);
void sy_cluster_view_free(sy_cluster_view *v);

/* Create the plan's topics that v shows missing: partitions each (a
 * changelog takes its tier topic's count when the tier topic exists),
 * replication rf, changelogs with cleanup.policy=compact, and every
 * "key=value" of configs ("topic:key=value": for that topic only). Logs each topic made; returns the number that
 * failed. */
int sy_cluster_create(rd_kafka_t *rk, const sy_topic_plan *p, const sy_cluster_view *v,
                      int partitions, int rf, const char *const *configs, int nconfigs,
                      int timeout_ms);

/* Wait until every partition of the plan's existing topics (as v saw them)
 * is served by its leader: the leader answers ListOffsets. A created
 * topic is in the controller's metadata before its leader has made the
 * partition's log; a producer that starts in that gap can lose its first
 * messages while being told they were delivered (librdkafka 2.0's
 * idempotent producer and a broker that takes a first sequence above 0
 * from a producer it does not know: confluentinc/confluent-kafka-go#921;
 * seen here: rk.scheduler_txn, a partition's first batch missing, the
 * next one at sequence 2). So `topics --create` returns only once its
 * topics can be written. Returns 0, or -1 with err naming a partition
 * still not served after timeout_ms. */
int sy_cluster_await_leaders(rd_kafka_t *rk, const sy_topic_plan *p, const sy_cluster_view *v,
                             int timeout_ms, char *err, size_t errlen);

/* The start-time check of a scheduler or worker: observe, check, log every
 * problem (errors as errors). max_message_bytes (may be NULL; one per plan
 * topic) receives each topic's max.message.bytes, -1 where unknown. Returns
 * 0 when the topics fit, -1 otherwise. */
int sy_cluster_verify(rd_kafka_t *rk, const sy_topic_plan *p, const char *who,
                      long long *max_message_bytes);

#endif
