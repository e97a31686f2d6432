/* scheduler.c -- `switchyard scheduler`: route jobs to model tiers.
 *
 * Data path: jobs topic -> [decode, look up task -> tier] -> tier topic.
 *
 * The scheduler is a thin, stateless router. It decodes each job only to
 * validate it and find its task; the job's bytes go on unchanged, keyed by
 * the idempotency key, so every copy of one logical job lands on the same
 * tier partition and therefore the same worker (which is what makes the
 * worker's idempotency store sufficient). Jobs that cannot be routed
 * (undecodable, unknown task) go to the dead-letter topic with the reason.
 * An input offset is committed only once its output (tier or dead-letter
 * message) is acknowledged by the broker: a crash re-routes, never loses.
 * Each tier message carries the job's jobs-topic coordinates (origin.h),
 * so the worker can release a copy routed again after such a crash; with
 * --transactions (route_txn.c) the copies do not arise on a real Kafka.
 * A job the Kafka client or broker refuses for good on its tier topic (too
 * large, not authorised) is dead-lettered as unroutable; produce errors that
 * may pass are retried a bounded number of times.
 *
 * Below cli/: sched_run takes parsed options and the loaded pipelines, runs
 * until the stop flag (stop.h) is set or a fatal error, and returns; the
 * command (cli/scheduler_cmd.c) owns arguments, signals and the exit code.
 * On SIGHUP or a change of the pipeline files the config is loaded again
 * (config/cfgreload.h) and replaces the running one if it is valid. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgreload.h"
#include "deadletter.h"
#include "job.h"
#include "kafka.h"
#include "kafka_admin.h"
#include "log.h"
#include "offsets.h"
#include "origin.h"
#include "pipeline.h"
#include "route_txn.h"
#include "sched_metrics.h"
#include "sched_state.h"
#include "scheduler.h"
#include "stop.h"
#include "util.h"

/* A produce's opaque carries the input offset's handle and how many times
 * the message was produced again: part (20 bits), retries (4), seq (40). */
#define RELOAD_SETTLE_US 150000 /* a file change: wait this long for more writes */

static void *handle_to_opaque(sy_offset_handle h, int retries)
{
    return (void *)(uintptr_t)(((uint64_t)h.part << 44) | ((uint64_t)retries << 40) | h.seq);
}

static sy_offset_handle opaque_to_handle(void *p)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    return (sy_offset_handle){.part = (uint32_t)(v >> 44), .seq = v & ((1ULL << 40) - 1)};
}

static int opaque_retries(void *p)
{
    return (int)(((uint64_t)(uintptr_t)p >> 40) & 15);
}

static void dead_letter_at(scheduler *s, const char *topic, int32_t partition, int64_t offset,
                           const void *key, size_t keylen, const void *value, size_t len,
                           sy_err_class c, const char *why, void *opaque)
{
    sy_dead_letter d = {
        .stage = "scheduler", .src_topic = topic, .src_partition = partition,
        .src_offset = offset, .key = key, .keylen = keylen, .value = value, .len = len,
        .error_class = c, .message = why,
    };
    sy_debug("dead letter %s[%" PRId32 "]@%" PRId64 ": %s", topic, partition, offset, why);
    s->dead++;
    if (c >= 0 && c < SY_ERR_COUNT) s->dead_by_class[c]++;
    if (sy_dead_letter_produce(s->producer, s->dlq_topic, &d, opaque) != 0)
        sy_offsets_done(s->offsets, opaque_to_handle(opaque)); /* lost (logged): never stuck */
}

static void dead_letter(scheduler *s, const rd_kafka_message_t *m, sy_err_class c,
                        const char *why, void *opaque)
{
    dead_letter_at(s, rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key, m->key_len,
                   m->payload, m->len, c, why, opaque);
}

/* The client or broker refused a routed job for good (larger than
 * message.max.bytes, not authorised on the tier topic, ...): it goes to
 * the dead-letter topic instead, under its jobs-topic coordinates. */
static void unroutable(scheduler *s, const char *tier_topic, const char *src_topic,
                       int32_t partition, int64_t offset, const void *key, size_t keylen,
                       const void *value, size_t len, int err, void *opaque)
{
    char why[400];
    snprintf(why, sizeof why, "the job (%zu bytes) could not be routed to %s: %s", len, tier_topic,
             rd_kafka_err2str((rd_kafka_resp_err_t)err));
    sy_warn("%s[%" PRId32 "]@%" PRId64 ": %s; dead-lettered", src_topic, partition, offset, why);
    dead_letter_at(s, src_topic, partition, offset, key, keylen, value, len, SY_ERR_UNROUTABLE,
                   why, opaque);
}

/* A tier message's delivery failed for good: its job, from the origin
 * headers the message carries. */
static void unroutable_report(scheduler *s, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    char origin[SY_ORIGIN_MAX], topic[SY_ORIGIN_MAX] = "?";
    int32_t partition = -1;
    int64_t offset = -1;
    if (rd_kafka_message_headers(m, &h) == 0 && sy_origin_of(h, origin))
        sy_origin_parse(origin, topic, &partition, &offset);
    unroutable(s, rd_kafka_topic_name(m->rkt), topic, partition, offset, m->key, m->key_len,
               m->payload, m->len, (int)m->err, m->_private);
}

/* Delivery report: done; or produce again while the error may pass (a
 * bounded number of times); or, refused for good, its substitute: a
 * routed job becomes a dead letter, a dead letter goes out truncated, and
 * if even that fails the offset is released all the same (deadletter.c
 * says why). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    scheduler *s = opaque;
    sy_offset_handle h = opaque_to_handle(m->_private);
    if (!m->err) {
        sy_offsets_done(s->offsets, h);
        return;
    }
    s->failed_deliveries++;
    if (s->txn) {
        sched_txn_on_failure(s, m);
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    int tries = opaque_retries(m->_private);
    if (sy_kafka_err_retriable(m->err) && tries < SY_PRODUCE_RETRIES) {
        sy_warn("delivery to %s failed (%s); producing again (%d of %d)", topic,
                rd_kafka_err2str(m->err), tries + 1, SY_PRODUCE_RETRIES);
        rd_kafka_headers_t *hd = NULL;
        if (rd_kafka_message_headers(m, &hd) == 0) hd = rd_kafka_headers_copy(hd);
        if (sy_kafka_produce(rk, topic, m->key, m->key_len, m->payload, m->len, hd,
                             handle_to_opaque(h, tries + 1)) == 0)
            return;
    }
    if (strcmp(topic, s->dlq_topic) != 0) unroutable_report(s, m);
    else if (sy_dead_letter_truncate(rk, m) != 0) sy_offsets_done(s->offsets, h);
}

static void route(scheduler *s, const rd_kafka_message_t *m)
{
    const char *src = rd_kafka_topic_name(m->rkt);
    sy_offset_handle h = sy_offsets_track(s->offsets, src, m->partition, m->offset);
    void *opaque = handle_to_opaque(h, 0);
    sy_job job;
    char err[512];
    if (sy_job_decode(m->payload, m->len, &job, err, sizeof err) != 0) {
        dead_letter(s, m, SY_ERR_INVALID_JOB, err, opaque);
        return;
    }
    const sy_task *task = sy_config_task(s->cfg, job.task);
    if (!task) {
        snprintf(err, sizeof err, "unknown task '%.200s'", job.task);
        dead_letter(s, m, SY_ERR_UNKNOWN_TASK, err, opaque);
    } else {
        rd_kafka_headers_t *hd = rd_kafka_headers_new(4);
        rd_kafka_header_add(hd, "switchyard.task", -1, job.task, -1);
        sy_origin_add_headers(hd, src, m->partition, m->offset);
        int e = sy_kafka_produce(s->producer, task->tier->topic, job.idempotency_key,
                                 strlen(job.idempotency_key), m->payload, m->len, hd, opaque);
        if (e) unroutable(s, task->tier->topic, src, m->partition, m->offset, m->key, m->key_len,
                          m->payload, m->len, e, opaque);
        else {
            s->routed++;
            if (s->routed_by_task) s->routed_by_task[task->index]++;
        }
    }
    sy_job_free(&job);
}

static void consume_one(scheduler *s, rd_kafka_message_t *m)
{
    if (!m->err) route(s, m);
    else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        sy_warn("consumer: %s", rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    scheduler *s = opaque;
    if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        /* Finish what we routed for these partitions, then commit it. */
        if (s->txn) sched_txn_commit(s);
        else {
            sy_kafka_flush(s->producer, 10000);
            sy_offsets_commit(s->offsets, rk, false);
        }
        for (int i = 0; i < parts->cnt; i++)
            sy_offsets_revoke(s->offsets, parts->elems[i].topic, parts->elems[i].partition);
    }
    sy_kafka_apply_rebalance(rk, e, parts);
}

static int connect_kafka(scheduler *s, bool transactions)
{
    char err[512];
    s->producer = transactions ? sched_txn_producer(s, on_delivery, err, sizeof err)
                               : sy_kafka_producer(s->kafka, on_delivery, s, err, sizeof err);
    if (s->producer)
        s->consumer = sy_kafka_consumer(s->kafka, s->group, on_rebalance, s, err, sizeof err);
    if (!s->producer || !s->consumer) {
        sy_error("cannot connect to Kafka: %s", err);
        return -1;
    }
    return sy_kafka_subscribe(s->consumer, &s->jobs_topic, 1);
}

/* The topics this scheduler reads and writes exist and fit (kafka_admin.h). */
static int check_topics(scheduler *s)
{
    sy_topic_plan plan;
    sy_topic_plan_build(s->cfg, SY_TK_JOBS | SY_TK_DLQ | SY_TK_TIER, s->jobs_topic, s->dlq_topic,
                        &plan);
    int rc = sy_cluster_verify(s->producer, &plan, "scheduler", NULL);
    sy_topic_plan_free(&plan);
    return rc;
}

/* SIGHUP, or a pipeline file changed and settled: load them again. */
static void reload(scheduler *s, const char *why)
{
    const sched_opts *o = s->opts;
    if (!o->npipeline_files) return;
    sy_config neu = {0};
    if (sy_config_reload(s->cfg, o->kinds, o->pipeline_files, o->npipeline_files, 0, why, &neu) != 0) {
        s->reloads_failed++;
        return;
    }
    if (s->owned_cfg) sy_config_free(s->owned_cfg);
    else s->owned_cfg = sy_xcalloc(1, sizeof *s->owned_cfg);
    *s->owned_cfg = neu;
    s->cfg = s->owned_cfg;
    s->reloads_ok++;
    sy_info("reload (%s): pipelines loaded again (%zu task(s), %zu tier(s))", why, s->cfg->ntasks,
            s->cfg->ntiers);
}

static void check_reload(scheduler *s, int64_t now)
{
    if (sy_reload_requested) {
        sy_reload_requested = 0;
        reload(s, "SIGHUP");
    }
    if (s->watch && sy_cfg_watch_drain(s->watch)) s->reload_due_us = now + RELOAD_SETTLE_US;
    if (s->reload_due_us && now >= s->reload_due_us) {
        s->reload_due_us = 0;
        reload(s, "a pipeline file changed");
    }
}

static void run_loop(scheduler *s)
{
    int64_t last_commit = 0, last_report = sy_mono_us();
    while (!sy_stop_requested && !s->fatal) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 50);
        for (int n = 0; m; n++) {
            consume_one(s, m);
            m = n + 1 < 1000 && !s->fatal ? rd_kafka_consumer_poll(s->consumer, 0) : NULL;
        }
        rd_kafka_poll(s->producer, 0);
        int64_t now = sy_mono_us();
        check_reload(s, now);
        sched_metrics_tick(s, now);
        if (now - last_commit > 100000) {
            if (s->txn) sched_txn_commit(s);
            else sy_offsets_commit(s->offsets, s->consumer, true);
            last_commit = now;
        }
        if (now - last_report > 10000000) {
            char line[100];
            snprintf(line, sizeof line, "routed %" PRIu64 ", dead-lettered %" PRIu64, s->routed, s->dead);
            if (sy_log_repeat_due(&s->stats_logged, line, now, SY_LOG_REPEAT_US)) sy_info("%s", line);
            last_report = now;
        }
    }
}

/* Flush and commit what is done (nothing more after a fatal error), then
 * leave the group. */
static void shut_down(scheduler *s)
{
    if (s->fatal) {
        sy_info("stopping after the fatal error: nothing more is committed");
    } else if (s->txn) {
        sy_info("stopping: flushing and committing");
        sched_txn_commit(s);
    } else {
        sy_info("stopping: flushing and committing");
        int left = sy_kafka_flush(s->producer, 30000);
        if (left) sy_warn("%d message(s) undelivered; their jobs will be routed again", left);
        sy_offsets_commit(s->offsets, s->consumer, false);
    }
    sy_kafka_close_consumer(s->consumer, SY_KAFKA_CLOSE_MS);
    rd_kafka_destroy(s->producer);
    sched_txn_free(s);
    sy_info("routed %" PRIu64 ", dead-lettered %" PRIu64 ", cpu %" PRId64 " us", s->routed,
            s->dead, sy_cpu_us());
}

int sched_run(const sched_opts *o, const sy_config *cfg)
{
    scheduler s = {.cfg = cfg, .kafka = &o->kafka, .jobs_topic = o->jobs_topic,
                   .dlq_topic = o->dlq_topic, .group = o->group, .opts = o};
    if (o->watch_pipelines && o->npipeline_files &&
        !(s.watch = sy_cfg_watch_open(o->pipeline_files, o->npipeline_files)))
        sy_warn("cannot watch the pipeline files (%s): they reload on SIGHUP only", strerror(errno));
    s.offsets = sy_offsets_new();
    int rc = -1;
    s.http_spec = o->http;
    if (connect_kafka(&s, o->transactions) == 0 && check_topics(&s) == 0 && sched_metrics_start(&s) == 0) {
        sy_info("routing %s -> %zu tier topic(s)", s.jobs_topic, cfg->ntiers);
        run_loop(&s);
        sched_metrics_stop(&s); /* before the clients it probes go */
        shut_down(&s); /* its last commit may fail fatally too */
        rc = s.fatal ? -1 : 0;
    } else {
        if (s.consumer) rd_kafka_destroy(s.consumer);
        if (s.producer) rd_kafka_destroy(s.producer);
        sched_txn_free(&s);
    }
    sched_metrics_stop(&s);
    sy_offsets_free(s.offsets);
    sy_cfg_watch_close(s.watch);
    if (s.owned_cfg) sy_config_free(s.owned_cfg);
    free(s.owned_cfg);
    return rc;
}
