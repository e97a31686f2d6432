/* topicplan.h -- the Kafka topics a set of pipelines needs, and whether the
 * topics a cluster has fit them.
 *
 * Pure: no I/O. `switchyard topics` and the start of the scheduler and the
 * worker build a plan from the loaded pipelines, look at the cluster
 * (kafka_admin.c), and ask sy_topic_plan_check what is wrong. Names:
 * switchyard.jobs, switchyard.dlq (or the --jobs-topic/--dlq-topic given),
 * each tier's topic, "<tier topic>.changelog" (compacted, same partition count
 * as its tier topic) and each task's output topic (shared outputs once).
 *
 * Kafka layer (kafka/): on config/, codec/ and base/; used by the
 * scheduler, the worker and the commands. */
#ifndef SY_TOPICPLAN_H
#define SY_TOPICPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

typedef enum sy_topic_kind {
    SY_TK_JOBS = 1,
    SY_TK_DLQ = 2,
    SY_TK_TIER = 4,
    SY_TK_CHANGELOG = 8,
    SY_TK_RESULTS = 16,
    SY_TK_SPEND = 32, /* switchyard.spend, compacted: only when the pipelines have budgets */
} sy_topic_kind;
#define SY_TK_ALL 63

typedef struct sy_topic_need {
    char *name;
    sy_topic_kind kind;
    int partitions_of; /* index of the topic whose partition count this one must have, or -1 */
    bool compact;      /* must have cleanup.policy=compact */
} sy_topic_need;

typedef struct sy_topic_plan {
    sy_topic_need *v;
    size_t n;
} sy_topic_plan;

/* What a cluster shows of one topic. */
typedef struct sy_topic_seen {
    int partitions; /* -1: the topic does not exist */
    int compact;    /* 1: cleanup.policy contains compact, 0: not, -1: unknown */
    long long max_message_bytes; /* the topic's max.message.bytes, -1: unknown */
} sy_topic_seen;

/* The topics of cfg of the kinds in mask (SY_TK_*), jobs/dlq named as given. */
void sy_topic_plan_build(const sy_config *cfg, int mask, const char *jobs_topic,
                         const char *dlq_topic, sy_topic_plan *out);
void sy_topic_plan_free(sy_topic_plan *p);
/* "jobs", "dead letters", "tier", "changelog", "results", "spend". */
const char *sy_topic_kind_name(sy_topic_kind k);

/* Compare seen[i] (one per plan topic) with the plan. auto_create: 1 the
 * cluster creates missing topics, 0 it does not, -1 unknown. Each problem
 * goes to report(msg, arg) as one line naming the topic and the fix; a
 * missing topic that will be auto-created is a warning (warn set). Returns
 * the number of errors (warnings not counted). */
typedef void sy_topic_report_fn(bool warn, const char *msg, void *arg);
int sy_topic_plan_check(const sy_topic_plan *p, const sy_topic_seen *seen, int auto_create,
                        sy_topic_report_fn *report, void *arg);

/* The broker refuses a whole record batch over the topic's max.message.bytes
 * (limit; <= 0 unknown) and librdkafka then fails every message of it: true
 * when the producer's batch.size (<= 0 unknown) allows such batches, so that
 * small messages would be refused too. */
bool sy_batch_too_large(long long limit, long long batch_size);

#endif
