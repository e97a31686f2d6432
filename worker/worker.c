/* worker.c -- `switchyard worker`: consume tier topics, execute jobs.
 *
 * The loop, one thread, each turn:
 *   1. intake     take new jobs; pause the partitions when --max-jobs are
 *                 held, or one partition over its window (flow.c)
 *   2. timers     jobs whose retry is due are attempted again
 *   3. dispatch   jobs waiting for an engine slot get one
 *   4. group commit  the store makes this turn's state changes durable in
 *                 one LMDB transaction (intents, results, acknowledgements)
 *   5. release    only now are the prepared calls launched and the results
 *                 produced; then the contiguous done prefix of each
 *                 partition is committed to Kafka (never ahead of the store)
 *   6. engine     wait for sockets, the consumer or the next timer; run
 *                 completions (run.c decides what each outcome means)
 *   7. deliveries acknowledged results release their offsets (run.c:
 *                 run_on_delivery, an event of the job: lifecycle.h)
 * With --transactions (txn.c), step 5's offset commit sends the prefix with
 * the open Kafka transaction and commits it; results are noted PUBLISHED
 * only once it has committed.
 * The consumer is polled every turn, paused or not, so the group never
 * thinks this worker is dead. See worker.h for the data path. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../cli/opts.h"
#include "fdlimit.h"
#include "kafka_admin.h"
#include "log.h"
#include "run.h"
#include "stop.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

static const char *usage =
    "usage: switchyard worker -p PIPELINE... [OPTIONS]\n"
    "Consume tier topics, call the providers, publish results.\n\n"
    "  -p, --pipeline FILE   pipeline file (repeatable)\n"
    "      --tiers A,B       only these tiers (default: all in the pipelines)\n"
    "      --group G         consumer group (default switchyard-workers)\n"
    "      --max-inflight N  provider calls in flight at once (default 1024)\n"
    "      --max-jobs N      jobs held at once, in flight or waiting (default 8 x max-inflight)\n"
    "      --max-jobs-per-partition N  offsets one partition may hold from its oldest\n"
    "                        unfinished job on; over it that partition pauses\n"
    "                        (default 2 x max-inflight)\n"
    "      --grace-ms N      on shutdown, wait this long for calls in flight (default 30000)\n"
    "      --revoke-grace-ms N  on a rebalance, wait this long for the jobs of revoked\n"
    "                        partitions (default 10000)\n"
    "      --dlq-topic T     dead-letter topic (default " SY_TOPIC_DLQ ")\n"
    "      --state-dir DIR   LMDB job state and idempotency keys (default switchyard-state)\n"
    "      --state-map-mb N  largest size of the state (default 4096)\n"
    "      --key-ttl-s N     how long an idempotency key is kept (default 604800 = 7 days)\n"
    "      --fsync always|never  fsync each group commit of job state (default always:\n"
    "                        survives a power loss); never: the OS writes back, which\n"
    "                        survives a killed or crashed worker, not a power loss\n"
    "      --transactions    results, dead letters and the input offsets they complete in\n"
    "                        Kafka transactions (for real Kafka; the embedded broker accepts\n"
    "                        but does not enforce them). Exactly-once results do not need it\n"
    "      --no-changelog    do not mirror job state to <tier topic>.changelog (state then\n"
    "                        does not follow a partition to another worker)\n"
    "      --account-share F share (0 < F <= 1) of each provider account's rate limits\n"
    "                        (configured or learned) this worker uses, when several\n"
    "                        workers share the accounts: F = 1/N for N workers (default 1)\n"
    "      --max-answer-bytes N  a provider response body larger than this ends the\n"
    "                        call as response_too_large (default 4194304 = 4 MiB)\n"
    "      --max-header-bytes N  the same for its headers (default 65536); both 1024..2^30\n"
    "      --core-dumps      allow core dumps (off by default: a worker's memory holds\n"
    "                        the API keys); SWITCHYARD_CORE_DUMPS=1 does the same\n"
    "      --log-level L     debug|info|warn|error (default info)\n"
    "  -h, --help            this help\n"
    "API keys come from the environment variables the pipeline names (api_key_env).\n";

/* Pacing per account, waiting queues (fair by task share), and the health
 * of every model of every tier. */
static void init_routing(worker *w)
{
    const sy_config *c = &w->cfg;
    double *shares = sy_xcalloc(c->ntasks + 1, sizeof *shares);
    for (size_t i = 0; i < c->ntasks; i++) shares[i] = c->tasks[i]->share;
    w->accounts = sy_xcalloc(c->nproviders + 1, sizeof(sy_account));
    w->paced = sy_xcalloc(c->nproviders + 1, sizeof(pace_queue));
    for (size_t i = 0; i < c->nproviders; i++) {
        sy_account_init(&w->accounts[i], c->providers[i]->requests_per_minute,
                        c->providers[i]->tokens_per_minute, w->opt.account_share, sy_mono_us());
        sy_waitq_init(&w->paced[i].waiting, c->ntasks, shares);
    }
    sy_waitq_init(&w->ready, c->ntasks, shares);
    free(shares);
    w->health = sy_xcalloc(c->ntiers + 1, sizeof *w->health);
    for (size_t i = 0; i < c->ntiers; i++) {
        const sy_tier *t = c->tiers[i];
        w->health[i] = sy_xcalloc(t->nmodels, sizeof **w->health);
        for (size_t j = 0; j < t->nmodels; j++) sy_health_init(&w->health[i][j], &t->breaker);
    }
}

static void free_routing(worker *w)
{
    for (size_t i = 0; i < w->cfg.nproviders; i++) sy_waitq_free(&w->paced[i].waiting);
    for (size_t i = 0; i < w->cfg.ntiers; i++) free(w->health[i]);
    sy_waitq_free(&w->ready);
    free(w->health);
    free(w->accounts);
    free(w->paced);
}

static void on_transfer_done(void *ctx, sy_transfer *t, void *opaque)
{
    run_on_response(ctx, t, opaque);
}

/* Returns true when the consumer may have more messages right away. */
static bool intake(worker *w)
{
    int n = 0;
    sy_flow_check(w);
    for (; n < 500; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
        if (!m) return false;
        if (!m->err) run_start(w, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sy_warn("consumer: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        if (w->held >= w->opt.max_jobs) return false;
    }
    return true;
}

static void fire_timers(worker *w)
{
    int64_t now = sy_mono_us();
    sy_run *r;
    while ((r = sy_timers_pop_due(&w->timers, now))) run_on_timer(r);
}

static void dispatch_ready(worker *w)
{
    while (w->ready.n && sy_engine_has_room(w->engine)) run_on_slot(sy_waitq_pop(&w->ready));
}

static void drain_wake_fd(worker *w)
{
    char buf[256];
    while (read(w->wake_fd[0], buf, sizeof buf) > 0) {
    }
}

static void poll_producers(worker *w)
{
    rd_kafka_poll(w->producer, 0);
    if (w->changelog_producer != w->producer) rd_kafka_poll(w->changelog_producer, 0);
}

static void flush_producers(worker *w)
{
    sy_kafka_flush(w->producer, 10000);
    if (w->changelog_producer != w->producer) sy_kafka_flush(w->changelog_producer, 10000);
    poll_producers(w);
}

/* Input offsets go to the group directly, or with the results' transaction. */
static void commit_offsets(worker *w, bool async)
{
    if (w->txn) run_txn_commit(w);
    else sy_offsets_commit(w->offsets, w->consumer, async);
}

/* The group commit, then what waited for it. */
static void release_deferred(worker *w)
{
    if (sy_store_commit(w->store) != 0) {
        sy_error("cannot make job state durable; stopping (unfinished jobs are redone on restart)");
        exit(1);
    }
    run_after_group_commit(w);
}

static int wait_ms(worker *w, bool more_input, int64_t paced_us)
{
    if (more_input || w->deferred) return 0;
    int64_t us = sy_timers_wait_us(&w->timers, sy_mono_us());
    if (paced_us >= 0 && (us < 0 || paced_us < us)) us = paced_us;
    if (us < 0 || us > 100000) return 100;
    return (int)((us + 999) / 1000);
}

static void report(worker *w)
{
    sy_counts c = sy_counters_summary(&w->counters);
    sy_info("held %d, in flight %d, consumed %" PRIu64 ", ok %" PRIu64 ", failed %" PRIu64
            ", dead-lettered %" PRIu64 ", calls %" PRIu64 ", retries %" PRIu64
            ", fallbacks %" PRIu64 ", deduplicated %" PRIu64 ", replayed %" PRIu64
            ", skipped %" PRIu64 ", routed again %" PRIu64
            ", models skipped (breaker/cooldown) %" PRIu64
            ", partition pauses %" PRIu64 ", resumes %" PRIu64 ", paused now %d",
            w->held, sy_engine_inflight(w->engine), c.consumed, c.succeeded, c.failed, c.dead,
            c.calls, c.retries, c.fallbacks, c.deduplicated, c.replayed, c.skipped, c.rerouted,
            c.breaker_skips, w->flow.pauses, w->flow.resumes, w->flow.n);
    txn_report(w);
}

static void turn(worker *w, bool accept_input, int64_t *last_commit)
{
    bool more = accept_input ? intake(w) : (rd_kafka_consumer_poll(w->consumer, 0), false);
    int64_t paced_us = -1;
    if (!w->stopping) { /* stopping: no new call starts (run.c parks them) */
        fire_timers(w);
        dispatch_ready(w);
        paced_us = run_release_paced(w);
    }
    int64_t now = sy_mono_us();
    if (now - w->last_purge_us > 1000000) {
        sy_store_purge(w->store, sy_now_ms(), 2000);
        w->last_purge_us = now;
    }
    release_deferred(w);
    if (now - *last_commit > 100000) {
        commit_offsets(w, true);
        *last_commit = now;
    }
    sy_engine_step(w->engine, wait_ms(w, more, paced_us), w->wake_fd[0]);
    drain_wake_fd(w);
    poll_producers(w);
}

static void run_loop(worker *w)
{
    int64_t last_commit = 0, last_report = sy_mono_us();
    while (!sy_stop_requested && w->error.kind != SY_ERRK_FATAL) {
        turn(w, true, &last_commit);
        if (sy_mono_us() - last_report > 10000000) {
            report(w);
            last_report = sy_mono_us();
        }
    }
}

/* Jobs held that have no call out: waiting for an engine slot, for room
 * under an account's limits, or for a retry. */
static int idle_jobs(const worker *w)
{
    size_t n = w->ready.n + w->timers.n;
    for (size_t i = 0; i < w->cfg.nproviders; i++) n += w->paced[i].waiting.n;
    return (int)n;
}

/* At a clean stop, the IN_FLIGHT intent of each job with no call out
 * (waiting for a retry, a slot or a rate limit) says so, in the store and
 * the changelog: the next start does not count it among the calls that
 * may have been paid twice. Returns how many were marked. */
static size_t mark_waiting_intents(worker *w)
{
    size_t n = 0;
    for (sy_run *r = w->runs; r; r = r->next) {
        sy_job_record rec;
        const char *key = sy_buf_cstr(&r->skey); /* task-scoped, as stored */
        if (!run_owns_key(r) || run_call_out(r) || !r->job.idempotency_key ||
            !sy_store_get(w->store, key, &rec, &w->record_scratch) ||
            rec.state != SY_STATE_IN_FLIGHT || rec.no_call_out)
            continue;
        rec.no_call_out = true;
        sy_store_put(w->store, key, &rec);
        changelog_mirror(w, key, &rec, NULL);
        n++;
    }
    return n;
}

/* Stop taking jobs and starting calls; let the calls out finish and their
 * results go out within the grace period. Jobs that had no call out are
 * left for the next owner (their offsets are not committed). */
static void drain(worker *w)
{
    w->stopping = true;
    sy_info("stopping: %d job(s) held, %d with a call out, grace %d ms", w->held,
            w->held - idle_jobs(w), w->opt.grace_ms);
    sy_flow_pause_all(w);
    int64_t until = sy_mono_us() + (int64_t)w->opt.grace_ms * 1000, last_commit = 0;
    while (w->held > idle_jobs(w) && sy_mono_us() < until) turn(w, false, &last_commit);
    if (w->held > idle_jobs(w))
        sy_warn("%d job(s) unfinished at the end of the grace period; they will be redone",
                w->held - idle_jobs(w));
    if (idle_jobs(w) > 0)
        sy_info("%d job(s) were waiting (for a slot, a rate limit or a retry); they will be "
                "done on restart", idle_jobs(w));
    size_t marked = mark_waiting_intents(w);
    if (marked) sy_info("%zu job intent(s) noted as having no call out", marked);
    flush_producers(w);
    sy_store_commit(w->store);
    commit_offsets(w, false);
    if (w->txn) { /* the PUBLISHED notes of the last transaction */
        flush_producers(w);
        sy_store_commit(w->store);
    }
    w->drained = true;
}

static size_t unfinished_in(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++)
        n += sy_offsets_unfinished(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
    return n;
}

/* Partitions are being taken away: let their jobs finish (bounded by the
 * grace period) so the next owner does not pay for them again. New jobs of
 * other partitions are not taken meanwhile (the consumer is not polled:
 * this runs inside its rebalance callback). */
static void finish_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    int64_t until = sy_mono_us() + (int64_t)w->opt.revoke_grace_ms * 1000;
    size_t left;
    while ((left = unfinished_in(w, parts)) > 0 && sy_mono_us() < until) {
        fire_timers(w);
        dispatch_ready(w);
        release_deferred(w);
        sy_engine_step(w->engine, 10, -1);
        poll_producers(w);
    }
    if (left) sy_warn("revoke: %zu job(s) of the revoked partitions unfinished after %d ms; "
                      "their results will still be published", left, w->opt.revoke_grace_ms);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker *w = opaque;
    /* After drain() the worker is exiting: it has waited, flushed and
     * committed once; waiting again for jobs that could not finish (the
     * broker gone, say) would only delay the exit. */
    if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !w->drained) {
        run_revoked(w, parts);
        finish_revoked(w, parts);
        flush_producers(w);
        sy_store_commit(w->store); /* acknowledgements first, then the offsets */
        commit_offsets(w, false);
        for (int i = 0; i < parts->cnt; i++)
            sy_offsets_revoke(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
        sy_flow_revoked(w, parts);
    }
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        changelog_restore(w, parts); /* state first, then the messages */
    sy_kafka_apply_rebalance(rk, e, parts);
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) sy_flow_assigned(w, parts);
}

/* --account-share F: 0 < F <= 1 (the workers sharing an account: F each,
 * summing to at most 1). */
static bool share_arg(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0 && v <= 1)) return false;
    *out = v;
    return true;
}

/* A byte limit given on the command line: a whole number in lo..hi (a
 * negative or garbled one no longer wraps to "no limit"). */
static bool bytes_arg(const char *s, long lo, long hi, size_t *out)
{
    long v;
    if (!cli_long_arg(s, lo, hi, &v)) return false;
    *out = (size_t)v;
    return true;
}

static int parse_opts(worker *w, cli_pipelines *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_pipeline_opt(p, argc, argv, &i) || cli_kafka_cmd_opt(&w->kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--tiers")) w->opt.tiers = argv[++i];
        else if (v && !strcmp(a, "--group")) w->opt.group = argv[++i];
        else if (v && !strcmp(a, "--max-inflight")) w->opt.max_inflight = atoi(argv[++i]);
        else if (v && !strcmp(a, "--max-jobs")) w->opt.max_jobs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--max-jobs-per-partition")) w->opt.max_jobs_per_partition = atoi(argv[++i]);
        else if (v && !strcmp(a, "--grace-ms")) w->opt.grace_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--revoke-grace-ms")) w->opt.revoke_grace_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--dlq-topic")) w->opt.dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--state-dir")) w->opt.state_dir = argv[++i];
        else if (v && !strcmp(a, "--state-map-mb")) w->opt.state_map_mb = (size_t)atol(argv[++i]);
        else if (v && !strcmp(a, "--account-share") && share_arg(argv[i + 1], &w->opt.account_share)) i++;
        else if (!strcmp(a, "--no-changelog")) w->opt.changelog = false;
        else if (!strcmp(a, "--transactions")) w->opt.transactions = true;
        else if (!strcmp(a, "--core-dumps")) w->opt.core_dumps = true;
        else if (v && !strcmp(a, "--max-answer-bytes") && bytes_arg(argv[i + 1], 1024, 1L << 30, &w->opt.max_answer_bytes)) i++;
        else if (v && !strcmp(a, "--max-header-bytes") && bytes_arg(argv[i + 1], 1024, 1L << 30, &w->opt.max_header_bytes)) i++;
        else if (v && !strcmp(a, "--fsync") && (!strcmp(argv[i + 1], "always") || !strcmp(argv[i + 1], "never")))
            w->opt.fsync = !strcmp(argv[++i], "always");
        else if (v && !strcmp(a, "--key-ttl-s")) w->opt.key_ttl_ms = atoll(argv[++i]) * 1000;
        else if (v && !strcmp(a, "--log-level") && sy_log_level_parse(argv[i + 1]) >= 0)
            sy_log_set_level(sy_log_level_parse(argv[++i]));
        else return cli_bad_kafka_usage("worker", a, usage);
    }
    if (w->opt.max_inflight < 1 || w->opt.max_inflight > 100000) {
        fprintf(stderr, "switchyard worker: --max-inflight must be 1..100000\n");
        return 2;
    }
    const char *dumps = getenv("SWITCHYARD_CORE_DUMPS");
    if (dumps && !strcmp(dumps, "1")) w->opt.core_dumps = true;
    if (w->opt.max_jobs <= 0) w->opt.max_jobs = 8 * w->opt.max_inflight;
    if (w->opt.max_jobs_per_partition <= 0) w->opt.max_jobs_per_partition = 2 * w->opt.max_inflight;
    return 0;
}

/* The tier topics this worker consumes. */
static int subscribe(worker *w)
{
    const char *topics[256];
    size_t n = 0;
    for (size_t i = 0; i < w->cfg.ntiers && n < 256; i++) {
        const sy_tier *t = w->cfg.tiers[i];
        if (w->opt.tiers && !sy_list_contains(w->opt.tiers, t->name)) continue;
        topics[n++] = t->topic;
    }
    if (n == 0) {
        sy_error("no tier to consume (--tiers %s)", w->opt.tiers ? w->opt.tiers : "");
        return -1;
    }
    return sy_kafka_subscribe(w->consumer, topics, n);
}

/* With --transactions the results get a transactional producer (started
 * here, before recovery reads the output topics) and the changelog one of
 * its own, outside the transactions (txn.c says why). */
static int connect_kafka(worker *w, char *err, size_t errlen)
{
    w->producer = w->opt.transactions ? txn_producer(w, run_on_delivery, err, errlen)
                                      : sy_kafka_producer(&w->kafka, run_on_delivery, w, err, errlen);
    w->changelog_producer = w->producer;
    if (w->producer && w->txn && w->opt.changelog)
        w->changelog_producer = sy_kafka_producer(&w->kafka, run_on_delivery, w, err, errlen);
    if (w->producer && w->changelog_producer)
        w->consumer = sy_kafka_consumer(&w->kafka, w->opt.group, on_rebalance, w, err, errlen);
    return w->consumer ? 0 : -1;
}

/* The topics this worker reads and writes exist and fit (kafka_admin.h):
 * changelogs compacted, with their tier topic's partition count. */
static int check_topics(worker *w)
{
    sy_topic_plan plan;
    int mask = SY_TK_TIER | SY_TK_DLQ | SY_TK_RESULTS | (w->opt.changelog ? SY_TK_CHANGELOG : 0);
    sy_topic_plan_build(&w->cfg, mask, SY_TOPIC_JOBS, w->opt.dlq_topic, &plan);
    long long *limit = sy_xcalloc(plan.n ? plan.n : 1, sizeof *limit);
    int rc = sy_cluster_verify(w->producer, &plan, "worker", limit);
    /* The broker refuses a whole batch over a topic's max.message.bytes, and
     * librdkafka fails every message of it: with batches larger than that,
     * small results would end as dead letters too. */
    char bs[32];
    size_t bslen = sizeof bs;
    long long batch = -1;
    if (rd_kafka_conf_get(rd_kafka_conf(w->producer), "batch.size", bs, &bslen) == RD_KAFKA_CONF_OK)
        batch = strtoll(bs, NULL, 10);
    for (size_t i = 0; i < plan.n; i++) {
        if (plan.v[i].kind == SY_TK_TIER || !sy_batch_too_large(limit[i], batch)) continue;
        sy_error("topic %s takes messages of %lld bytes at most (max.message.bytes), the "
                 "producer makes batches of up to %lld: fix: -X batch.size=%lld, or raise "
                 "the topic's max.message.bytes", plan.v[i].name, limit[i], batch, limit[i] - 1024);
        rc = -1;
    }
    free(limit);
    sy_topic_plan_free(&plan);
    return rc;
}

/* A start stopped by the topic check: what setup made so far. */
static void release_start(worker *w)
{
    if (w->consumer) rd_kafka_destroy(w->consumer);
    if (w->changelog_producer && w->changelog_producer != w->producer)
        rd_kafka_destroy(w->changelog_producer);
    if (w->producer) rd_kafka_destroy(w->producer);
    txn_free(w);
    sy_store_close(w->store);
    w->consumer = w->changelog_producer = w->producer = NULL;
    w->store = NULL;
}

/* Events on q wake the loop's poll. */
static void wake_on(worker *w, rd_kafka_queue_t *q)
{
    rd_kafka_queue_io_event_enable(q, w->wake_fd[1], "k", 1);
    rd_kafka_queue_destroy(q);
}

/* Enough file descriptors for --max-inflight (fdlimit.h), before anything
 * is opened. */
static int check_fd_limit(worker *w)
{
    char err[512], bootstrap[1024];
    int brokers = sy_kafka_bootstrap(&w->kafka, 30000, bootstrap, sizeof bootstrap, err, sizeof err)
                      ? 1 : sy_fd_count_brokers(bootstrap);
    long need = sy_fd_need(sy_engine_max_fds(w->opt.max_inflight, (int)w->cfg.nproviders), brokers);
    if (sy_fd_ensure(need, w->opt.max_inflight, err, sizeof err) == 0) return 0;
    sy_error("%s", err);
    return -1;
}

static int setup(worker *w)
{
    char err[512];
    w->store = sy_store_open(w->opt.state_dir, w->opt.state_map_mb, err, sizeof err);
    if (!w->store) {
        sy_error("cannot open the state store: %s", err);
        return -1;
    }
    sy_store_set_fsync(w->store, w->opt.fsync);
    if (connect_kafka(w, err, sizeof err) != 0) {
        sy_error("cannot connect to Kafka: %s", err);
        return -1;
    }
    if (check_topics(w) != 0) {
        release_start(w);
        return -1;
    }
    if (pipe2(w->wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
    wake_on(w, rd_kafka_queue_get_consumer(w->consumer));
    wake_on(w, rd_kafka_queue_get_main(w->producer));
    if (w->changelog_producer != w->producer) wake_on(w, rd_kafka_queue_get_main(w->changelog_producer));
    init_routing(w);
    w->engine = sy_engine_new(w->opt.max_inflight, (int)w->cfg.nproviders, on_transfer_done, w);
    sy_engine_set_limits(w->engine, w->opt.max_answer_bytes, w->opt.max_header_bytes);
    w->offsets = sy_offsets_new();
    sy_timers_init(&w->timers);
    w->rng = (uint64_t)sy_mono_us() | 1;
    changelog_init(w);
    sy_keymap_init(&w->working);
    if (recover_unfinished(w) != 0) return -1;
    return subscribe(w);
}

static void teardown(worker *w)
{
    sy_kafka_close_consumer(w->consumer, SY_KAFKA_CLOSE_MS);
    if (w->changelog_producer != w->producer) rd_kafka_destroy(w->changelog_producer);
    rd_kafka_destroy(w->producer);
    txn_free(w);
    sy_engine_free(w->engine);
    run_abandon_all(w); /* unfinished: redelivered on restart */
    sy_offsets_free(w->offsets);
    sy_flow_free(&w->flow);
    sy_timers_free(&w->timers);
    sy_buf_free(&w->record_scratch);
    sy_buf_free(&w->changelog_scratch);
    changelog_free(w);
    sy_keymap_free(&w->working);
    free_routing(w);
    sy_store_close(w->store);
    close(w->wake_fd[0]);
    close(w->wake_fd[1]);
    sy_config_free(&w->cfg);
}

/* A core dump would hold the API keys (the configuration, the request
 * buffers in flight): none is written unless asked for. Not dumpable also
 * keeps other users' processes from reading this one's memory. */
static void no_core_dumps(void)
{
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        sy_warn("cannot turn core dumps off: %s", strerror(errno));
}

int cmd_worker(int argc, char **argv)
{
    worker w = {.opt = {.max_inflight = 1024, .grace_ms = 30000, .revoke_grace_ms = 10000, .group = "switchyard-workers",
                        .dlq_topic = SY_TOPIC_DLQ, .state_dir = "switchyard-state",
                        .state_map_mb = 4096, .account_share = 1, .changelog = true, .fsync = true, .key_ttl_ms = 7LL * 24 * 3600 * 1000,
                        .max_answer_bytes = 4 << 20, .max_header_bytes = 64 << 10}};
    cli_pipelines p = {0};
    sy_log_init("worker", SY_LOG_INFO);
    int rc = parse_opts(&w, &p, argc, argv);
    if (rc) return rc;
    if (!w.opt.core_dumps) no_core_dumps(); /* before the keys are read */
    if (cli_load_pipelines(&p, SY_LOAD_REQUIRE_KEYS, &w.cfg) != 0) return 1;
    for (size_t i = 0; i < w.cfg.nproviders; i++)
        if (sy_provider_real_key_to_local(w.cfg.providers[i]))
            sy_warn("provider '%s': $%s looks like a real API key, but the base_url points at a "
                    "local or fake provider: the key is sent there (set the base URL, or a fake "
                    "key)", w.cfg.providers[i]->name, w.cfg.providers[i]->api_key_env);
    if (check_fd_limit(&w) != 0) {
        sy_config_free(&w.cfg);
        return 1;
    }
    sy_install_stop_signals();
    if (setup(&w) != 0) {
        sy_config_free(&w.cfg);
        return 1;
    }
    sy_info("started: %d calls in flight at most, %d jobs held at most, %d per partition",
            w.opt.max_inflight, w.opt.max_jobs, w.opt.max_jobs_per_partition);
    run_loop(&w);
    bool fatal = w.error.kind == SY_ERRK_FATAL;
    if (fatal) w.drained = true; /* the producer is dead: no drain, no commit at the revoke */
    else drain(&w);
    report(&w);
    sy_info("cpu %" PRId64 " us", sy_cpu_us());
    teardown(&w);
    return fatal ? 1 : 0;
}
