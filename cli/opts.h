/* opts.h -- option handling shared by the subcommands. */
#ifndef SY_CLI_OPTS_H
#define SY_CLI_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "kafka.h"
#include "pipeline.h"

#define CLI_MAX_PIPELINES 64

typedef struct cli_pipelines {
    const char *files[CLI_MAX_PIPELINES];
    size_t n;
} cli_pipelines;

/* Consume "-p FILE" / "--pipeline FILE" at argv[*i]; 1 if consumed. */
int cli_pipeline_opt(cli_pipelines *p, int argc, char **argv, int *i);
/* Load and validate; prints every error as file:line:column. 0 or -1. */
int cli_load_pipelines(const cli_pipelines *p, int flags, sy_config *cfg);
/* The options every Kafka-connected subcommand shares: --help (prints
 * usage and the connection options, exits 0) and -b/--brokers-file/-X.
 * Returns 1 when argv[*i] was one of them. */
int cli_kafka_cmd_opt(sy_kafka_opts *k, const char *usage, int argc, char **argv, int *i);
/* Is argv[i] --help / -h? */
bool cli_is_help(const char *arg);
/* Print "switchyard CMD: unknown option X" and the usage; returns 2. */
int cli_bad_usage(const char *cmd, const char *arg, const char *usage);
/* The same for a Kafka-connected subcommand: the usage then includes the
 * connection options (-b/--brokers, --brokers-file, -X). */
int cli_bad_kafka_usage(const char *cmd, const char *arg, const char *usage);
/* Is s a whole decimal number in lo..hi? Then *out is set. */
bool cli_long_arg(const char *s, long lo, long hi, long *out);
/* --http ADDR:PORT of CMD: well formed, and a non-loopback address only
 * with $SWITCHYARD_HTTP_TOKEN set (base/httpd.h). NULL spec: off, fine.
 * 0, or 2 after printing why (a usage error: nothing started). */
int cli_http_check(const char *cmd, const char *spec);
/* Write text to path atomically (tmp file + rename). 0 or -1. */
int cli_write_file_atomic(const char *path, const char *text);

#endif
