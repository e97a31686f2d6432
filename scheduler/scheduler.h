/* scheduler.h -- the scheduler: route jobs from the jobs topic to tier topics.
 *
 * Sits on kafka/ (clients, offsets, dead letters) and config/ (task ->
 * tier); nothing here parses arguments, installs signal handlers or ends
 * the process: `switchyard scheduler` (cli/scheduler_cmd.c) parses the
 * options, loads the pipelines, installs the stop signals, calls
 * sched_run and turns what it returns into the exit code. */
#ifndef SY_SCHEDULER_H
#define SY_SCHEDULER_H

#include <stdbool.h>

#include "kafka.h"
#include "pipeline.h"

/* What the command line chose. */
typedef struct sched_opts {
    sy_kafka_opts kafka;
    const char *jobs_topic, *dlq_topic, *group;
    bool transactions;  /* --transactions */
    const char *http;   /* --http ADDR:PORT: metrics and health (sched_metrics.h); NULL off */
    /* Reload (config/cfgreload.h): on SIGHUP, and with watch_pipelines when
     * the files change, they are loaded again with these kinds; a valid
     * config replaces the running one (routing is synchronous: nothing in
     * flight points into the old one). */
    const char *const *pipeline_files;
    size_t npipeline_files;
    const sy_provider_kind *const *kinds;
    bool watch_pipelines;
} sched_opts;

/* Route until sy_stop_requested (stop.h) is set, then flush and commit what
 * is done. Returns 0 after a clean stop; -1 when it could not start (Kafka
 * unreachable, topics missing or unfit) or stopped on a fatal error
 * (route_txn.h); the reason is logged either way. */
int sched_run(const sched_opts *o, const sy_config *cfg);

#endif
