/* broker.c -- `switchyard broker`: the embedded Kafka broker.
 *
 * Wraps librdkafka's mock cluster (rdkafka_mock.h): real Kafka protocol over
 * TCP on 127.0.0.1, so kcat, Python clients and switchyard itself talk to it
 * as to any broker. Its ports are random, so the bootstrap list goes to
 * stdout and (atomically) to --brokers-file. Every topic switchyard uses is
 * pre-created, because the mock cluster auto-creates any topic a metadata
 * request names (with 4 partitions): a typo would silently make a new topic.
 *
 * It is for the demo and tests only. What it fakes (transactions, compaction,
 * retention beyond a ~5 MB ring per partition) is listed in the embedded
 * broker note; switchyard's correctness does not rest on any of it. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_port.h"
#include "cli.h"
#include "kafka.h"
#include "keymap.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "topicplan.h"

static const char *usage =
    "usage: switchyard broker [OPTIONS]\n"
    "Run the embedded Kafka broker (librdkafka mock cluster) until SIGINT/SIGTERM.\n\n"
    "  -p, --pipeline FILE      create the tier and output topics of this pipeline (repeatable)\n"
    "      --partitions N       partitions per topic (default 6)\n"
    "      --topic NAME[:N]     also create this topic (repeatable; one that exists is kept)\n"
    "      --brokers N          number of brokers in the cluster (default 1)\n"
    "      --brokers-file FILE  write the bootstrap list here (atomically)\n"
    "      --port N             also accept clients on 127.0.0.1:N (bootstrap: 127.0.0.1:N)\n"
    "      --deny-topic NAME    answer metadata for NAME with TOPIC_AUTHORIZATION_FAILED\n"
    "                           (tests: a topic the clients may not write; repeatable)\n"
    "      --rtt-ms N           answer every request N ms late, 0..10000 (tests: a slow\n"
    "                           network or a loaded cluster)\n"
    "  -h, --help               this help\n";

#define MAX_EXTRA_TOPICS 64

typedef struct broker_opts {
    cli_pipelines pipelines;
    int partitions;
    int nbrokers;
    const char *brokers_file;
    const char *extra[MAX_EXTRA_TOPICS];
    int nextra;
    long port;
    const char *denied[MAX_EXTRA_TOPICS];
    int ndenied;
    long rtt_ms;
} broker_opts;

static int parse_opts(broker_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            exit(0);
        } else if (cli_pipeline_opt(&o->pipelines, argc, argv, &i)) {
        } else if (has_val && !strcmp(a, "--partitions")) o->partitions = atoi(argv[++i]);
        else if (has_val && !strcmp(a, "--brokers")) o->nbrokers = atoi(argv[++i]);
        else if (has_val && !strcmp(a, "--brokers-file")) o->brokers_file = argv[++i];
        else if (has_val && !strcmp(a, "--port") && cli_long_arg(argv[i + 1], 1, 65535, &o->port)) i++;
        else if (has_val && !strcmp(a, "--rtt-ms") && cli_long_arg(argv[i + 1], 0, 10000, &o->rtt_ms)) i++;
        else if (has_val && !strcmp(a, "--topic") && o->nextra < MAX_EXTRA_TOPICS)
            o->extra[o->nextra++] = argv[++i];
        else if (has_val && !strcmp(a, "--deny-topic") && o->ndenied < MAX_EXTRA_TOPICS)
            o->denied[o->ndenied++] = argv[++i];
        else return cli_bad_usage("broker", a, usage);
    }
    if (o->partitions < 1 || o->partitions > 1000 || o->nbrokers < 1 || o->nbrokers > 9) {
        fprintf(stderr, "switchyard broker: --partitions must be 1..1000, --brokers 1..9\n");
        return 2;
    }
    return 0;
}

/* The topics created so far: a name given twice (--topic naming a topic a
 * pipeline or switchyard itself already needs) is kept as it is. */
static sy_keymap created;

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, int partitions)
{
    intptr_t had = (intptr_t)sy_keymap_get(&created, name);
    if (had) {
        if (had != partitions)
            sy_warn("topic %s exists with %d partitions; keeping it (not %d)", name, (int)had,
                    partitions);
        return 0;
    }
    sy_keymap_put(&created, name, (void *)(intptr_t)partitions);
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, partitions, 1);
    if (e) {
        sy_error("cannot create topic %s: %s", name, rd_kafka_err2str(e));
        return -1;
    }
    sy_info("topic %s (%d partitions)", name, partitions);
    return 0;
}

/* "name" or "name:N". */
static int create_extra_topic(rd_kafka_mock_cluster_t *mc, const char *spec, int partitions)
{
    char name[256];
    snprintf(name, sizeof name, "%s", spec);
    char *colon = strrchr(name, ':');
    if (colon) {
        *colon = '\0';
        partitions = atoi(colon + 1);
    }
    return create_topic(mc, name, partitions > 0 ? partitions : 1);
}

/* Every topic of the pipelines (topicplan.h: changelogs with their tier
 * topic's partition count, which is the same here), then the extra ones. */
static int create_topics(rd_kafka_mock_cluster_t *mc, const broker_opts *o, const sy_config *cfg)
{
    sy_topic_plan plan;
    sy_topic_plan_build(cfg, SY_TK_ALL, SY_TOPIC_JOBS, SY_TOPIC_DLQ, &plan);
    int bad = 0;
    for (size_t i = 0; i < plan.n; i++) bad |= create_topic(mc, plan.v[i].name, o->partitions);
    sy_topic_plan_free(&plan);
    for (int i = 0; i < o->nextra; i++) bad |= create_extra_topic(mc, o->extra[i], o->partitions);
    return bad ? -1 : 0;
}

int cmd_broker(int argc, char **argv)
{
    broker_opts o = {.partitions = 6, .nbrokers = 1};
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc;
    sy_log_init("broker", SY_LOG_INFO);
    sy_config cfg = {0};
    sy_keymap_init(&created);
    if (o.pipelines.n && cli_load_pipelines(&o.pipelines, 0, &cfg) != 0) return 1;

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* This handle only hosts the mock cluster: it connects nowhere, and
     * librdkafka's notice that it has no bootstrap.servers (CONFWARN,
     * level 5) would only alarm. Warnings and errors still show. */
    rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        sy_error("cannot start: %s", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.nbrokers);
    if (!mc || create_topics(mc, &o, &cfg) != 0) {
        sy_error("cannot start the mock cluster");
        return 1;
    }
    for (int i = 0; i < o.ndenied; i++)
        rd_kafka_mock_topic_set_error(mc, o.denied[i], RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    for (int id = 1; o.rtt_ms && id <= o.nbrokers; id++) rd_kafka_mock_broker_set_rtt(mc, id, (int)o.rtt_ms);
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    char fixed[64];
    if (o.port) {
        if (broker_port_start((int)o.port, bootstrap, err, sizeof err) != 0) {
            sy_error("%s", err);
            return 1;
        }
        snprintf(fixed, sizeof fixed, "127.0.0.1:%ld", o.port);
        bootstrap = fixed;
    }
    printf("bootstrap=%s\n", bootstrap);
    fflush(stdout);
    char line[1100];
    snprintf(line, sizeof line, "%s\n", bootstrap);
    if (o.brokers_file && cli_write_file_atomic(o.brokers_file, line) != 0) {
        sy_error("cannot write %s", o.brokers_file);
        return 1;
    }
    sy_info("embedded broker ready at %s", bootstrap);

    sy_install_stop_signals();
    while (!sy_stop_requested) pause();

    sy_info("stopping");
    if (o.brokers_file) unlink(o.brokers_file);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    sy_config_free(&cfg);
    sy_keymap_free(&created);
    return 0;
}
