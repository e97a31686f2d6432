/* worker.h -- the worker's state, shared by its modules.
 *
 * Data path inside a worker:
 *
 *   tier topic --intake--> run_start: decode, find task, render, route
 *                          run_attempt: build request --engine--> provider
 *   engine completion ---> run_on_response: parse, retry / fall back / done
 *                          publish: result -> output topic (+ dead letter)
 *   delivery report -----> offsets done -> commit the contiguous prefix
 *
 * A sy_run is one job from the moment it is consumed until its result is
 * acknowledged by the broker; only then is its input offset released for
 * commit. Everything runs on one thread: no locks, no races between a
 * completion and a rebalance. */
#ifndef SY_WORKER_H
#define SY_WORKER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "job.h"
#include "kafka.h"
#include "offsets.h"
#include "pipeline.h"
#include "route.h"
#include "timers.h"

typedef struct worker worker;

typedef struct sy_run {
    worker *w;
    sy_job job;
    bool job_ok;               /* job decoded */
    const sy_task *task;
    const sy_tier *tier;
    /* where it came from (for the commit and for dead letters) */
    const char *src_topic;     /* owned by the config (tier topic) */
    int32_t partition;
    int64_t offset;
    sy_offset_handle off;
    char *raw;                 /* key then value, one allocation */
    size_t keylen, len;
    /* the prompt */
    sy_buf system, user;
    sy_msg user_msg;
    /* routing and accounting */
    sy_route route;
    int attempts;
    int64_t first_sent_us;
    int64_t deadline_ms;
    int64_t tokens_in, tokens_out;
    double cost_usd;
    const sy_model *model;     /* model of the current/last attempt */
    sy_outcome last;           /* last attempt's outcome */
    char models_tried[256];
    size_t timer_pos;
    struct sy_run *next_ready;
    struct sy_run *prev, *next; /* all live runs (freed at exit if unfinished) */
    int pending_deliveries;
} sy_run;

typedef struct worker_opts {
    int max_inflight;   /* HTTP calls at once */
    int max_jobs;       /* jobs held (in flight + waiting) */
    int grace_ms;       /* shutdown / revoke grace for in-flight calls */
    const char *group;
    const char *dlq_topic;
    const char *tiers;  /* comma list, NULL = all */
} worker_opts;

struct worker {
    worker_opts opt;
    sy_config cfg;
    sy_kafka_opts kafka;
    rd_kafka_t *consumer, *producer;
    sy_engine *engine;
    sy_offsets *offsets;
    sy_timers timers;
    sy_run *ready_head, *ready_tail; /* waiting for an engine slot */
    sy_run *runs;                    /* live runs */
    int held;                        /* how many */
    bool paused;
    int wake_fd[2];
    uint64_t rng;
    sy_buf scratch;                  /* result encoding */
    /* counters */
    uint64_t consumed, succeeded, failed, dead, calls, retries, fallbacks;
};

/* run.c: a job's life */
void run_start(worker *w, const rd_kafka_message_t *m);
void run_attempt(sy_run *r);
void run_on_response(worker *w, sy_transfer *t, void *opaque);
void run_free(sy_run *r);

/* publish.c: results and dead letters */
void publish_result(sy_run *r);
void publish_dead_letter_only(sy_run *r, sy_err_class c, const char *why);
void publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

uint64_t worker_random(worker *w);

#endif
