/* opts.c -- see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "provider.h" /* sy_provider_kinds: the kinds a pipeline may use */

int cli_pipeline_opt(cli_pipelines *p, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (*i + 1 >= argc || (strcmp(a, "-p") && strcmp(a, "--pipeline"))) return 0;
    if (p->n == CLI_MAX_PIPELINES) {
        fprintf(stderr, "switchyard: too many pipeline files (at most %d)\n", CLI_MAX_PIPELINES);
        exit(2);
    }
    p->files[p->n++] = argv[++*i];
    return 1;
}

int cli_load_pipelines(const cli_pipelines *p, int flags, sy_config *cfg)
{
    if (p->n == 0) {
        fprintf(stderr, "switchyard: no pipeline files given (-p FILE)\n");
        return -1;
    }
    sy_diags diags = {0};
    int rc = sy_config_load(cfg, sy_provider_kinds, p->files, p->n, flags, &diags);
    if (rc != 0) sy_diags_print(&diags, stderr);
    sy_diags_free(&diags);
    return rc;
}

int cli_kafka_cmd_opt(sy_kafka_opts *k, const char *usage, int argc, char **argv, int *i)
{
    if (cli_is_help(argv[*i])) {
        printf("%s%s", usage, sy_kafka_opts_usage);
        exit(0);
    }
    return sy_kafka_opt_parse(k, argc, argv, i);
}

bool cli_is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int cli_bad_usage(const char *cmd, const char *arg, const char *usage)
{
    fprintf(stderr, "switchyard %s: unknown or incomplete option '%s'\n%s", cmd, arg, usage);
    return 2;
}

int cli_bad_kafka_usage(const char *cmd, const char *arg, const char *usage)
{
    cli_bad_usage(cmd, arg, usage);
    fputs(sy_kafka_opts_usage, stderr);
    return 2;
}

bool cli_long_arg(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int cli_write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fputs(text, f);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int cli_http_check(const char *cmd, const char *spec)
{
    char host[16];
    int port;
    if (!spec) return 0;
    if (!sy_http_addr_parse(spec, host, &port)) {
        fprintf(stderr, "switchyard %s: --http wants IPV4:PORT (e.g. 127.0.0.1:9464)\n", cmd);
        return 2;
    }
    const char *token = getenv(SY_HTTP_TOKEN_ENV);
    if (!sy_http_addr_local(host) && !(token && *token)) {
        fprintf(stderr, "switchyard %s: --http %s is not a loopback address: set %s to the bearer "
                "token scrapers must send (every path but /healthz asks for it)\n", cmd, host, SY_HTTP_TOKEN_ENV);
        return 2;
    }
    return 0;
}
