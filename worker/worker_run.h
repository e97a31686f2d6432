/* worker_run.h -- what the command layer sees of the worker: its options
 * and its run function.
 *
 * cli/worker_cmd.c parses the command line into a worker_opts, loads the
 * pipelines into a sy_config, installs the signal handlers, and calls
 * sy_worker_run; the worker includes nothing from cli/. */
#ifndef SY_WORKER_RUN_H
#define SY_WORKER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "pipeline.h"
#include "werr.h"

typedef struct worker_opts {
    int max_inflight;   /* HTTP calls at once */
    int max_jobs;       /* jobs held (in flight + waiting) */
    int max_jobs_per_partition; /* a partition's window of offsets */
    int grace_ms;       /* shutdown grace for held jobs */
    int revoke_grace_ms; /* rebalance grace for jobs of revoked partitions */
    const char *group;
    const char *dlq_topic;
    const char *tiers;  /* comma list, NULL = all */
    const char *state_dir;
    size_t state_map_mb;
    int64_t key_ttl_ms; /* idempotency key lifetime */
    double account_share; /* share of each account's rate limits */
    bool fsync;         /* fsync each group commit */
    int commit_interval_ms; /* the group commit waits up to this for more jobs (0: every turn) */
    bool changelog;     /* mirror state to <tier topic>.changelog and restore from it */
    bool transactions;  /* results, dead letters and offsets in Kafka transactions */
    bool core_dumps;    /* allow core dumps (they would hold the API keys) */
    size_t max_answer_bytes;  /* a call's response body, at most */
    size_t max_header_bytes;  /* a call's response headers, at most */
    const char *http;         /* --http ADDR:PORT: metrics and health (metrics.h); NULL off */
    const char *metrics_tags; /* job metadata tags counted in metrics (comma list) */
    const char *const *pipeline_files; /* loaded again on SIGHUP or a change (reload.h) */
    size_t npipeline_files;
    bool watch_pipelines;     /* reload when the files change (inotify); SIGHUP always */
} worker_opts;

/* Run the worker until a stop is requested (sy_stop_requested, kafka.h) or
 * a fatal error. cfg is read, not freed (the caller frees it). Returns 0
 * after a clean stop; otherwise the process exit code the error asks for
 * (err says what happened; it was logged where it happened). */
int sy_worker_run(const worker_opts *opt, const sy_kafka_opts *kafka, const sy_config *cfg, sy_werr *err);

#endif
