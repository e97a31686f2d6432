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
 * commit. Everything runs on one thread, in one event loop (loop.h, turned
 * by worker.c): no locks, no races between a completion and a rebalance.
 * What cli/ sees of the worker is worker_run.h. */
#ifndef SY_WORKER_H
#define SY_WORKER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "health.h"
#include "job.h"
#include "keymap.h"
#include "kafka.h"
#include "offsets.h"
#include "pacing.h"
#include "pipeline.h"
#include "reaper.h"
#include "route.h"
#include "store.h"
#include "timers.h"
#include "waitq.h"
#include "werr.h"
#include "worker_run.h"

#define SY_HISTORY_MAX 12 /* attempts a result lists (the first ones) */

typedef struct worker worker;

typedef struct sy_run {
    worker *w;
    sy_job job;
    bool job_ok;               /* job decoded */
    sy_buf skey;               /* its key in the store, the changelog and `working`:
                                  task + idempotency key (store.h) */
    const sy_task *task;
    const sy_tier *tier;
    /* where it came from (for the commit and for dead letters) */
    const char *src_topic;     /* owned by the config (tier topic) */
    int32_t partition;
    int64_t offset;
    sy_offset_handle off;
    char *raw;                 /* key then value, one allocation */
    char *origin;              /* its jobs-topic coordinates (origin.h), or NULL */
    size_t keylen, len;
    /* the prompt */
    sy_buf system, user;
    sy_msg user_msg;
    /* routing and accounting */
    sy_route route;
    int attempts;
    int64_t reserved_tokens;   /* pacing estimate of the call in flight */
    sy_pace_mark pace_mark;    /* where its reservation stands in the account's totals */
    int64_t first_sent_us;
    int64_t attempt_sent_us;   /* the attempt in flight */
    bool call_out;             /* launched and not yet answered */
    int64_t deadline_ms;
    int64_t tokens_in, tokens_out;
    double cost_usd;
    const sy_model *model;     /* model of the current/last attempt */
    sy_outcome last;           /* last attempt's outcome */
    char models_tried[256];
    sy_attempt_note history[SY_HISTORY_MAX];
    uint8_t nhistory;
    size_t timer_pos;
    /* waiting for the store's group commit (see worker.c) */
    sy_transfer *prepared;     /* a call to launch */
    sy_buf result;             /* the result to produce, in the task's format */
    sy_buf stored;             /* the result as stored (msgpack) */
    bool produce_pending;
    bool mirror_first;         /* the changelog gets PUBLISHING before the result goes out */
    bool awaiting_mirror;      /* ... and its acknowledgement is awaited */
    bool dead_letter_pending;  /* failed: a dead letter goes out with the result */
    bool replay;               /* redelivered job answered from the store */
    bool dedup;                /* resubmitted key answered from the store */
    bool result_ok;            /* status of the result being published */
    bool leader;               /* owns its key in worker.working */
    bool in_deferred;
    bool recheck;              /* timer: look at the store again (run.c, first_copy_publishing) */
    struct sy_run *followers;  /* other messages with this key, waiting */
    struct sy_run *next_follower;
    struct sy_run *next_deferred;
    struct sy_run *prev, *next; /* all live runs (freed at exit if unfinished) */
    int pending_deliveries;
    int produce_retries;       /* failed deliveries produced again (bounded) */
    /* with --transactions (txn.c): waiting for the transaction to commit */
    bool txn_failed;           /* a delivery failed: produced again after the abort */
    bool txn_has_out;          /* its result was acknowledged at: */
    int32_t txn_out_partition;
    int64_t txn_out_offset;
    struct sy_run *next_held;
} sy_run;

/* Jobs waiting for room under one account's rate limits (fair between
 * tasks, by priority within one: waitq.h). */
typedef struct pace_queue {
    sy_waitq waiting;
    int64_t next_try_us; /* when the account's buckets will have room */
    int64_t transport_warned_us; /* last "cannot connect" warning (run.c) */
} pace_queue;

/* flow.c: partitions paused on their own window, and whether all are. */
typedef struct sy_flow_part {
    char *topic;
    int32_t partition;
} sy_flow_part;
typedef struct sy_flow_hold {
    char *topic;
    int32_t partition;
    const void *tag; /* who holds it (a restore) */
} sy_flow_hold_t;
typedef struct sy_flow {
    sy_flow_part *parts;
    int n;
    sy_flow_hold_t *holds; /* partitions held paused while their state is restored */
    int nholds;
    bool all_paused;
    uint64_t pauses, resumes; /* of single partitions */
} sy_flow;

struct worker {
    worker_opts opt;
    sy_config cfg;
    sy_kafka_opts kafka;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;            /* results and dead letters (transactional: txn.c) */
    rd_kafka_t *changelog_producer;  /* the changelog: the same one without --transactions */
    struct sy_txn *txn;              /* NULL without --transactions */
    sy_engine *engine;
    sy_offsets *offsets;
    sy_timers timers;
    sy_store *store;
    sy_account *accounts;            /* pacing, one per cfg.providers entry */
    pace_queue *paced;               /* waiting for each account, same index */
    sy_health **health;              /* [tier index][model slot] */
    sy_keymap working;               /* idempotency key -> run in work (leader) */
    sy_buf record_scratch;
    char **changelog_topics;         /* per tier index */
    sy_buf changelog_scratch;
    uint64_t owner_id;               /* this process, in changelog records */
    sy_waitq ready;                  /* waiting for an engine slot */
    sy_run *deferred;                /* launches and produces waiting for the group commit */
    sy_run *runs;                    /* live runs */
    int held;                        /* how many */
    sy_flow flow;                    /* paused partitions (flow.c) */
    struct sy_loop *loop;            /* the one event loop (loop.h) */
    sy_loop_timer jobs_due;          /* the earliest retry in `timers` (worker.c) */
    sy_loop_timer purge_timer, report_timer;
    struct restore *restoring;       /* changelog restores under way (changelog.c) */
    sy_reaper reaper;                /* their readers, closed off the loop (reaper.h) */
    int64_t last_commit_us;          /* offsets last committed */
    int64_t paced_us;                /* this turn: until an account has room (-1: none waits) */
    bool more_input;                 /* this turn: the consumer may have more right away */
    bool stopping;                   /* shutting down: no new call starts */
    bool drained;                    /* ... and drain() has waited, flushed, committed */
    int64_t last_purge_us;
    int wake_fd[2];
    sy_werr fatal;                   /* set: the loop stops and sy_worker_run returns it (werr.h) */
    uint64_t rng;
    /* counters */
    uint64_t consumed, succeeded, failed, dead, calls, retries, fallbacks;
    uint64_t deduplicated, replayed, skipped, maybe_paid_twice, breaker_skips;
    uint64_t rerouted; /* copies routed again by a restarted scheduler, released */
};

/* run.c: a job's life */
void run_start(worker *w, const rd_kafka_message_t *m);
void run_attempt(sy_run *r);
void run_on_response(worker *w, sy_transfer *t, void *opaque);
void run_free(sy_run *r);
void run_defer(sy_run *r);
void run_begin(sy_run *r); /* route, render, first attempt */
/* 0, or -1 when the record is too large for the store (nothing staged). */
int run_note_state(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset);
/* The same record, mirrored to the changelog (delivery counted on the run). */
void run_mirror_state(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset);
void run_launch_prepared(sy_run *r);
/* Did r enter the pipeline at this origin (a record's, or another run's)? */
bool run_same_origin(const sy_run *r, const char *origin);
/* r is a copy the scheduler routed again of a job answered under the same
 * origin: its offset is released, no second result goes out. */
void run_release_rerouted(sy_run *r);

/* publish.c: results and dead letters */
void publish_result(sy_run *r);
void publish_stored(sy_run *r, const sy_job_record *rec, bool dedup);
void publish_deferred(sy_run *r);
void publish_dead_letter_only(sy_run *r, sy_err_class c, const char *why);
void publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* A message the Kafka client or broker refuses for good (too large, not
 * authorised, ...) or that failed past its retries: a dead letter goes out
 * truncated, a result becomes a dead letter (publish_unpublishable: its
 * record closed), a changelog record is done without. True when a
 * substitute is in flight in its place. */
bool publish_substitute(worker *w, sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m);
void publish_unpublishable(sy_run *r, int err);
bool publish_is_result(const sy_run *r, const rd_kafka_message_t *m);
/* --transactions: the transaction holding the run's messages committed. */
void publish_committed(sy_run *r);

uint64_t worker_random(worker *w);
/* run.c: let jobs waiting on accounts through as their buckets allow, and
 * expire those whose deadline passed; returns microseconds until the next
 * account has room or the next waiting job's deadline (-1: none waits). */
int64_t run_release_paced(worker *w);

/* recover.c: start-up, and finding results that may already be out */
/* A result found on an output topic was noted PUBLISHED: tell the changelog
 * (changelog_mirror fits; recover.c calls no other module itself). */
typedef void (*recover_found_fn)(worker *w, const char *key, const sy_job_record *rec, sy_run *r);
typedef struct recover_set {
    sy_keymap publishing; /* key -> "topic/partition/offset" of its source (malloc'd) */
    char **out_topics;    /* their output topics */
    size_t nout;
    size_t in_flight;
    size_t waiting; /* IN_FLIGHT intents a clean stop marked no_call_out */
    /* where to start reading an output partition (below its start: from the start) */
    int64_t (*scan_from)(void *ctx, const char *topic, int32_t partition);
    void *ctx;
    recover_found_fn found; /* or NULL */
} recover_set;
/* Start-up, before the intake (blocks until the scan ends): -1 when the
 * store cannot commit (fatal). */
int recover_unfinished(worker *w, recover_found_fn found);
void recover_want(recover_set *u, const char *key, const sy_job_record *rec);
/* Reading the output partitions, one step at a time; keys found there
 * become PUBLISHED. Events of its consumer write to wake_fd (-1: none). */
typedef struct recover_scan recover_scan;
recover_scan *recover_scan_start(worker *w, recover_set *u, int wake_fd);
/* Read what has arrived (waiting up to wait_ms for the first); true when
 * every partition was read to its end (or the scan timed out). */
bool recover_scan_step(recover_scan *sc, int wait_ms);
/* Ends the scan; returns how many keys were found. */
size_t recover_scan_end(recover_scan *sc);
void recover_set_free(recover_set *u);

/* flow.c: pause the intake over --max-jobs or a partition's window, and
 * hold partitions whose state is being restored */
void sy_flow_check(worker *w);                                  /* each turn */
/* a job was taken (h: its offset) */
void sy_flow_taken(worker *w, const char *topic, int32_t partition, sy_offset_handle h);
void sy_flow_pause_all(worker *w);                              /* shutting down */
void sy_flow_assigned(worker *w, rd_kafka_topic_partition_list_t *parts);
void sy_flow_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* Keep these partitions paused until sy_flow_release(w, tag). */
void sy_flow_hold(worker *w, const rd_kafka_topic_partition_list_t *parts, const void *tag);
void sy_flow_release(worker *w, const void *tag);
void sy_flow_free(sy_flow *f);

/* changelog.c: state follows partitions */
void changelog_init(worker *w);
void changelog_free(worker *w);
const char *changelog_topic(worker *w, const char *tier_topic);
void changelog_mirror(worker *w, const char *key, const sy_job_record *rec, sy_run *r);
/* Assigned partitions: hold them (flow.c) and start reading their
 * changelog partitions, then the output partitions, as loop work. */
void changelog_restore_start(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* Each turn: advance the restores; a finished one releases its partitions.
 * 1 when one stopped at its batch limit (more is waiting: do not sleep), 0,
 * or -1 when the restored state cannot be made durable (w->fatal set). */
int changelog_restore_step(worker *w);
/* Restores under way (their readers' wake-ups are registered). */
bool changelog_restoring(const worker *w);
/* Stop them (shutting down): what was read stays, the partitions stay held. */
void changelog_restore_cancel(worker *w);
/* A changelog value (writer id, then the store's record bytes), as read
 * from Kafka: 0, or -1 if malformed. rec points into value. */
int changelog_decode(const void *value, size_t len, uint64_t *owner, sy_job_record *rec);

#endif
