/* worker.h -- the worker's state, shared by its modules.
 *
 * Data path inside a worker (who calls whom: worker.c -> run.c ->
 * {lifecycle.c, publish.c, txn.c, store, engine}; nothing calls back up):
 *
 *   tier topic --intake--> run_start: decode, ask the store, route   (run.h)
 *   timers, engine slots, the group commit, the provider's answer,
 *   delivery reports, transaction outcomes
 *                      --> run.c: an event of the job's state machine
 *                          (lifecycle.h), whose effects run.c carries out:
 *                          launch a call (engine), stage a record (store),
 *                          produce a result or dead letter (publish.h),
 *                          hold for a transaction (txn.h), release the offset
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

#include "counters.h"
#include "engine.h"
#include "health.h"
#include "job.h"
#include "keymap.h"
#include "kafka.h"
#include "lifecycle.h"
#include "offsets.h"
#include "pacing.h"
#include "pipeline.h"
#include "reaper.h"
#include "route.h"
#include "spend.h"
#include "store.h"
#include "timers.h"
#include "waitq.h"
#include "werr.h"
#include "worker_run.h"

#define SY_HISTORY_MAX 12 /* attempts a result lists (the first ones) */

typedef struct worker worker;


/* A config the worker runs under, and the breakers of its tiers' models.
 * A reload (reload.c) makes a new one current; a run keeps the one it
 * started under (its task, tier and model pointers point into it) until it
 * is freed, and a retired generation is freed when its last run is. */
typedef struct sy_cfg_gen {
    sy_config cfg;
    sy_health **health;       /* [tier index][model slot] */
    int runs;                 /* live runs started under it */
    bool owned;               /* loaded by a reload (the first is the caller's) */
    struct sy_cfg_gen *next;  /* retired ones, still in use */
} sy_cfg_gen;

/* Where a job's result comes from: a fact about the job, set once. */
typedef enum sy_answer {
    SY_ANSWER_RUN,    /* its own calls */
    SY_ANSWER_REPLAY, /* this very message was answered before: the stored result again */
    SY_ANSWER_DEDUP,  /* a resubmitted key: another job's result, restamped */
} sy_answer;

/* One job in the worker. Its progress is `state` alone (lifecycle.h draws
 * the machine, run.c drives it); the other fields are what the job is,
 * where it came from, and what it holds. The few booleans left are facts
 * about the job, not steps of its progress (each says why). */
typedef struct sy_run {
    worker *w;
    sy_cfg_gen *gen;           /* the config it runs under (reload.h) */
    sy_life_state state;
    sy_job job;
    bool job_ok;               /* fact: the job decoded (job holds memory to free) */
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
    int prompt_version;        /* the version it runs (pin, rollout or current; 0: not yet) */
    bool has_system;           /* that version has a system prompt */
    sy_buf system, user;
    sy_msg user_msg;
    /* routing and accounting */
    sy_route route;
    int attempts;
    int64_t reserved_tokens;   /* pacing estimate of the call in flight */
    sy_pace_mark pace_mark;    /* where its reservation stands in the account's totals */
    int64_t queued_ms;         /* its record's timestamp in the tier topic (metrics.h) */
    int64_t first_sent_us;
    int64_t attempt_sent_us;   /* the attempt in flight */
    int64_t deadline_ms;
    int64_t tokens_in, tokens_out;
    sy_usage_detail usage; /* cached / reasoning parts, estimated (providers/provider.h) */
    double cost_usd;
    const sy_model *model;     /* model of the current/last attempt */
    sy_outcome last;           /* last attempt's outcome */
    size_t label;              /* a labels task: the answer's label + 1 (0: none) */
    char models_tried[256];
    sy_attempt_note history[SY_HISTORY_MAX];
    uint8_t nhistory;
    size_t timer_pos;
    /* what waits for the store's group commit (INTENT_STAGED, PUBLISH_STAGED) */
    sy_transfer *prepared;     /* a call to launch */
    /* an embedding job (embed.h): the request it shares, and its vector */
    struct sy_embed_group *embed_group; /* while it waits in one (CALL_OUT) */
    size_t embed_slot;         /* its place there */
    float *embedding;          /* its answer (malloc'd), nembedding floats */
    uint32_t embed_cap;        /* fact: its request was refused whole: it goes again in
                                  one of at most this many inputs (0: any; embeddings.h) */
    uint32_t nembedding;
    sy_buf result;             /* the result to produce, in the task's format */
    bool result_is_stored;     /* ... unless it is `stored` as is (a msgpack task's own
                                  answer: not copied) */
    sy_buf stored;             /* the result as stored (msgpack) */
    sy_answer answer;
    bool result_ok;            /* fact: the status of its result */
    struct sy_run *followers;  /* other messages with this key, waiting (WAITING_KEY) */
    struct sy_run *next_follower;
    struct sy_run *next_deferred;
    struct sy_run *prev, *next; /* all live runs (freed at exit if unfinished) */
    int pending_deliveries;    /* messages out and not yet settled */
    int produce_retries;       /* failed deliveries produced again (bounded) */
    /* with --transactions (txn.c) */
    bool txn_failed;           /* fact about the open transaction: one of its messages
                                  failed there (cleared when they are produced again) */
    int32_t txn_out_partition; /* its result was acknowledged there, in the open */
    int64_t txn_out_offset;    /* transaction (-1: not yet) */
    /* a batch tier's job (batchio.h) */
    bool in_batch;             /* a batch carries its call (it is CALL_OUT) */
    bool batch_tried;          /* a batch has answered or dropped it once */
    bool batch_intent;         /* this attempt's intent is its batch's record, durable
                                  before the create: no IN_FLIGHT of its own (docs/durability.md) */
    bool own_call;             /* this attempt did not fit a batch: a call of its own,
                                  launched after the commit of its IN_FLIGHT */
    size_t batch_req_len;      /* its request body, for a local token estimate */
    char *batch_id;            /* the batch that carried its answer, or NULL */
    bool batch_owned;          /* its batch is recorded: offset released, not held (or
                                  rebuilt from the record after a restart: run_restore) */
    bool offset_released;      /* RELEASE_OFFSET done (it is done once) */
    bool handed_off;           /* its partition went, a record carries it: released where
                                  it would join its batch (run_revoked) */
    int64_t hold_until_us;     /* test hook: a rebuilt job's launch, or its stored result, waits (run_restore) */
    void *batch_hold;          /* the batch that answered it: its record stays until this
                                  job's result is out (batchio_result_out) */
    bool marked;               /* its PUBLISHING mirror carried a progress mark: its
                                  PUBLISHED state is not mirrored (codec/progress.h) */
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
    sy_config *cfg;                  /* the current config: &gen->cfg */
    sy_cfg_gen *gen;                 /* current (reload.h) */
    sy_cfg_gen *retired;             /* earlier ones still held (or let go since the last sweep: reload.c) */
    struct sy_cfg_watch *watch;      /* the pipeline files (config/cfgreload.h); NULL: none */
    sy_loop_timer reload_timer;      /* a change seen: reload when it settles */
    uint64_t reloads_ok, reloads_failed;
    sy_kafka_opts kafka;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;            /* results and dead letters (transactional: txn.c) */
    rd_kafka_t *changelog_producer;  /* the changelog: the same one without --transactions */
    sy_spend *spend;                 /* budgets (spend.h); NULL when the pipelines have none */
    struct sy_txn *txn;              /* NULL without --transactions */
    sy_engine *engine;
    sy_offsets *offsets;
    sy_timers timers;
    sy_store *store;
    sy_account *accounts;            /* pacing, one per cfg.providers entry */
    pace_queue *paced;               /* waiting for each account, same index */
    sy_keymap working;               /* idempotency key -> run in work (leader) */
    sy_buf record_scratch;
    char **changelog_topics;         /* per tier index */
    sy_buf changelog_scratch;
    uint64_t owner_id;               /* this process, in changelog records */
    sy_keymap out_notes;             /* output topic -> its highest acknowledged offsets, for
                                        the progress marks (changelog.c, codec/progress.h) */
    sy_waitq ready;                  /* waiting for an engine slot */
    sy_run *deferred;                /* launches and produces waiting for the group commit */
    struct sy_embed_group *embed_open, *embed_out; /* embedding requests collecting, sent (embed.h) */
    sy_run *runs;                    /* live runs */
    int held;                        /* how many */
    sy_flow flow;                    /* paused partitions (flow.c) */
    struct sy_loop *loop;            /* the one event loop (loop.h) */
    sy_loop_timer jobs_due;          /* the earliest retry in `timers` (worker.c) */
    sy_loop_timer purge_timer, report_timer;
    struct restore *restoring;       /* changelog restores under way (changelog.c) */
    sy_reaper reaper;                /* their readers, closed off the loop (reaper.h) */
    int64_t last_commit_us;          /* offsets last committed */
    int64_t staged_since_us;         /* the first change staged since the group commit (0: none seen) */
    uint64_t turns;                  /* loop turns (the statistics line) */
    bool revoking;                   /* handing partitions over: the group commit every turn */
    int64_t paced_us;                /* this turn: until an account has room (-1: none waits) */
    bool more_input;                 /* this turn: the consumer may have more right away */
    bool stopping;                   /* shutting down: no new call starts */
    bool drained;                    /* ... and drain() has waited, flushed, committed */
    int64_t last_purge_us;
    int wake_fd[2];
    sy_werr fatal;                   /* set: the loop stops and sy_worker_run returns it (werr.h) */
    uint64_t rng;
    sy_counters counters;            /* what happened to the jobs (counters.h) */
    struct sy_wmetrics *metrics;     /* --http: the endpoint and its counts (metrics.h); NULL off */
    struct batchio_set *batches;     /* batch tiers' batches (batchio.c), or NULL */
};

#endif
