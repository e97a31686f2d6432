/* worker_cmd.c -- `switchyard worker`: the command line of the worker.
 *
 * Parses the options into a worker_opts (worker_run.h), turns core dumps
 * off before the API keys are read, loads the pipelines, installs the stop
 * signals (SIGINT/SIGTERM: drain and stop; a second one exits at once) and
 * runs the worker (worker/worker.c). The worker returns rather than exits;
 * this file turns what it returns into the exit code: 0 after a clean
 * stop, 1 when it could not start or stopped on a fatal error, 2 on a
 * usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli.h"
#include "log.h"
#include "opts.h"
#include "worker_run.h"

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
    "      --commit-interval-ms N  let the group commit of job state wait up to N ms\n"
    "                        (0..1000) for more jobs to share its write and fsync\n"
    "                        (default 5; 0: every loop turn). Costs results up to N ms of\n"
    "                        latency, never durability: nothing that depends on a\n"
    "                        commit is sent before it (docs/durability.md)\n"
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
    "      --no-watch        reload the pipelines on SIGHUP only, not when their files\n"
    "                        change (README, Reload)\n"
    "      --core-dumps      allow core dumps (off by default: a worker's memory holds\n"
    "                        the API keys); SWITCHYARD_CORE_DUMPS=1 does the same\n"
    "      --http ADDR:PORT  serve /metrics, /healthz, /readyz there (off by default; e.g.\n"
    "                        127.0.0.1:9464). A non-loopback address needs the bearer\n"
    "                        token in $SWITCHYARD_HTTP_TOKEN (README, Metrics and health)\n"
    "      --metrics-tags A,B  job metadata tags whose values label cost and job counts\n"
    "                        (default team,workflow; 50 values per tag, the rest: other)\n"
    "      --log-level L     debug|info|warn|error (default info); logs are JSON lines\n"
    "                        unless stderr is a terminal (SWITCHYARD_LOG_FORMAT=text|json)\n"
    "  -h, --help            this help\n"
    "API keys come from the environment variables the pipeline names (api_key_env).\n";

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

/* --commit-interval-ms N: 0..1000. */
static bool interval_arg(const char *s, int *out)
{
    long v;
    if (!cli_long_arg(s, 0, 1000, &v)) return false;
    *out = (int)v;
    return true;
}

static int parse_opts(worker_opts *o, sy_kafka_opts *kafka, cli_pipelines *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_pipeline_opt(p, argc, argv, &i) || cli_kafka_cmd_opt(kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--tiers")) o->tiers = argv[++i];
        else if (v && !strcmp(a, "--group")) o->group = argv[++i];
        else if (v && !strcmp(a, "--max-inflight")) o->max_inflight = atoi(argv[++i]);
        else if (v && !strcmp(a, "--max-jobs")) o->max_jobs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--max-jobs-per-partition")) o->max_jobs_per_partition = atoi(argv[++i]);
        else if (v && !strcmp(a, "--grace-ms")) o->grace_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--revoke-grace-ms")) o->revoke_grace_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--dlq-topic")) o->dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--http")) o->http = argv[++i];
        else if (v && !strcmp(a, "--metrics-tags")) o->metrics_tags = argv[++i];
        else if (v && !strcmp(a, "--state-dir")) o->state_dir = argv[++i];
        else if (v && !strcmp(a, "--state-map-mb")) o->state_map_mb = (size_t)atol(argv[++i]);
        else if (v && !strcmp(a, "--account-share") && share_arg(argv[i + 1], &o->account_share)) i++;
        else if (!strcmp(a, "--no-changelog")) o->changelog = false;
        else if (!strcmp(a, "--transactions")) o->transactions = true;
        else if (!strcmp(a, "--core-dumps")) o->core_dumps = true;
        else if (!strcmp(a, "--no-watch")) o->watch_pipelines = false;
        else if (v && !strcmp(a, "--max-answer-bytes") && bytes_arg(argv[i + 1], 1024, 1L << 30, &o->max_answer_bytes)) i++;
        else if (v && !strcmp(a, "--max-header-bytes") && bytes_arg(argv[i + 1], 1024, 1L << 30, &o->max_header_bytes)) i++;
        else if (v && !strcmp(a, "--fsync") && (!strcmp(argv[i + 1], "always") || !strcmp(argv[i + 1], "never")))
            o->fsync = !strcmp(argv[++i], "always");
        else if (v && !strcmp(a, "--commit-interval-ms") && interval_arg(argv[i + 1], &o->commit_interval_ms)) i++;
        else if (v && !strcmp(a, "--key-ttl-s")) o->key_ttl_ms = atoll(argv[++i]) * 1000;
        else if (v && !strcmp(a, "--log-level") && sy_log_level_parse(argv[i + 1]) >= 0)
            sy_log_set_level(sy_log_level_parse(argv[++i]));
        else return cli_bad_kafka_usage("worker", a, usage);
    }
    if (o->max_inflight < 1 || o->max_inflight > 100000) {
        fprintf(stderr, "switchyard worker: --max-inflight must be 1..100000\n");
        return 2;
    }
    const char *dumps = getenv("SWITCHYARD_CORE_DUMPS");
    if (dumps && !strcmp(dumps, "1")) o->core_dumps = true;
    if (cli_http_check("worker", o->http)) return 2;
    if (o->max_jobs <= 0) o->max_jobs = 8 * o->max_inflight;
    if (o->max_jobs_per_partition <= 0) o->max_jobs_per_partition = 2 * o->max_inflight;
    return 0;
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
    worker_opts opt = {.max_inflight = 1024, .grace_ms = 30000, .revoke_grace_ms = 10000,
                       .group = "switchyard-workers", .dlq_topic = SY_TOPIC_DLQ,
                       .state_dir = "switchyard-state", .state_map_mb = 4096, .account_share = 1,
                       .changelog = true, .fsync = true, .commit_interval_ms = 5, .key_ttl_ms = 7LL * 24 * 3600 * 1000,
                       .max_answer_bytes = 4 << 20, .max_header_bytes = 64 << 10,
                       .metrics_tags = "team,workflow", .watch_pipelines = true};
    sy_kafka_opts kafka = {0};
    cli_pipelines p = {0};
    sy_config cfg = {0};
    sy_log_init("worker", SY_LOG_INFO);
    int rc = parse_opts(&opt, &kafka, &p, argc, argv);
    if (rc) return rc;
    if (!opt.core_dumps) no_core_dumps(); /* before the keys are read */
    if (cli_load_pipelines(&p, SY_LOAD_REQUIRE_KEYS, &cfg) != 0) return 1;
    sy_install_stop_signals();
    sy_install_reload_signal();
    opt.pipeline_files = p.files;
    opt.npipeline_files = p.n;
    sy_werr err = {0};
    rc = sy_worker_run(&opt, &kafka, &cfg, &err);
    sy_config_free(&cfg);
    return rc;
}
