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
 * message) is acknowledged by the broker: a crash re-routes, never loses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/cli.h"
#include "../cli/opts.h"
#include "deadletter.h"
#include "job.h"
#include "kafka.h"
#include "kafka_admin.h"
#include "log.h"
#include "offsets.h"
#include "pipeline.h"
#include "util.h"

static const char *usage =
    "usage: switchyard scheduler -p PIPELINE... [OPTIONS]\n"
    "Consume the jobs topic, route each job to its task's tier topic.\n\n"
    "  -p, --pipeline FILE   pipeline file (repeatable)\n"
    "      --jobs-topic T    input topic (default " SY_TOPIC_JOBS ")\n"
    "      --dlq-topic T     dead-letter topic (default " SY_TOPIC_DLQ ")\n"
    "      --group G         consumer group (default switchyard-scheduler)\n"
    "      --log-level L     debug|info|warn|error (default info)\n"
    "  -h, --help            this help\n";

typedef struct scheduler {
    sy_config cfg;
    sy_kafka_opts kafka;
    const char *jobs_topic, *dlq_topic, *group;
    rd_kafka_t *consumer, *producer;
    sy_offsets *offsets;
    uint64_t routed, dead, failed_deliveries;
} scheduler;

/* A produce's opaque carries the input offset's handle. */
static void *handle_to_opaque(sy_offset_handle h)
{
    return (void *)(uintptr_t)(((uint64_t)h.part << 40) | h.seq);
}

static sy_offset_handle opaque_to_handle(void *p)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    return (sy_offset_handle){.part = (uint32_t)(v >> 40), .seq = v & ((1ULL << 40) - 1)};
}

/* Delivery report: done, or send again (the input offset stays uncommitted
 * until it is). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    scheduler *s = opaque;
    if (!m->err) {
        sy_offsets_done(s->offsets, opaque_to_handle(m->_private));
        return;
    }
    s->failed_deliveries++;
    sy_warn("delivery to %s failed (%s); producing again", rd_kafka_topic_name(m->rkt),
            rd_kafka_err2str(m->err));
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == 0) h = rd_kafka_headers_copy(h);
    sy_kafka_produce(rk, rd_kafka_topic_name(m->rkt), m->key, m->key_len, m->payload, m->len,
                     h, m->_private);
}

static void dead_letter(scheduler *s, const rd_kafka_message_t *m, sy_err_class c,
                        const char *why, void *opaque)
{
    sy_dead_letter d = {
        .stage = "scheduler", .src_topic = rd_kafka_topic_name(m->rkt),
        .src_partition = m->partition, .src_offset = m->offset, .key = m->key,
        .keylen = m->key_len, .value = m->payload, .len = m->len, .error_class = c,
        .message = why,
    };
    sy_debug("dead letter %s[%" PRId32 "]@%" PRId64 ": %s", d.src_topic, m->partition, m->offset, why);
    s->dead++;
    sy_dead_letter_produce(s->producer, s->dlq_topic, &d, opaque);
}

static void route(scheduler *s, const rd_kafka_message_t *m)
{
    sy_offset_handle h = sy_offsets_track(s->offsets, rd_kafka_topic_name(m->rkt), m->partition,
                                          m->offset);
    void *opaque = handle_to_opaque(h);
    sy_job job;
    char err[512];
    if (sy_job_decode(m->payload, m->len, &job, err, sizeof err) != 0) {
        dead_letter(s, m, SY_ERR_INVALID_JOB, err, opaque);
        return;
    }
    const sy_task *task = sy_config_task(&s->cfg, job.task);
    if (!task) {
        snprintf(err, sizeof err, "unknown task '%.200s'", job.task);
        dead_letter(s, m, SY_ERR_UNKNOWN_TASK, err, opaque);
    } else {
        rd_kafka_headers_t *hd = rd_kafka_headers_new(1);
        rd_kafka_header_add(hd, "switchyard.task", -1, job.task, -1);
        sy_kafka_produce(s->producer, task->tier->topic, job.idempotency_key,
                         strlen(job.idempotency_key), m->payload, m->len, hd, opaque);
        s->routed++;
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
        sy_kafka_flush(s->producer, 10000);
        sy_offsets_commit(s->offsets, rk, false);
        for (int i = 0; i < parts->cnt; i++)
            sy_offsets_revoke(s->offsets, parts->elems[i].topic, parts->elems[i].partition);
    }
    sy_kafka_apply_rebalance(rk, e, parts);
}

static int parse_opts(scheduler *s, cli_pipelines *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_pipeline_opt(p, argc, argv, &i) || cli_kafka_cmd_opt(&s->kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--jobs-topic")) s->jobs_topic = argv[++i];
        else if (v && !strcmp(a, "--dlq-topic")) s->dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--group")) s->group = argv[++i];
        else if (v && !strcmp(a, "--log-level") && sy_log_level_parse(argv[i + 1]) >= 0)
            sy_log_set_level(sy_log_level_parse(argv[++i]));
        else return cli_bad_usage("scheduler", a, usage);
    }
    return 0;
}

static int connect_kafka(scheduler *s)
{
    char err[512];
    s->producer = sy_kafka_producer(&s->kafka, on_delivery, s, err, sizeof err);
    if (s->producer)
        s->consumer = sy_kafka_consumer(&s->kafka, s->group, on_rebalance, s, err, sizeof err);
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
    sy_topic_plan_build(&s->cfg, SY_TK_JOBS | SY_TK_DLQ | SY_TK_TIER, s->jobs_topic, s->dlq_topic,
                        &plan);
    int rc = sy_cluster_verify(s->producer, &plan, "scheduler", NULL);
    sy_topic_plan_free(&plan);
    return rc;
}

static void run_loop(scheduler *s)
{
    int64_t last_commit = 0, last_report = sy_mono_us();
    while (!sy_stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 50);
        for (int n = 0; m && n < 1000; n++) {
            consume_one(s, m);
            m = n + 1 < 1000 ? rd_kafka_consumer_poll(s->consumer, 0) : NULL;
        }
        if (m) consume_one(s, m);
        rd_kafka_poll(s->producer, 0);
        int64_t now = sy_mono_us();
        if (now - last_commit > 100000) {
            sy_offsets_commit(s->offsets, s->consumer, true);
            last_commit = now;
        }
        if (now - last_report > 10000000) {
            sy_info("routed %" PRIu64 ", dead-lettered %" PRIu64, s->routed, s->dead);
            last_report = now;
        }
    }
}

static void shutdown_cleanly(scheduler *s)
{
    sy_info("stopping: flushing and committing");
    int left = sy_kafka_flush(s->producer, 30000);
    if (left) sy_warn("%d message(s) undelivered; their jobs will be routed again", left);
    sy_offsets_commit(s->offsets, s->consumer, false);
    rd_kafka_consumer_close(s->consumer);
    rd_kafka_destroy(s->consumer);
    rd_kafka_destroy(s->producer);
    sy_info("routed %" PRIu64 ", dead-lettered %" PRIu64 ", cpu %" PRId64 " us", s->routed,
            s->dead, sy_cpu_us());
}

int cmd_scheduler(int argc, char **argv)
{
    scheduler s = {.jobs_topic = SY_TOPIC_JOBS, .dlq_topic = SY_TOPIC_DLQ,
                   .group = "switchyard-scheduler"};
    cli_pipelines p = {0};
    sy_log_init("scheduler", SY_LOG_INFO);
    int rc = parse_opts(&s, &p, argc, argv);
    if (rc) return rc;
    if (cli_load_pipelines(&p, 0, &s.cfg) != 0) return 1;
    s.offsets = sy_offsets_new();
    sy_install_stop_signals();
    if (connect_kafka(&s) != 0 || check_topics(&s) != 0) {
        if (s.consumer) rd_kafka_destroy(s.consumer);
        if (s.producer) rd_kafka_destroy(s.producer);
        sy_offsets_free(s.offsets);
        sy_config_free(&s.cfg);
        return 1;
    }
    sy_info("routing %s -> %zu tier topic(s)", s.jobs_topic, s.cfg.ntiers);
    run_loop(&s);
    shutdown_cleanly(&s);
    sy_offsets_free(s.offsets);
    sy_config_free(&s.cfg);
    return 0;
}
