/* sched_state.h -- the state of a running scheduler.
 *
 * Shared by the router (scheduler.c, which owns it: sched_run creates and
 * ends it) and its optional Kafka transactions (route_txn.c); a header of
 * types only, so that route_txn.c depends on the state, not on the router. */
#ifndef SY_SCHED_STATE_H
#define SY_SCHED_STATE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"
#include "kafka.h"
#include "log.h"
#include "offsets.h"
#include "pipeline.h"

typedef struct sched_txn sched_txn;

typedef struct scheduler {
    const sy_config *cfg;
    sy_config *owned_cfg;         /* the last reload's (cfg then points to it); NULL: the caller's */
    const struct sched_opts *opts;
    struct sy_cfg_watch *watch;   /* the pipeline files; NULL: not watched */
    int64_t reload_due_us;        /* a file changed: reload then (0: none due) */
    uint64_t reloads_ok, reloads_failed;
    const sy_kafka_opts *kafka;
    const char *jobs_topic, *dlq_topic, *group;
    sched_txn *txn;     /* NULL without --transactions */
    rd_kafka_t *consumer, *producer;
    sy_offsets *offsets;
    uint64_t routed, dead, failed_deliveries;
    /* --http (sched_metrics.h) */
    const char *http_spec;
    struct sy_httpd *http;        /* NULL: off */
    uint64_t *routed_by_task;     /* per config task index (with http only) */
    uint64_t dead_by_class[SY_ERR_COUNT];
    int64_t published_us;
    sy_log_repeat stats_logged;   /* the statistics line last logged (log.h) */              /* the consumer said all brokers are down */
    bool fatal;         /* a fatal error (logged): stop without committing more */
} scheduler;

#endif
