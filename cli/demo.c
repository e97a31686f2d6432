/* demo.c -- `switchyard demo`: the whole pipeline on the embedded defaults.
 *
 * Starts the embedded broker, the fake provider, a scheduler and a worker as
 * separate processes (exactly what a deployment runs, on loopback), submits
 * the example data, follows the results on the output topics and the
 * dead-letter topic, prints a summary (jobs per task, tier and model,
 * latency p50/p99, tokens, cost by team) and stops everything cleanly.
 * With --real it skips the fake provider and uses the providers' real URLs
 * and the API keys from the environment. Logs go to files in a temporary
 * directory, removed at the end unless something failed (or --keep).
 * It runs from any directory: the pipelines and examples are found next to
 * the binary (a build directory in the source tree) or under the install
 * prefix (share/switchyard).
 *
 * Then, with the fake provider, the mixed pipeline (pipelines/mixed.yaml,
 * loaded from the start with the two others): examples/mixed.jsonl's jobs
 * on Anthropic synchronously, on OpenAI's Batch API, on the same model
 * synchronously and on an OpenAI-compatible server (the fake provider
 * serves all three), summarised with the cost per job by tier and the
 * batch tier's cost against its synchronous twin's. --real skips it (it
 * needs a self-hosted server). */
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kafka.h"
#include "log.h"
#include "msgpack_json.h"
#include "opts.h"
#include "proc.h"
#include "signals.h"
#include "util.h"

static const char *usage =
    "usage: switchyard demo [OPTIONS]\n"
    "Run broker, fake provider, scheduler and worker; submit the examples; summarise;\n"
    "then the mixed pipeline (mixed.yaml: cost per job by tier, batch against sync).\n\n"
    "      --pipelines DIR   pipeline directory (default: ./pipelines, else the one\n"
    "                        of the source tree or install prefix of this binary)\n"
    "      --examples DIR    example data directory (default: found the same way)\n"
    "      --latency-ms N    fake provider latency (default 150, plus up to 300 jitter)\n"
    "      --real            call the real providers (needs OPENAI_API_KEY and\n"
    "                        ANTHROPIC_API_KEY; costs money); no mixed pipeline\n"
    "      --timeout-s N     give up waiting for results after N s (default 300)\n"
    "      --keep            keep the temporary directory (logs, state) at the end\n"
    "  -h, --help            this help\n";

typedef struct demo {
    const char *pipelines_dir, *examples_dir;
    int latency_ms, timeout_s;
    bool real, keep;
    char tmp[256], self[1024], brokers_file[300], port_file[300];
    char pipelines_found[1100], examples_found[1100];
    char pipe_a[512], pipe_b[512], pipe_c[512]; /* pipe_c: mixed.yaml, "" with --real */
    pid_t fake, broker, scheduler, worker;
    sy_config cfg;
} demo;

/* ---- tallies ---------------------------------------------------------- */

#define MAX_ROWS 64

typedef struct tally {
    char name[96];
    long jobs;
    long tokens_in, tokens_out;
    double cost;
} tally;

typedef struct summary {
    tally by_route[MAX_ROWS]; int nroute; /* task / tier / model */
    tally by_team[MAX_ROWS];  int nteam;
    tally by_tier[MAX_ROWS];  int ntier;
    long ok, failed, dead, dedup;
    double *latency; size_t nlat, caplat;
} summary;

static tally *tally_get(tally *rows, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(rows[i].name, name)) return &rows[i];
    if (*n == MAX_ROWS) return &rows[MAX_ROWS - 1];
    tally *t = &rows[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static void tally_add(tally *t, long in, long out, double cost)
{
    t->jobs++;
    t->tokens_in += in;
    t->tokens_out += out;
    t->cost += cost;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void count_result(summary *s, json_t *r)
{
    json_t *tok = json_object_get(r, "tokens");
    long in = (long)json_integer_value(json_object_get(tok, "in"));
    long out = (long)json_integer_value(json_object_get(tok, "out"));
    double cost = json_number_value(json_object_get(r, "cost_usd"));
    char route[96];
    snprintf(route, sizeof route, "%s / %s / %s", jstr(r, "task"), jstr(r, "tier"),
             jstr(r, "model"));
    tally_add(tally_get(s->by_route, &s->nroute, route), in, out, cost);
    tally_add(tally_get(s->by_tier, &s->ntier, jstr(r, "tier")), in, out, cost);
    json_t *meta = json_object_get(r, "metadata");
    const char *team = json_string_value(json_object_get(meta, "team"));
    tally_add(tally_get(s->by_team, &s->nteam, team ? team : "(none)"), in, out, cost);
    if (!strcmp(jstr(r, "status"), "ok")) s->ok++;
    else s->failed++;
    if (json_is_true(json_object_get(r, "deduplicated"))) s->dedup++;
    if (s->nlat == s->caplat) {
        s->caplat = s->caplat ? s->caplat * 2 : 1024;
        s->latency = sy_xrealloc(s->latency, s->caplat * sizeof(double));
    }
    s->latency[s->nlat++] = (double)json_integer_value(json_object_get(r, "latency_ms"));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(summary *s, double p)
{
    if (!s->nlat) return 0;
    qsort(s->latency, s->nlat, sizeof(double), cmp_double);
    size_t i = (size_t)(p * (double)(s->nlat - 1) + 0.5);
    return s->latency[i];
}

static int cmp_tally(const void *a, const void *b)
{
    return strcmp(((const tally *)a)->name, ((const tally *)b)->name);
}

static void print_tallies(const char *title, tally *rows, int n)
{
    qsort(rows, (size_t)n, sizeof *rows, cmp_tally);
    printf("\n  %-52s %7s %10s %10s %10s\n", title, "jobs", "tok in", "tok out", "cost $");
    for (int i = 0; i < n; i++)
        printf("  %-52s %7ld %10ld %10ld %10.4f\n", rows[i].name, rows[i].jobs,
               rows[i].tokens_in, rows[i].tokens_out, rows[i].cost);
}

static void print_summary(summary *s, long submitted, double secs)
{
    printf("\n== switchyard demo summary ==\n");
    printf("  submitted %ld jobs; %ld ok, %ld failed, %ld dead letters (%ld deduplicated) "
           "in %.1f s (%.0f jobs/s)\n",
           submitted, s->ok, s->failed, s->dead, s->dedup, secs,
           secs > 0 ? (double)(s->ok + s->failed) / secs : 0.0);
    printf("  latency p50 %.0f ms, p99 %.0f ms\n", percentile(s, 0.50), percentile(s, 0.99));
    print_tallies("task / tier / model", s->by_route, s->nroute);
    print_tallies("team", s->by_team, s->nteam);
}

/* ---- processes ---------------------------------------------------------- */

static int wait_for_file(const char *path, int timeout_ms, pid_t pid)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > 0) return 0;
        if (proc_exited(pid)) return -1;
        usleep(50 * 1000);
    }
    return -1;
}

static int start_fake_provider(demo *d)
{
    char bin[1100], lat[16], log[300];
    snprintf(bin, sizeof bin, "%s/fake-provider", d->self);
    if (access(bin, X_OK) != 0) /* installed: PREFIX/libexec/switchyard */
        snprintf(bin, sizeof bin, "%s/../libexec/switchyard/fake-provider", d->self);
    if (getenv("SWITCHYARD_FAKE_PROVIDER")) snprintf(bin, sizeof bin, "%s", getenv("SWITCHYARD_FAKE_PROVIDER"));
    snprintf(lat, sizeof lat, "%d", d->latency_ms);
    snprintf(log, sizeof log, "%s/fake-provider.log", d->tmp);
    char *argv[] = {bin, "--port", "0", "--port-file", d->port_file, "--latency-ms", lat,
                    "--jitter-ms", "300", "--batch-ms", "1000", NULL};
    d->fake = proc_start(argv, log);
    char port[32] = "";
    FILE *f = NULL;
    if (d->fake < 0 || wait_for_file(d->port_file, 10000, d->fake) != 0 ||
        !(f = fopen(d->port_file, "r")) || !fgets(port, sizeof port, f)) {
        if (f) fclose(f);
        fprintf(stderr, "demo: the fake provider did not start (see %s)\n", log);
        return -1;
    }
    fclose(f);
    port[strcspn(port, "\r\n")] = '\0';
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/v1", port);
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    setenv("OPENAI_API_KEY", "demo-openai-key", 1);
    setenv("ANTHROPIC_API_KEY", "demo-anthropic-key", 1);
    /* mixed.yaml: its OpenAI-compatible server is the fake one too, and its
     * batch tier sends a batch half a second after its first job (the
     * fake provider answers a batch after a second) */
    setenv("COMPAT_BASE_URL", url, 1);
    setenv("VLLM_API_KEY", "demo-vllm-key", 1);
    setenv("BATCH_WAIT_MS", "500", 0);
    setenv("BATCH_POLL_MS", "250", 0);
    printf("  fake provider   %s (latency %d-%d ms)\n", url, d->latency_ms, d->latency_ms + 300);
    return 0;
}

static pid_t start_switchyard(demo *d, const char *cmd, const char *log_name, char **extra)
{
    char bin[1100], log[300];
    snprintf(bin, sizeof bin, "%s/switchyard", d->self);
    snprintf(log, sizeof log, "%s/%s.log", d->tmp, log_name);
    char *argv[24] = {bin, (char *)cmd, "-p", d->pipe_a, "-p", d->pipe_b};
    int n = 6;
    if (d->pipe_c[0]) {
        argv[n++] = "-p";
        argv[n++] = d->pipe_c;
    }
    if (strcmp(cmd, "broker")) {
        argv[n++] = "--brokers-file";
        argv[n++] = d->brokers_file;
    }
    for (int i = 0; extra && extra[i] && n < 23; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return proc_start(argv, log);
}

static int start_pipeline(demo *d)
{
    char *broker_extra[] = {"--brokers-file", d->brokers_file, NULL};
    d->broker = start_switchyard(d, "broker", "broker", broker_extra);
    if (d->broker < 0 || wait_for_file(d->brokers_file, 10000, d->broker) != 0) {
        fprintf(stderr, "demo: the broker did not start (see %s/broker.log)\n", d->tmp);
        return -1;
    }
    printf("  embedded broker started (bootstrap list in %s)\n", d->brokers_file);
    char state[300];
    snprintf(state, sizeof state, "%s/state", d->tmp);
    char *worker_extra[] = {"--state-dir", state, NULL};
    d->scheduler = start_switchyard(d, "scheduler", "scheduler", NULL);
    d->worker = start_switchyard(d, "worker", "worker", worker_extra);
    printf("  scheduler and worker started\n");
    return d->scheduler > 0 && d->worker > 0 ? 0 : -1;
}

static void stop_all(demo *d)
{
    if (d->worker > 0) proc_stop(d->worker, 35000);
    if (d->scheduler > 0) proc_stop(d->scheduler, 15000);
    if (d->broker > 0) proc_stop(d->broker, 5000);
    if (d->fake > 0) proc_stop(d->fake, 5000);
}

static int submit_file(demo *d, const char *name)
{
    char bin[1100], path[512];
    snprintf(bin, sizeof bin, "%s/switchyard", d->self);
    snprintf(path, sizeof path, "%s/%s", d->examples_dir, name);
    char *a[] = {bin, "submit", "--brokers-file", d->brokers_file, path, NULL};
    printf("\n");
    fflush(stdout); /* the children write to the same stdout */
    return proc_run(a);
}

static int submit_examples(demo *d)
{
    char bin[1100], csv[512];
    snprintf(bin, sizeof bin, "%s/switchyard", d->self);
    snprintf(csv, sizeof csv, "%s/documents.csv", d->examples_dir);
    char *b[] = {bin, "submit", "--brokers-file", d->brokers_file, "--task", "summarize",
                 "--meta-columns", "team", "--metadata", "workflow=doc-digest", csv, NULL};
    int rc = submit_file(d, "tickets.jsonl");
    if (rc == 0) rc = proc_run(b);
    return rc;
}

/* ---- results ------------------------------------------------------------ */

static long topic_message_count(rd_kafka_t *rk, const char *topic)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    long total = 0;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int p = 0; md->topic_cnt && p < md->topics[0].partition_cnt; p++) {
            int64_t lo = 0, hi = 0;
            if (!rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000)) total += hi - lo;
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return total;
}

static rd_kafka_t *results_reader(demo *d)
{
    sy_kafka_opts ko = {.brokers_file = d->brokers_file};
    char err[512];
    rd_kafka_t *rk = sy_kafka_consumer(&ko, "switchyard-demo-reader", NULL, NULL, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "demo: %s\n", err);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(32);
    for (size_t i = 0; i < d->cfg.ntasks; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(d->cfg.tasks[j]->output_topic, d->cfg.tasks[i]->output_topic);
        for (int p = 0; !seen && p < 6; p++)
            rd_kafka_topic_partition_list_add(l, d->cfg.tasks[i]->output_topic, p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    for (int p = 0; p < 6; p++)
        rd_kafka_topic_partition_list_add(l, SY_TOPIC_DLQ, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static void take_message(summary *s, const rd_kafka_message_t *m, sy_buf *json)
{
    if (!strcmp(rd_kafka_topic_name(m->rkt), SY_TOPIC_DLQ)) {
        s->dead++;
        return;
    }
    sy_buf_reset(json);
    if (m->len && ((const char *)m->payload)[0] == '{') sy_buf_append(json, m->payload, m->len);
    else if (sy_msgpack_to_json(m->payload, m->len, json) != 0) return;
    json_t *r = json_loadb(json->data, json->len, 0, NULL);
    if (r) count_result(s, r);
    json_decref(r);
}

static void progress(const summary *s, long expected, bool final)
{
    static int64_t last_us;
    static long last_done = -1;
    long done = s->ok + s->failed;
    int64_t now = sy_mono_us();
    bool tty = isatty(2);
    if (!final && (done == last_done || now - last_us < (tty ? 100000 : 2000000))) return;
    last_us = now;
    last_done = done;
    int width = 30, fill = expected ? (int)(done * width / expected) : 0;
    fprintf(stderr, "%s  results [%.*s%*s] %ld/%ld (%ld failed, %ld dead letters)%s", tty ? "\r" : "",
            fill, "==============================", width - fill, "", done, expected, s->failed,
            s->dead, tty ? "" : "\n");
}

/* Jobs that never reach the worker (undecodable, unknown task) are counted
 * by their dead letters; the others by their results. */
static int collect(demo *d, summary *s, long expected, rd_kafka_t *rk)
{
    sy_buf json;
    sy_buf_init(&json);
    int64_t deadline = sy_mono_us() + (int64_t)d->timeout_s * 1000000;
    while (s->ok + s->failed + (s->dead - s->failed) < expected && !sy_stop_requested &&
           sy_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err) take_message(s, m, &json);
        if (m) rd_kafka_message_destroy(m);
        progress(s, expected, false);
    }
    progress(s, expected, true);
    if (isatty(2)) fprintf(stderr, "\n");
    sy_buf_free(&json);
    return s->ok + s->failed + (s->dead - s->failed) >= expected ? 0 : -1;
}

/* ---- the mixed pipeline ------------------------------------------------- */

static const tally *tier_row(const summary *s, const char *tier)
{
    for (int i = 0; i < s->ntier; i++)
        if (!strcmp(s->by_tier[i].name, tier)) return &s->by_tier[i];
    return NULL;
}

/* Each batch tier against a synchronous tier of the same models (mixed.yaml:
 * overnight and overnight-now, given the same jobs). */
static void print_batch_vs_sync(const demo *d, const summary *s)
{
    const sy_config *c = &d->cfg;
    for (size_t i = 0; i < c->ntiers; i++) {
        const sy_tier *b = c->tiers[i];
        const tally *bt = b->mode == SY_TIER_BATCH ? tier_row(s, b->name) : NULL;
        for (size_t j = 0; bt && bt->jobs && j < c->ntiers; j++) {
            const sy_tier *t = c->tiers[j];
            const tally *st = t->mode == SY_TIER_SYNC ? tier_row(s, t->name) : NULL;
            bool same = st && st->jobs && t->nmodels == b->nmodels;
            for (size_t k = 0; same && k < t->nmodels; k++) same = t->models[k].model == b->models[k].model;
            if (!same) continue;
            double per_b = bt->cost / (double)bt->jobs, per_s = st->cost / (double)st->jobs;
            printf("  batch tier %s: $%.8f per job, %.0f%% of synchronous %s ($%.8f per job)\n", b->name,
                   per_b, per_s > 0 ? 100.0 * per_b / per_s : 0.0, t->name, per_s);
        }
    }
}

static void print_mixed(const demo *d, summary *s, long submitted)
{
    printf("\n== mixed pipeline (%s) ==\n", d->pipe_c);
    printf("  submitted %ld jobs; %ld ok, %ld failed, %ld dead letters\n", submitted, s->ok, s->failed, s->dead);
    print_tallies("task / tier / model", s->by_route, s->nroute);
    qsort(s->by_tier, (size_t)s->ntier, sizeof *s->by_tier, cmp_tally);
    printf("\n  %-30s %7s %12s %14s\n", "tier", "jobs", "cost $", "cost $ / job");
    for (int i = 0; i < s->ntier; i++)
        printf("  %-30s %7ld %12.8f %14.8f\n", s->by_tier[i].name, s->by_tier[i].jobs, s->by_tier[i].cost,
               s->by_tier[i].jobs ? s->by_tier[i].cost / (double)s->by_tier[i].jobs : 0.0);
    print_batch_vs_sync(d, s);
}

/* examples/mixed.jsonl through the mixed pipeline; `before` jobs were on
 * the jobs topic already. */
static int run_mixed(demo *d, rd_kafka_t *rk, long before)
{
    printf("\nthe mixed pipeline: Anthropic, an OpenAI batch tier and an OpenAI-compatible server\n");
    if (submit_file(d, "mixed.jsonl") != 0) return -1;
    long expected = topic_message_count(rk, SY_TOPIC_JOBS) - before;
    summary m = {0};
    int rc = collect(d, &m, expected, rk);
    print_mixed(d, &m, expected);
    free(m.latency);
    return rc;
}

static int parse_opts(demo *d, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            exit(0);
        } else if (v && !strcmp(a, "--pipelines")) d->pipelines_dir = argv[++i];
        else if (v && !strcmp(a, "--examples")) d->examples_dir = argv[++i];
        else if (v && !strcmp(a, "--latency-ms")) d->latency_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--timeout-s")) d->timeout_s = atoi(argv[++i]);
        else if (!strcmp(a, "--real")) d->real = true;
        else if (!strcmp(a, "--keep")) d->keep = true;
        else return cli_bad_usage("demo", a, usage);
    }
    return 0;
}

/* dir/file exists? */
static bool has_file(const char *dir, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, R_OK) == 0;
}

/* Where the demo's data directory `name` (holding `probe`) is: ./name,
 * else SELF/../name (the binary in a build directory of the source tree),
 * else SELF/../share/switchyard/name (installed). */
static const char *find_data_dir(const demo *d, const char *name, const char *probe, char *out,
                                 size_t outlen)
{
    const char *where[] = {"%s/../%s", "%s/../share/switchyard/%s"};
    if (has_file(name, probe)) return name;
    for (size_t i = 0; i < SY_ARRAY_LEN(where); i++) {
        snprintf(out, outlen, where[i], d->self, name);
        if (has_file(out, probe)) return out;
    }
    return name; /* not found: the error names ./name */
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int prepare(demo *d)
{
    snprintf(d->tmp, sizeof d->tmp, "/tmp/switchyard-demo.XXXXXX");
    if (!mkdtemp(d->tmp)) return -1;
    proc_self_dir(d->self, sizeof d->self);
    if (!d->pipelines_dir)
        d->pipelines_dir = find_data_dir(d, "pipelines", "support-tickets.yaml",
                                         d->pipelines_found, sizeof d->pipelines_found);
    if (!d->examples_dir)
        d->examples_dir = find_data_dir(d, "examples", "tickets.jsonl", d->examples_found,
                                        sizeof d->examples_found);
    snprintf(d->brokers_file, sizeof d->brokers_file, "%s/brokers", d->tmp);
    snprintf(d->port_file, sizeof d->port_file, "%s/fake.port", d->tmp);
    snprintf(d->pipe_a, sizeof d->pipe_a, "%s/support-tickets.yaml", d->pipelines_dir);
    snprintf(d->pipe_b, sizeof d->pipe_b, "%s/summarize.yaml", d->pipelines_dir);
    if (!d->real) snprintf(d->pipe_c, sizeof d->pipe_c, "%s/mixed.yaml", d->pipelines_dir);
    cli_pipelines p = {.files = {d->pipe_a, d->pipe_b, d->pipe_c}, .n = d->real ? 2 : 3};
    printf("switchyard demo (logs in %s)\n", d->tmp);
    if (!d->real) return start_fake_provider(d) || cli_load_pipelines(&p, 0, &d->cfg) ? -1 : 0;
    unsetenv("OPENAI_BASE_URL");
    unsetenv("ANTHROPIC_BASE_URL");
    return cli_load_pipelines(&p, SY_LOAD_REQUIRE_KEYS, &d->cfg);
}

int cmd_demo(int argc, char **argv)
{
    demo d = {.latency_ms = 150, .timeout_s = 300};
    int rc = parse_opts(&d, argc, argv);
    if (rc) return rc;
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the children's output, piped too */
    sy_log_init("demo", SY_LOG_WARN);
    sy_install_stop_signals();
    summary s = {0};
    rd_kafka_t *rk = NULL;
    int64_t t0 = sy_mono_us();
    rc = 1;
    if (prepare(&d) == 0 && start_pipeline(&d) == 0 && submit_examples(&d) == 0 &&
        (rk = results_reader(&d))) {
        long expected = topic_message_count(rk, SY_TOPIC_JOBS);
        rc = collect(&d, &s, expected, rk) == 0 ? 0 : 1;
        print_summary(&s, expected, (double)(sy_mono_us() - t0) / 1e6);
        if (rc == 0 && d.pipe_c[0]) rc = run_mixed(&d, rk, expected) == 0 ? 0 : 1;
        if (rc) fprintf(stderr, "demo: not every job finished within %d s\n", d.timeout_s);
    }
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    stop_all(&d);
    if (rc == 0 && !d.keep && d.tmp[0] && nftw(d.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
        printf("\n  stopped; removed %s\n", d.tmp);
    else
        printf("\n  stopped; logs in %s\n", d.tmp);
    free(s.latency);
    sy_config_free(&d.cfg);
    return rc;
}
