/* main.c -- the switchyard binary: pick a subcommand and run it.
 *
 *   job in -> scheduler (route by task) -> tier topic -> worker (execute,
 *   store) -> output topic; broker/submit/results/check/demo are the tools
 *   around that path. See README.md. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"broker", cmd_broker, "run the embedded Kafka broker (demo and tests)"},
    {"scheduler", cmd_scheduler, "route jobs from the jobs topic to tier topics"},
    {"worker", cmd_worker, "execute jobs of tier topics against the providers"},
    {"submit", cmd_submit, "submit jobs from JSONL or CSV"},
    {"results", cmd_results, "read results from an output topic"},
    {"topics", cmd_topics, "list, check and create the Kafka topics of pipelines"},
    {"check", cmd_check, "validate pipeline files"},
    {"prompts", cmd_prompts, "list the prompt registry: prompt files, versions, tasks using them"},
    {"demo", cmd_demo, "run the whole pipeline on the embedded defaults"},
    {"state", cmd_state, "inspect a worker's job state (unfinished jobs, keys)"},
    {"dlq", cmd_dlq, "list, show and requeue dead letters"},
    {"report", cmd_report, "cost, tokens, latency and errors of result topics, by any field"},
    {"status", cmd_status, "a refreshing view of running workers and schedulers (their /metrics)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: switchyard COMMAND [OPTIONS]   (switchyard COMMAND --help)\n"
                 "       switchyard --version\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].what);
}

/* jemalloc's settings when the binary is linked with it (CMakeLists.txt;
 * MALLOC_CONF in the environment still overrides): one arena, as the work
 * is on one thread, and freed pages given back within a second, so that a
 * worker's memory follows its calls in flight (bench/README.md). */
const char *malloc_conf = "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0";

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("switchyard %s\n", SY_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "switchyard: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
