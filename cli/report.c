/* report.c -- `switchyard report`: cost, tokens, jobs, latency percentiles
 * and errors of result topics, grouped by any result field or metadata tag.
 *
 * Reads the result topics once to their end (topic_read.h), and the
 * dead-letter topic for the jobs that never reached a worker (a worker's
 * dead letter has a failed result already, which is what counts); each
 * message becomes one sample of base/report_agg.h, which does the
 * arithmetic under bounded memory. Values come from outside (job metadata,
 * model names): escaped for the terminal, quoted for CSV. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "job.h"
#include "log.h"
#include "msgpack_json.h"
#include "opts.h"
#include "report_agg.h"
#include "topic_read.h"
#include "util.h"

static const char *usage =
    "usage: switchyard report -t TOPIC [-t TOPIC...] [OPTIONS]\n"
    "Cost, tokens, jobs, latency percentiles and errors of result topics,\n"
    "grouped by result fields or metadata tags; reads the topics to their end.\n\n"
    "  -t, --topic T         a result topic (repeatable)\n"
    "      --by F[,F]        group by: task, model, model_name, provider, tier, status,\n"
    "                        error, prompt_id, prompt_version, strategy, or any metadata\n"
    "                        tag (team, workflow, ...); default: one group\n"
    "      --since T         results written at or after T (RFC 3339, or 30m, 2h, 7d ago)\n"
    "      --until T         results written before T\n"
    "      --format F        table (default), csv or json\n"
    "      --max-groups N    at most N groups; the rest under `other` (default 1000)\n"
    "      --dlq-topic T     dead letters of jobs that never reached a worker\n"
    "                        (default " SY_TOPIC_DLQ ")\n"
    "      --no-dlq          read no dead-letter topic\n"
    "      --timeout-ms N    give up when nothing arrives for N ms (default 10000)\n"
    "  -h, --help            this help\n";

#define MAX_TOPICS 32

typedef enum { TABLE, CSV, JSON } report_format;

typedef struct report_opts {
    sy_kafka_opts kafka;
    const char *topics[MAX_TOPICS + 1];
    size_t ntopics;
    const char *by[SY_AGG_MAX_BY];
    size_t nby;
    char *by_copy;
    const char *dlq_topic;
    int64_t since, until;
    long max_groups;
    int timeout_ms;
    report_format format;
} report_opts;

typedef struct report_run {
    const report_opts *o;
    sy_agg agg;
    sy_buf b;
    long unreadable;
} report_run;

static int split_by(report_opts *o, const char *list)
{
    free(o->by_copy);
    o->by_copy = sy_xstrdup(list);
    o->nby = 0;
    for (char *save = NULL, *f = strtok_r(o->by_copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (o->nby == SY_AGG_MAX_BY) return -1;
        o->by[o->nby++] = f;
    }
    return 0;
}

static int parse_opts(report_opts *o, int argc, char **argv)
{
    long n;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &i)) {
        } else if (v && (!strcmp(a, "--topic") || !strcmp(a, "-t")) && o->ntopics < MAX_TOPICS)
            o->topics[o->ntopics++] = argv[++i];
        else if (v && !strcmp(a, "--by") && split_by(o, argv[i + 1]) == 0) i++;
        else if (v && !strcmp(a, "--since") && cli_time_arg(argv[i + 1], &o->since)) i++;
        else if (v && !strcmp(a, "--until") && cli_time_arg(argv[i + 1], &o->until)) i++;
        else if (v && !strcmp(a, "--format") && !strcmp(argv[i + 1], "table")) o->format = TABLE, i++;
        else if (v && !strcmp(a, "--format") && !strcmp(argv[i + 1], "csv")) o->format = CSV, i++;
        else if (v && !strcmp(a, "--format") && !strcmp(argv[i + 1], "json")) o->format = JSON, i++;
        else if (v && !strcmp(a, "--max-groups") && cli_long_arg(argv[i + 1], 1, 1000000, &o->max_groups)) i++;
        else if (v && !strcmp(a, "--dlq-topic")) o->dlq_topic = argv[++i];
        else if (!strcmp(a, "--no-dlq")) o->dlq_topic = NULL;
        else if (v && !strcmp(a, "--timeout-ms") && cli_long_arg(argv[i + 1], 1, INT_MAX, &n)) {
            o->timeout_ms = (int)n;
            i++;
        } else return cli_bad_kafka_usage("report", a, usage);
    }
    if (!o->ntopics) return cli_bad_kafka_usage("report", "(missing --topic)", usage);
    return 0;
}

static const char *str_of(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The value of one --by field in a result (NULL when it has none). */
static const char *field(json_t *r, const char *name, char *buf, size_t len)
{
    static const char *const plain[] = {"task", "model", "model_name", "provider", "tier", "status", NULL};
    for (size_t i = 0; plain[i]; i++)
        if (!strcmp(name, plain[i])) return str_of(json_object_get(r, name));
    if (!strcmp(name, "error")) return str_of(json_object_get(json_object_get(r, "error"), "class"));
    if (!strcmp(name, "prompt_id")) return str_of(json_object_get(json_object_get(r, "prompt"), "id"));
    if (!strcmp(name, "strategy")) return str_of(json_object_get(json_object_get(r, "route"), "strategy"));
    if (!strcmp(name, "prompt_version")) {
        json_t *v = json_object_get(json_object_get(r, "prompt"), "version");
        if (!json_is_integer(v)) return NULL;
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return str_of(json_object_get(json_object_get(r, "metadata"), name));
}

static void add_result(report_run *run, json_t *r)
{
    char bufs[SY_AGG_MAX_BY][24];
    const char *values[SY_AGG_MAX_BY];
    for (size_t i = 0; i < run->o->nby; i++) values[i] = field(r, run->o->by[i], bufs[i], sizeof bufs[i]);
    json_t *tok = json_object_get(r, "tokens"), *lat = json_object_get(r, "latency_ms");
    sy_agg_sample s = {
        .ok = json_is_string(json_object_get(r, "status")) &&
              !strcmp(json_string_value(json_object_get(r, "status")), "ok"),
        .deduplicated = json_is_true(json_object_get(r, "deduplicated")),
        .tokens_in = json_integer_value(json_object_get(tok, "in")),
        .tokens_out = json_integer_value(json_object_get(tok, "out")),
        .cost_usd = json_number_value(json_object_get(r, "cost_usd")),
        .latency_ms = json_is_integer(lat) ? json_integer_value(lat) : -1,
        .error = str_of(json_object_get(json_object_get(r, "error"), "class")),
    };
    sy_agg_add(&run->agg, values, &s);
}

/* A dead letter that no worker wrote (no failed result stands for it):
 * grouped by what its job says, if it decodes. */
static void add_letter(report_run *run, const rd_kafka_message_t *m)
{
    char stage[16], klass[48];
    if (cli_header(m, "switchyard.stage", stage, sizeof stage) && !strcmp(stage, "worker")) return;
    sy_job job;
    char err[128];
    bool decoded = m->payload && sy_job_decode(m->payload, m->len, &job, err, sizeof err) == 0;
    const char *values[SY_AGG_MAX_BY];
    for (size_t i = 0; i < run->o->nby; i++) {
        const char *f = run->o->by[i];
        values[i] = !strcmp(f, "status") ? "failed"
                    : !strcmp(f, "error")  ? cli_header(m, "switchyard.error.class", klass, sizeof klass)
                    : !decoded             ? NULL
                    : !strcmp(f, "task")   ? job.task
                                           : sy_job_meta(&job, f);
    }
    sy_agg_sample s = {.latency_ms = -1,
                       .error = cli_header(m, "switchyard.error.class", klass, sizeof klass)};
    sy_agg_add(&run->agg, values, &s);
    if (decoded) sy_job_free(&job);
}

static int on_message(const rd_kafka_message_t *m, void *arg)
{
    report_run *run = arg;
    if (!cli_in_window(m, run->o->since, run->o->until)) return 0;
    if (run->o->dlq_topic && !strcmp(rd_kafka_topic_name(m->rkt), run->o->dlq_topic)) {
        add_letter(run, m);
        return 0;
    }
    const char *p = m->payload;
    json_t *r = NULL;
    if (p && m->len && p[0] == '{') {
        r = json_loadb(p, m->len, JSON_ALLOW_NUL, NULL);
    } else if (p && m->len) {
        sy_buf_reset(&run->b);
        if (sy_msgpack_to_json(p, m->len, &run->b) == 0) r = json_loadb(run->b.data, run->b.len, JSON_ALLOW_NUL, NULL);
    }
    if (json_is_object(r)) add_result(run, r);
    else run->unreadable++;
    json_decref(r);
    return 0;
}

/* ---- output ---- */

static void csv_cell(const char *s)
{
    /* A leading =, +, -, @ would be a formula to a spreadsheet. */
    bool formula = s[0] && strchr("=+-@\t\r", s[0]) && strcmp(s, "-");
    putchar('"');
    if (formula) putchar('\'');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void errors_text(const sy_agg_group *g, sy_buf *b)
{
    sy_buf_reset(b);
    for (size_t i = 0; i < g->nclasses; i++)
        sy_buf_printf(b, "%s%s:%lld", i ? " " : "", g->classes[i].name, (long long)g->classes[i].n);
    sy_buf_putc(b, 0);
}

static void print_table(const report_run *run, sy_agg_group **v, size_t n)
{
    const report_opts *o = run->o;
    for (size_t i = 0; i < o->nby; i++) printf("%-18.18s ", o->by[i]);
    printf("%7s %7s %7s %6s %10s %10s %12s %7s %7s %7s  %s\n", "jobs", "ok", "failed", "dedup",
           "tokens_in", "tokens_out", "cost_usd", "p50_ms", "p95_ms", "p99_ms", "errors");
    sy_buf e;
    sy_buf_init(&e);
    char cellbuf[19];
    for (size_t k = 0; k <= n; k++) {
        const sy_agg_group *g = k < n ? v[k] : &run->agg.total;
        if (k == n && o->nby) printf("%-*s", (int)(19 * o->nby), "TOTAL");
        for (size_t i = 0; k < n && i < o->nby; i++) {
            sy_escape_ctl(cellbuf, sizeof cellbuf, g->values[i], strlen(g->values[i]));
            printf("%-18.18s ", cellbuf);
        }
        errors_text(g, &e);
        char errs[200];
        sy_escape_ctl(errs, sizeof errs, e.data, strlen(e.data));
        printf("%7lld %7lld %7lld %6lld %10lld %10lld %12.6f %7lld %7lld %7lld  %s\n", (long long)g->jobs,
               (long long)g->ok, (long long)g->failed, (long long)g->deduplicated, (long long)g->tokens_in,
               (long long)g->tokens_out, g->cost_usd, (long long)sy_hist_quantile(&g->latency, 0.5),
               (long long)sy_hist_quantile(&g->latency, 0.95), (long long)sy_hist_quantile(&g->latency, 0.99),
               errs);
    }
    sy_buf_free(&e);
}

static void print_csv(const report_run *run, sy_agg_group **v, size_t n)
{
    const report_opts *o = run->o;
    for (size_t i = 0; i < o->nby; i++) {
        csv_cell(o->by[i]);
        putchar(',');
    }
    puts("jobs,ok,failed,deduplicated,tokens_in,tokens_out,cost_usd,p50_ms,p95_ms,p99_ms,errors");
    sy_buf e;
    sy_buf_init(&e);
    for (size_t k = 0; k < n; k++) {
        const sy_agg_group *g = v[k];
        for (size_t i = 0; i < o->nby; i++) {
            csv_cell(g->values[i]);
            putchar(',');
        }
        printf("%lld,%lld,%lld,%lld,%lld,%lld,%.9f,%lld,%lld,%lld,", (long long)g->jobs, (long long)g->ok,
               (long long)g->failed, (long long)g->deduplicated, (long long)g->tokens_in,
               (long long)g->tokens_out, g->cost_usd, (long long)sy_hist_quantile(&g->latency, 0.5),
               (long long)sy_hist_quantile(&g->latency, 0.95), (long long)sy_hist_quantile(&g->latency, 0.99));
        errors_text(g, &e);
        csv_cell(e.data);
        putchar('\n');
    }
    sy_buf_free(&e);
}

static void group_json(const report_opts *o, const sy_agg_group *g, sy_buf *b)
{
    sy_buf_putc(b, '{');
    if (g->values[0]) {
        sy_buf_puts(b, "\"values\":{");
        for (size_t i = 0; i < o->nby; i++) {
            if (i) sy_buf_putc(b, ',');
            sy_buf_json_key(b, o->by[i]);
            sy_buf_json_cstr(b, g->values[i]);
        }
        sy_buf_puts(b, "},");
    }
    sy_buf_printf(b, "\"jobs\":%lld,\"ok\":%lld,\"failed\":%lld,\"deduplicated\":%lld,\"tokens_in\":%lld,"
                  "\"tokens_out\":%lld,\"cost_usd\":", (long long)g->jobs, (long long)g->ok, (long long)g->failed,
                  (long long)g->deduplicated, (long long)g->tokens_in, (long long)g->tokens_out);
    sy_buf_json_double(b, g->cost_usd);
    sy_buf_printf(b, ",\"latency_ms\":{\"p50\":%lld,\"p95\":%lld,\"p99\":%lld},\"errors\":{",
                  (long long)sy_hist_quantile(&g->latency, 0.5), (long long)sy_hist_quantile(&g->latency, 0.95),
                  (long long)sy_hist_quantile(&g->latency, 0.99));
    for (size_t i = 0; i < g->nclasses; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_json_key(b, g->classes[i].name);
        sy_buf_json_int(b, g->classes[i].n);
    }
    sy_buf_puts(b, "}}");
}

static void print_json(const report_run *run, sy_agg_group **v, size_t n)
{
    sy_buf b;
    sy_buf_init(&b);
    sy_buf_puts(&b, "{\"by\":[");
    for (size_t i = 0; i < run->o->nby; i++) {
        if (i) sy_buf_putc(&b, ',');
        sy_buf_json_cstr(&b, run->o->by[i]);
    }
    sy_buf_puts(&b, "],\"groups\":[");
    for (size_t k = 0; k < n; k++) {
        if (k) sy_buf_putc(&b, ',');
        group_json(run->o, v[k], &b);
    }
    sy_buf_puts(&b, "],\"total\":");
    group_json(run->o, &run->agg.total, &b);
    sy_buf_printf(&b, ",\"unreadable\":%ld}\n", run->unreadable);
    fwrite(b.data, 1, b.len, stdout);
    sy_buf_free(&b);
}

int cmd_report(int argc, char **argv)
{
    report_opts o = {.dlq_topic = SY_TOPIC_DLQ, .max_groups = 1000, .timeout_ms = 10000};
    int rc = parse_opts(&o, argc, argv);
    if (rc) {
        free(o.by_copy);
        return rc;
    }
    sy_log_init("report", SY_LOG_WARN);
    sy_install_stop_signals();
    report_run run = {.o = &o};
    sy_agg_init(&run.agg, o.nby, (size_t)o.max_groups);
    sy_buf_init(&run.b);
    size_t nt = o.ntopics;
    if (o.dlq_topic) o.topics[nt++] = o.dlq_topic;
    rc = cli_read_topics(&o.kafka, "report", o.topics, nt, o.timeout_ms, on_message, &run);
    if (rc >= 0) {
        size_t n;
        sy_agg_group **v = sy_agg_sorted(&run.agg, &n);
        if (o.format == CSV) print_csv(&run, v, n);
        else if (o.format == JSON) print_json(&run, v, n);
        else print_table(&run, v, n);
        free(v);
        if (run.unreadable) fprintf(stderr, "switchyard report: %ld message(s) were not results\n", run.unreadable);
    }
    sy_agg_free(&run.agg);
    sy_buf_free(&run.b);
    free(o.by_copy);
    return rc ? 1 : 0;
}
