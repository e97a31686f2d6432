/* scheduler_cmd.c -- `switchyard scheduler`: the command around the router.
 *
 * Top layer (cli/): parses the options, loads the pipelines, installs the
 * stop signals and runs the router (scheduler/scheduler.h), whose return
 * becomes the exit code: 0 after a clean stop, 1 when it could not start or
 * stopped on a fatal error (the reason is logged), 2 on a usage error. */
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "opts.h"
#include "provider.h" /* sy_provider_kinds */
#include "scheduler.h"
#include "signals.h"

static const char *usage =
    "usage: switchyard scheduler -p PIPELINE... [OPTIONS]\n"
    "Consume the jobs topic, route each job to its task's tier topic.\n\n"
    "  -p, --pipeline FILE   pipeline file (repeatable)\n"
    "      --jobs-topic T    input topic (default " SY_TOPIC_JOBS ")\n"
    "      --dlq-topic T     dead-letter topic (default " SY_TOPIC_DLQ ")\n"
    "      --group G         consumer group (default switchyard-scheduler)\n"
    "      --transactions    route in Kafka transactions (for real Kafka: the tier\n"
    "                        messages and the jobs-topic offsets commit together)\n"
    "      --no-watch        reload the pipelines on SIGHUP only, not when their files\n"
    "                        change (README, Reload)\n"
    "      --http ADDR:PORT  serve /metrics, /healthz, /readyz there (off by default;\n"
    "                        a non-loopback address needs $SWITCHYARD_HTTP_TOKEN)\n"
    "      --log-level L     debug|info|warn|error (default info); JSON lines unless\n"
    "                        stderr is a terminal (SWITCHYARD_LOG_FORMAT=text|json)\n"
    "  -h, --help            this help\n";

static int parse_opts(sched_opts *o, cli_pipelines *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_pipeline_opt(p, argc, argv, &i) || cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--jobs-topic")) o->jobs_topic = argv[++i];
        else if (v && !strcmp(a, "--dlq-topic")) o->dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--group")) o->group = argv[++i];
        else if (!strcmp(a, "--transactions")) o->transactions = true;
        else if (!strcmp(a, "--no-watch")) o->watch_pipelines = false;
        else if (v && !strcmp(a, "--http")) o->http = argv[++i];
        else if (v && !strcmp(a, "--log-level") && sy_log_level_parse(argv[i + 1]) >= 0)
            sy_log_set_level(sy_log_level_parse(argv[++i]));
        else return cli_bad_kafka_usage("scheduler", a, usage);
    }
    return cli_http_check("scheduler", o->http);
}

int cmd_scheduler(int argc, char **argv)
{
    sched_opts o = {.jobs_topic = SY_TOPIC_JOBS, .dlq_topic = SY_TOPIC_DLQ,
                    .group = "switchyard-scheduler", .watch_pipelines = true};
    cli_pipelines p = {0};
    sy_config cfg = {0};
    sy_log_init("scheduler", SY_LOG_INFO);
    int rc = parse_opts(&o, &p, argc, argv);
    if (rc) return rc;
    if (cli_load_pipelines(&p, 0, &cfg) != 0) return 1;
    sy_install_stop_signals();
    sy_install_reload_signal();
    o.pipeline_files = p.files;
    o.npipeline_files = p.n;
    o.kinds = sy_provider_kinds;
    rc = sched_run(&o, &cfg) == 0 ? 0 : 1;
    sy_config_free(&cfg);
    return rc;
}
