/* worker.c -- the worker's shell: the loop turn, start-up and stop.
 *
 * One thread, one event loop (loop.h). Each turn (turn(), the same for
 * normal running, the shutdown drain and a revoke; they differ only by
 * its mode):
 *   1. intake     take new jobs (TURN_INTAKE); pause the partitions when
 *                 --max-jobs are held, or one partition over its window
 *                 (flow.c)
 *   2. dispatch   jobs waiting for an engine slot or for room under an
 *                 account's limits get it (not when stopping)
 *   3. restores   changelog restores and output scans of new assignments
 *                 advance by a batch (changelog.c); their partitions stay
 *                 held until done
 *   4. loop turn  before sleeping, the group commit (before_sleep): the
 *                 store makes the state changes staged since the last one
 *                 durable in one LMDB transaction, once the first of them
 *                 is --commit-interval-ms old (commit_wait_us); only then
 *                 are the prepared calls launched and the results
 *                 produced; then the contiguous done prefix of each
 *                 partition is committed to Kafka (never ahead of the
 *                 store). Then wait for sockets, the Kafka queues' wake
 *                 pipe or the next timer; run the engine's completions
 *                 (run.c decides what each outcome means) and due timers
 *                 (retries, purge, report)
 *   5. deliveries acknowledged results release their offsets (run.c:
 *                 run_on_delivery, an event of the job: lifecycle.h)
 * A SIGHUP seen at the start of a turn, or a change of the pipeline files
 * (a loop fd), loads them again (reload.h): jobs taken after it run under
 * the new config, jobs in flight under theirs.
 * With --transactions (txn.c), step 4's offset commit sends the prefix with
 * the open Kafka transaction and commits it; results are noted PUBLISHED
 * only once it has committed.
 * The consumer is polled every turn but inside the rebalance callback,
 * paused or not, so the group never thinks this worker is dead. A fatal
 * error (werr.h) stops the loop before anything that depended on it goes
 * out, and sy_worker_run returns it. See worker.h for the data path. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdlimit.h"
#include "kafka_admin.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "run.h"
#include "batchio.h"
#include "stop.h"
#include "txn.h"
#include "util.h"
#include "worker.h"
#include "changelog.h"
#include "embed.h"
#include "flow.h"
#include "recover.h"
#include "reload.h"

enum { RESTORE_POLL_MS = 2 }; /* the longest wait while a restore reads */

enum {
    TURN_INTAKE = 1,   /* take new jobs */
    TURN_CONSUMER = 2, /* poll the consumer (not inside its rebalance callback) */
};

/* Pacing per account and waiting queues (fair by task share); the
 * breakers are the config generation's (reload.c). */
static void init_routing(worker *w)
{
    const sy_config *c = w->cfg;
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
}

static void free_routing(worker *w)
{
    for (size_t i = 0; i < w->cfg->nproviders; i++) sy_waitq_free(&w->paced[i].waiting);
    sy_waitq_free(&w->ready);
    free(w->accounts);
    free(w->paced);
}

static void on_transfer_done(void *ctx, sy_transfer *t, void *opaque)
{
    if (!batchio_on_response(ctx, t, opaque)) run_on_response(ctx, t, opaque);
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

/* Kafka events while no job is taken (the partitions are paused): the
 * group's heartbeat and rebalances. A message that still comes is left
 * for the next owner (its offset is not committed). */
static void poll_consumer(worker *w)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
    if (m) rd_kafka_message_destroy(m);
}

/* The loop: retries are due. */
static void on_jobs_due(void *ctx)
{
    worker *w = ctx;
    if (w->stopping) return; /* stopping: no new call starts (run.c parks them) */
    int64_t now = sy_mono_us();
    sy_run *r;
    while ((r = sy_timers_pop_due(&w->timers, now))) run_on_timer(r);
}

static void dispatch_ready(worker *w)
{
    while (w->ready.n && sy_engine_has_room(w->engine)) run_on_slot(sy_waitq_pop(&w->ready));
}

/* The loop: a Kafka queue has events (handled by the polls of the turn). */
static void on_wake(void *ctx, int fd, unsigned ready)
{
    (void)ctx;
    (void)ready;
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
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

/* The group commit; -1 (fatal) when the store cannot make it durable. */
static int commit_store(worker *w)
{
    if (sy_store_commit(w->store) == 0) return 0;
    sy_error("cannot make job state durable; stopping (unfinished jobs are redone on restart)");
    sy_werr_set(&w->fatal, SY_WERR_FATAL, 1, "cannot make job state durable");
    return -1;
}

/* The group commit, then what waited for it. Nothing waits on a failed
 * commit: the worker stops. */
static int release_deferred(worker *w)
{
    batchio_before_group_commit(w);
    if (commit_store(w) != 0) return -1;
    run_after_group_commit(w);
    batchio_after_group_commit(w);
    return 0;
}

/* How long the group commit may still wait, in µs; 0: now. It waits
 * (--commit-interval-ms) only while something is staged and the worker is
 * neither stopping nor handing partitions over: until the first change
 * staged since the last commit is that old, so that one commit (its
 * pwrites and fdatasync) carries more jobs. Nothing that depends on the
 * commit goes out before it: the wait delays results, never durability. */
static int64_t commit_wait_us(worker *w, int64_t now)
{
    if (!sy_store_staged(w->store) || w->opt.commit_interval_ms <= 0 || w->stopping || w->revoking) {
        w->staged_since_us = 0;
        return 0;
    }
    if (!w->staged_since_us) w->staged_since_us = now;
    int64_t left = w->staged_since_us + (int64_t)w->opt.commit_interval_ms * 1000 - now;
    return left > 0 ? left : 0;
}

/* The loop's before-sleep hook: the group commit when due, the launches
 * and produces it allows, the offsets (at most every 100 ms, and only
 * right after a commit: never ahead of the store); the retries' timer.
 * Returns how long the loop may sleep. */
static int before_sleep(void *ctx)
{
    worker *w = ctx;
    wmetrics_beat(w);
    w->turns++;
    if (sy_werr_is_fatal(&w->fatal)) return 0;
    int64_t now = sy_mono_us(), commit_in = commit_wait_us(w, now);
    if (commit_in == 0) {
        if (release_deferred(w) != 0) return 0;
        w->staged_since_us = 0;
        if (now - w->last_commit_us > 100000) {
            commit_offsets(w, true);
            w->last_commit_us = now;
        }
    }
    wmetrics_sample(w); /* the turn's calls are out */
    int64_t due = sy_timers_wait_us(&w->timers, now);
    if (due >= 0 && !w->stopping) sy_loop_timer_at(w->loop, &w->jobs_due, now + due);
    else sy_loop_timer_cancel(w->loop, &w->jobs_due);
    if (w->more_input || (w->deferred && commit_in == 0) || sy_werr_is_fatal(&w->fatal)) return 0;
    /* A restore's reader is polled each turn: librdkafka's wake-up comes
     * only when its queue turns non-empty, not for every fetch it adds. */
    int ms = changelog_restoring(w) ? RESTORE_POLL_MS : -1;
    if (w->paced_us >= 0 && (ms < 0 || w->paced_us < (int64_t)ms * 1000)) ms = (int)((w->paced_us + 999) / 1000);
    if (commit_in > 0 && (ms < 0 || commit_in < (int64_t)ms * 1000)) ms = (int)((commit_in + 999) / 1000);
    return ms;
}

static void on_purge(void *ctx)
{
    worker *w = ctx;
    sy_store_purge(w->store, sy_now_ms(), 2000);
    sy_loop_timer_at(w->loop, &w->purge_timer, sy_mono_us() + 1000000);
}

/* The statistics line: every 10 s when it changed, else every 5 minutes
 * (log.h sy_log_repeat), and always at the end (final). */
static void report(worker *w, bool final)
{
    static sy_log_repeat last;
    sy_counts c = sy_counters_summary(&w->counters);
    char line[600];
    snprintf(line, sizeof line, "held %d, in flight %d, consumed %" PRIu64 ", ok %" PRIu64 ", failed %" PRIu64
            ", dead-lettered %" PRIu64 ", calls %" PRIu64 ", retries %" PRIu64
            ", fallbacks %" PRIu64 ", deduplicated %" PRIu64 ", replayed %" PRIu64
            ", skipped %" PRIu64 ", routed again %" PRIu64
            ", models skipped (breaker/cooldown) %" PRIu64
            ", partition pauses %" PRIu64 ", resumes %" PRIu64 ", paused now %d"
            ", group commits %" PRIu64 ", loop turns %" PRIu64,
            w->held, sy_engine_inflight(w->engine), c.consumed, c.succeeded, c.failed, c.dead,
            c.calls, c.retries, c.fallbacks, c.deduplicated, c.replayed, c.skipped, c.rerouted,
            c.breaker_skips, w->flow.pauses, w->flow.resumes, w->flow.n,
            sy_store_commits(w->store), w->turns);
    if (!sy_log_repeat_due(&last, line, sy_mono_us(), SY_LOG_REPEAT_US) && !final) return;
    sy_info("%s", line);
    if (w->counters.embed_requests)
        sy_info("embeddings: %" PRIu64 " inputs in %" PRIu64 " requests",
                w->counters.embed_inputs, w->counters.embed_requests);
    sy_engine_stats es = sy_engine_get_stats(w->engine);
    sy_info("connections opened %" PRIu64 ", open %" PRId64 ", calls over HTTP/2 %" PRIu64
            ", over HTTP/1.x %" PRIu64 " (at most %d connections to a provider, %d streams on one)",
            es.connections_opened, es.connections_open, es.calls_h2, es.calls_h1,
            es.shards * es.max_connections_per_shard, es.max_streams_per_connection);
    sy_engine_lane lanes[16];
    for (int i = 0, n = sy_engine_lane_stats(w->engine, lanes, 16); i < n; i++)
        sy_info("provider %s: connections opened %" PRIu64 ", open %" PRId64 " (bounds: %d connections, 0: none; "
                "%d streams on one); calls out %d, waiting for a slot %d", lanes[i].name, lanes[i].connections_opened,
                lanes[i].connections_open, lanes[i].max_connections, lanes[i].max_streams, lanes[i].calls_active,
                lanes[i].calls_waiting);
    txn_report(w);
}

static void on_report(void *ctx)
{
    worker *w = ctx;
    report(w, false);
    sy_loop_timer_at(w->loop, &w->report_timer, sy_mono_us() + 10000000);
}

/* One turn, in every mode (see the top of this file). */
static void turn(worker *w, unsigned mode, int max_wait_ms)
{
    w->more_input = false;
    if (sy_reload_requested) {
        sy_reload_requested = 0;
        wreload_now(w, "SIGHUP");
    }
    if (mode & TURN_INTAKE) w->more_input = intake(w);
    else if (mode & TURN_CONSUMER) poll_consumer(w);
    w->paced_us = -1;
    if (!w->stopping) {
        dispatch_ready(w);
        w->paced_us = run_release_paced(w);
    }
    int more = changelog_restore_step(w, batchio_restored);
    if (more < 0) return;
    if (more) w->more_input = true;
    sy_loop_turn(w->loop, max_wait_ms);
    poll_producers(w);
    if (w->spend) sy_spend_poll(w->spend);
}

static bool running(const worker *w)
{
    return !sy_stop_requested && !sy_werr_is_fatal(&w->fatal);
}

/* Jobs held that have no call out: waiting for an engine slot, for room
 * under an account's limits, or for a retry. */
static int idle_jobs(const worker *w)
{
    size_t n = w->ready.n + w->timers.n;
    for (size_t i = 0; i < w->cfg->nproviders; i++) n += w->paced[i].waiting.n;
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
 * left for the next owner (their offsets are not committed), and so are
 * the partitions whose restore had not ended. */
static void drain(worker *w)
{
    w->stopping = true;
    changelog_restore_cancel(w);
    sy_info("stopping: %d job(s) held, %d with a call out, grace %d ms", w->held,
            w->held - idle_jobs(w), w->opt.grace_ms);
    sy_flow_pause_all(w);
    int64_t until = sy_mono_us() + (int64_t)w->opt.grace_ms * 1000;
    while (w->held > idle_jobs(w) && sy_mono_us() < until && !sy_werr_is_fatal(&w->fatal))
        turn(w, TURN_CONSUMER, 100);
    if (sy_werr_is_fatal(&w->fatal)) return;
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

static size_t minus_floor(size_t a, size_t b)
{
    return a > b ? a - b : 0;
}

static size_t unfinished_in(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++)
        n += sy_offsets_unfinished(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
    /* a batch's answers still going out: their offsets are released, but
     * the next owner may rebuild them from the batch's record, kept for them */
    return n + run_results_held_in(w, parts);
}

/* Partitions are being taken away: let their jobs finish (bounded by the
 * grace period) so the next owner does not pay for them again. New jobs of
 * other partitions are not taken meanwhile (the consumer is not polled:
 * this runs inside its rebalance callback). Jobs batches hold are handed
 * over, dropped or waited for until their batch owns them (run_revoked,
 * docs/durability.md "Batches follow partitions"): none is answered both
 * here and by the next owner. */
static size_t finish_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    int64_t until = sy_mono_us() + (int64_t)w->opt.revoke_grace_ms * 1000;
    size_t left, dropped = run_revoked(w, parts, SY_REVOKE_FIRST); /* their offsets stay unfinished */
    w->revoking = true; /* the group commit every turn meanwhile */
    while ((left = minus_floor(unfinished_in(w, parts), dropped)) > 0 && sy_mono_us() < until &&
           !sy_werr_is_fatal(&w->fatal)) {
        turn(w, 0, 10);
        dropped += run_revoked(w, parts, SY_REVOKE_AGAIN); /* batches that own their jobs now */
    }
    w->revoking = false;
    dropped += run_revoked(w, parts, SY_REVOKE_LAST);
    left = minus_floor(unfinished_in(w, parts), dropped);
    if (left) sy_warn("revoke: %zu job(s) of the revoked partitions unfinished after %d ms; "
                      "their results will still be published", left, w->opt.revoke_grace_ms);
    return left;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker *w = opaque;
    /* After drain() the worker is exiting: it has waited, flushed and
     * committed once; waiting again for jobs that could not finish (the
     * broker gone, say) would only delay the exit. After a fatal error
     * nothing more goes out. */
    bool live = !w->drained && !sy_werr_is_fatal(&w->fatal);
    if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && live) {
        /* Every job of the revoked partitions settled (its result and
         * changelog records acknowledged): nothing of theirs is in the
         * producers' queues, whose other partitions' messages need not
         * hold the rebalance. Else their deliveries are waited for (up to
         * 10 s), so the next owner finds their results. */
        if (finish_revoked(w, parts) > 0) flush_producers(w);
        else poll_producers(w);
        if (commit_store(w) == 0) commit_offsets(w, false); /* acknowledgements first, then the offsets */
        for (int i = 0; i < parts->cnt; i++)
            sy_offsets_revoke(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
        sy_flow_revoked(w, parts);
    }
    sy_kafka_apply_rebalance(rk, e, parts);
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (live && !w->stopping) changelog_restore_start(w, parts); /* state first, then the messages */
        sy_flow_assigned(w, parts);
    }
}

/* The tier topics this worker consumes. */
static int subscribe(worker *w)
{
    const char *topics[256];
    size_t n = 0;
    for (size_t i = 0; i < w->cfg->ntiers && n < 256; i++) {
        const sy_tier *t = w->cfg->tiers[i];
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
 * its own, outside the transactions (txn.c says why). The producers batch
 * up to 20 ms (librdkafka's linger.ms; other clients keep kafka.c's 5): a
 * group commit releases its jobs' mirrors and results at once, and fuller
 * batches cost the worker fewer requests and delivery rounds per job
 * (bench/README.md, issue 15); a user's -X linger.ms comes after and wins. */
static int connect_kafka(worker *w, char *err, size_t errlen)
{
    sy_kafka_opts po = w->kafka;
    if (w->kafka.nprops < SY_MAX_PROPS) /* never at the cost of a user's own -X */
        sy_kafka_opts_first(&po, &w->kafka, (const char *const[]){"linger.ms=20"}, 1);
    w->producer = w->opt.transactions ? txn_producer(w, &po, run_on_delivery, err, errlen)
                                      : sy_kafka_producer(&po, run_on_delivery, w, err, errlen);
    w->changelog_producer = w->producer;
    if (w->producer && w->txn && w->opt.changelog)
        w->changelog_producer = sy_kafka_producer(&po, run_on_delivery, w, err, errlen);
    if (w->producer && w->changelog_producer)
        w->consumer = sy_kafka_consumer(&w->kafka, w->opt.group, on_rebalance, w, err, errlen);
    return w->consumer ? 0 : -1;
}

/* The topics this worker reads and writes exist and fit (kafka_admin.h):
 * changelogs compacted, with their tier topic's partition count. */
static int check_topics(worker *w)
{
    sy_topic_plan plan;
    int mask = SY_TK_TIER | SY_TK_DLQ | SY_TK_RESULTS | SY_TK_SPEND | (w->opt.changelog ? SY_TK_CHANGELOG : 0);
    sy_topic_plan_build(w->cfg, mask, SY_TOPIC_JOBS, w->opt.dlq_topic, &plan);
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

/* Events on q wake the loop. */
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
    long need = sy_fd_need(sy_engine_max_fds(w->opt.max_inflight, (int)w->cfg->nproviders), brokers);
    if (sy_fd_ensure(need, w->opt.max_inflight, err, sizeof err) == 0) return 0;
    sy_error("%s", err);
    return -1;
}

static int fail(worker *w, const char *what)
{
    sy_werr_set(&w->fatal, SY_WERR_FATAL, 1, "%s", what);
    return -1;
}

static int setup(worker *w)
{
    char err[512];
    w->store = sy_store_open(w->opt.state_dir, w->opt.state_map_mb, err, sizeof err);
    if (!w->store) {
        sy_error("cannot open the state store: %s", err);
        return fail(w, "cannot open the state store");
    }
    sy_store_set_fsync(w->store, w->opt.fsync);
    if (connect_kafka(w, err, sizeof err) != 0) {
        sy_error("cannot connect to Kafka: %s", err);
        return fail(w, "cannot connect to Kafka");
    }
    if (check_topics(w) != 0) {
        release_start(w);
        return fail(w, "topics do not fit");
    }
    if (pipe2(w->wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) return fail(w, "cannot make the wake pipe");
    w->loop = sy_loop_new(&w->fatal);
    if (!w->loop) return -1;
    sy_loop_set_hook(w->loop, before_sleep, w);
    if (sy_loop_watch(w->loop, w->wake_fd[0], SY_LOOP_READ, on_wake, w) != 0)
        return fail(w, "cannot watch the wake pipe");
    wake_on(w, rd_kafka_queue_get_consumer(w->consumer));
    wake_on(w, rd_kafka_queue_get_main(w->producer));
    if (w->changelog_producer != w->producer) wake_on(w, rd_kafka_queue_get_main(w->changelog_producer));
    init_routing(w);
    w->engine = sy_engine_new(w->loop, w->opt.max_inflight, (int)w->cfg->nproviders, on_transfer_done, w,
                              &w->fatal);
    if (!w->engine) return -1;
    sy_engine_set_limits(w->engine, w->opt.max_answer_bytes, w->opt.max_header_bytes);
    w->offsets = sy_offsets_new();
    sy_timers_init(&w->timers);
    sy_loop_timer_init(&w->jobs_due, on_jobs_due, w);
    sy_loop_timer_init(&w->purge_timer, on_purge, w);
    sy_loop_timer_init(&w->report_timer, on_report, w);
    sy_loop_timer_at(w->loop, &w->purge_timer, sy_mono_us() + 1000000);
    sy_loop_timer_at(w->loop, &w->report_timer, sy_mono_us() + 10000000);
    wreload_watch(w);
    w->rng = (uint64_t)sy_mono_us() | 1;
    changelog_init(w);
    sy_keymap_init(&w->working);
    if (recover_unfinished(w, changelog_mirror) != 0) return fail(w, "cannot store the recovered state");
    if (w->cfg->nbudgets) { /* the spend known before any job is taken */
        if (!(w->spend = sy_spend_open(&w->kafka, w->cfg, SY_TOPIC_SPEND, 30000, err, sizeof err))) {
            sy_error("budgets: %s", err);
            return fail(w, "cannot read the spend of the budgets");
        }
        wake_on(w, sy_spend_queue(w->spend));
    }
    if (subscribe(w) != 0) return fail(w, "cannot subscribe");
    if (wmetrics_start(w) != 0) return fail(w, "cannot serve --http");
    return 0;
}

/* What setup made (all of it, or as far as it got). */
static void teardown(worker *w)
{
    wmetrics_stop(w);
    if (w->consumer) sy_kafka_close_consumer(w->consumer, SY_KAFKA_CLOSE_MS);
    changelog_restore_cancel(w);
    sy_reaper_join(&w->reaper);
    if (w->changelog_producer && w->changelog_producer != w->producer) rd_kafka_destroy(w->changelog_producer);
    if (w->producer) rd_kafka_destroy(w->producer);
    sy_spend_close(w->spend);
    txn_free(w);
    batchio_free_all(w); /* its jobs unanswered: redone on restart */
    sy_engine_free(w->engine);
    run_abandon_all(w); /* unfinished: redelivered on restart */
    embed_free_all(w);
    sy_offsets_free(w->offsets);
    sy_flow_free(&w->flow);
    sy_timers_free(&w->timers);
    sy_buf_free(&w->record_scratch);
    sy_buf_free(&w->changelog_scratch);
    changelog_free(w);
    sy_keymap_free(&w->working);
    if (w->accounts) free_routing(w);
    wreload_free(w);
    sy_store_close(w->store);
    sy_loop_free(w->loop);
    if (w->wake_fd[0] >= 0) close(w->wake_fd[0]);
    if (w->wake_fd[1] >= 0) close(w->wake_fd[1]);
}

static void warn_real_keys(const sy_config *c)
{
    for (size_t i = 0; i < c->nproviders; i++)
        if (sy_provider_real_key_to_local(c->providers[i]))
            sy_warn("provider '%s': $%s looks like a real API key, but the base_url points at a "
                    "local or fake provider: the key is sent there (set the base URL, or a fake "
                    "key)", c->providers[i]->name, c->providers[i]->api_key_env);
}

int sy_worker_run(const worker_opts *opt, const sy_kafka_opts *kafka, const sy_config *cfg, sy_werr *err)
{
    worker *w = sy_xcalloc(1, sizeof *w);
    w->opt = *opt;
    w->kafka = *kafka;
    wreload_init(w, cfg); /* read only; the caller frees it */
    w->wake_fd[0] = w->wake_fd[1] = -1;
    warn_real_keys(w->cfg);
    int rc = 0;
    if (check_fd_limit(w) != 0) {
        sy_werr_set(&w->fatal, SY_WERR_FATAL, 1, "not enough file descriptors");
        *err = w->fatal;
        wreload_free(w);
        free(w);
        return 1;
    }
    if (setup(w) == 0) {
        sy_info("started: %d calls in flight at most, %d jobs held at most, %d per partition",
                w->opt.max_inflight, w->opt.max_jobs, w->opt.max_jobs_per_partition);
        batchio_start(w, &run_batch_hooks); /* the batches recorded before, and the jobs they own */
        while (running(w)) turn(w, TURN_INTAKE | TURN_CONSUMER, 100);
        if (!sy_werr_is_fatal(&w->fatal)) drain(w);
        report(w, true);
        sy_info("cpu %" PRId64 " us", sy_cpu_us());
    }
    if (sy_werr_is_fatal(&w->fatal)) {
        *err = w->fatal;
        rc = w->fatal.exit_code ? w->fatal.exit_code : 1;
    }
    teardown(w);
    free(w);
    return rc;
}
