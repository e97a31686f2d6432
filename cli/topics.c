/* topics.c -- `switchyard topics`: the Kafka topics a pipeline needs, as the
 * cluster has them, and creating the missing ones.
 *
 * Lists the jobs, dead-letter, tier, changelog and result topics of the
 * given pipelines (names from topicplan.c) with their partition counts and
 * whether changelogs are compacted; every mismatch is an error naming the
 * topic and the fix (exit 1). --create makes the missing ones with the Admin
 * API (CreateTopics): changelogs compacted, with their tier topic's
 * partition count. The embedded broker (`switchyard broker`) creates its
 * topics itself and has no Admin API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kafka.h"
#include "kafka_admin.h"
#include "log.h"
#include "opts.h"
#include "topicplan.h"
#include "util.h"

static const char *usage =
    "usage: switchyard topics -p PIPELINE... [OPTIONS]\n"
    "List and check the Kafka topics the pipelines need; create the missing ones.\n\n"
    "  -p, --pipeline FILE      pipeline file (repeatable)\n"
    "      --create             create the missing topics (Admin API; changelogs compacted,\n"
    "                           with their tier topic's partition count)\n"
    "      --partitions N       partitions of a created topic (default 6)\n"
    "      --replication R      replication factor of a created topic (default: 3, or the\n"
    "                           number of brokers when fewer)\n"
    "      --config [TOPIC:]KEY=VALUE  topic config of every created topic, or of TOPIC\n"
    "                           (repeatable), e.g. --config retention.ms=604800000\n"
    "      --jobs-topic NAME    default switchyard.jobs\n"
    "      --dlq-topic NAME     default switchyard.dlq\n"
    "      --timeout-ms MS      for each admin request (default 30000)\n"
    "  exit status: 0 every topic fits, 1 a topic is missing or does not fit, 2 usage\n";

#define MAX_CONFIGS 32

typedef struct topics_opts {
    cli_pipelines pipelines;
    sy_kafka_opts kafka;
    int create, partitions, replication, timeout_ms;
    const char *jobs_topic, *dlq_topic;
    const char *configs[MAX_CONFIGS];
    int nconfigs;
} topics_opts;

static int parse_opts(topics_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_pipeline_opt(&o->pipelines, argc, argv, &i) ||
            cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &i)) {
        } else if (!strcmp(a, "--create")) o->create = 1;
        else if (v && !strcmp(a, "--partitions")) o->partitions = atoi(argv[++i]);
        else if (v && !strcmp(a, "--replication")) o->replication = atoi(argv[++i]);
        else if (v && !strcmp(a, "--timeout-ms")) o->timeout_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--jobs-topic")) o->jobs_topic = argv[++i];
        else if (v && !strcmp(a, "--dlq-topic")) o->dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--config") && o->nconfigs < MAX_CONFIGS && strchr(argv[i + 1], '='))
            o->configs[o->nconfigs++] = argv[++i];
        else return cli_bad_usage("topics", a, usage);
    }
    if (o->partitions < 1 || o->partitions > 10000 || o->replication < 0 ||
        o->replication > 100 || o->timeout_ms < 1000) {
        fprintf(stderr, "switchyard topics: --partitions 1..10000, --replication 1..100, "
                        "--timeout-ms at least 1000\n");
        return 2;
    }
    return 0;
}

static void print_problem(bool warn, const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s: %s\n", warn ? "warning" : "error", msg);
}

static void print_table(const sy_topic_plan *p, const sy_cluster_view *v)
{
    printf("%-48s %-12s %10s  %-9s  %s\n", "TOPIC", "KIND", "PARTITIONS", "COMPACTED",
           "MAX MESSAGE BYTES");
    for (size_t i = 0; i < p->n; i++) {
        const sy_topic_seen *s = &v->seen[i];
        char parts[16];
        if (s->partitions < 0) snprintf(parts, sizeof parts, "missing");
        else snprintf(parts, sizeof parts, "%d", s->partitions);
        char maxb[24] = "?";
        if (s->max_message_bytes >= 0) snprintf(maxb, sizeof maxb, "%lld", s->max_message_bytes);
        printf("%-48s %-12s %10s  %-9s  %s\n", p->v[i].name, sy_topic_kind_name(p->v[i].kind),
               parts, s->compact < 0 ? "?" : s->compact ? "yes" : "no", maxb);
    }
    if (!v->admin)
        printf("(this broker does not serve DescribeConfigs: compaction and auto-creation "
               "not checked)\n");
}

static bool any_missing(const sy_topic_plan *p, const sy_cluster_view *v)
{
    for (size_t i = 0; i < p->n; i++)
        if (v->seen[i].partitions < 0) return true;
    return false;
}

/* A created topic reaches every broker's metadata a little after
 * CreateTopics answers: look again until all are there, or timeout_ms. */
static int observe_created(rd_kafka_t *rk, const sy_topic_plan *p, int timeout_ms,
                           sy_cluster_view *v, char *err, size_t errlen)
{
    int64_t until = sy_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (sy_cluster_observe(rk, p, timeout_ms, v, err, errlen) != 0) return -1;
        if (!any_missing(p, v) || sy_mono_us() >= until) return 0;
        sy_cluster_view_free(v);
        usleep(200 * 1000);
    }
}

int cmd_topics(int argc, char **argv)
{
    topics_opts o = {.partitions = 6, .timeout_ms = 30000, .jobs_topic = SY_TOPIC_JOBS,
                     .dlq_topic = SY_TOPIC_DLQ};
    sy_log_init("topics", SY_LOG_INFO);
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc;
    sy_config cfg = {0};
    if (cli_load_pipelines(&o.pipelines, 0, &cfg) != 0) return 1;
    sy_topic_plan plan;
    sy_topic_plan_build(&cfg, SY_TK_ALL, o.jobs_topic, o.dlq_topic, &plan);

    char err[512];
    rd_kafka_t *rk = sy_kafka_admin_client(&o.kafka, err, sizeof err);
    sy_cluster_view v = {0};
    rc = 1;
    if (!rk) {
        sy_error("cannot connect to Kafka: %s", err);
    } else if (sy_cluster_observe(rk, &plan, o.timeout_ms, &v, err, sizeof err) != 0) {
        sy_error("%s", err);
    } else {
        int failed = 0;
        if (o.create) {
            int rf = o.replication ? o.replication : v.nbrokers < 3 ? (v.nbrokers ? v.nbrokers : 1) : 3;
            failed = sy_cluster_create(rk, &plan, &v, o.partitions, rf, o.configs, o.nconfigs,
                                       o.timeout_ms);
            sy_cluster_view_free(&v);
            if (observe_created(rk, &plan, o.timeout_ms, &v, err, sizeof err) != 0 ||
                sy_cluster_await_leaders(rk, &plan, &v, o.timeout_ms, err, sizeof err) != 0) {
                sy_error("%s", err);
                failed++;
            }
        }
        if (v.seen) {
            print_table(&plan, &v);
            int errors = sy_topic_plan_check(&plan, v.seen, v.auto_create, print_problem, NULL);
            rc = errors || failed ? 1 : 0;
        }
    }
    sy_cluster_view_free(&v);
    if (rk) rd_kafka_destroy(rk);
    sy_topic_plan_free(&plan);
    sy_config_free(&cfg);
    return rc;
}
