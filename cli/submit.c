/* submit.c -- `switchyard submit`: jobs from JSONL or CSV onto Kafka.
 *
 * Each input record becomes one job: a JSONL line is a job object; a CSV
 * row's columns become template variables (minus the id, key, task and
 * metadata columns). The job is checked with the same decoder the
 * scheduler uses, so a bad line is reported here as FILE:LINE and skipped
 * (the exit status says so) instead of travelling to the dead-letter topic.
 * Jobs go out as msgpack (or JSON with --json), keyed by idempotency key. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"
#include "kafka.h"
#include "log.h"
#include "opts.h"
#include "util.h"

static const char *usage =
    "usage: switchyard submit [OPTIONS] [FILE|-]\n"
    "Submit one job per JSONL line or CSV row.\n\n"
    "      --topic T          jobs topic (default " SY_TOPIC_JOBS ")\n"
    "      --format F         jsonl or csv (default: from the file name)\n"
    "      --task NAME        task for records that name none\n"
    "      --task-column C    CSV: the task of each row\n"
    "      --id-column C      CSV: the job id (default id; else FILE-ROW)\n"
    "      --key-column C     the variable used as idempotency key\n"
    "      --meta-columns A,B CSV: columns that go to metadata instead of vars\n"
    "      --metadata K=V     add to every job's metadata (repeatable)\n"
    "      --json             send JSON instead of msgpack\n"
    "  -q, --quiet            no progress, no summary\n"
    "  -h, --help             this help\n";

#define MAX_META_OPTS 32
/* How long Kafka has to answer before submit gives up on it. */
#define KAFKA_ANSWER_MS 5000

typedef struct submit {
    sy_kafka_opts kafka;
    const char *topic, *file, *format, *task, *task_col, *id_col, *key_col, *meta_cols;
    const char *meta[MAX_META_OPTS];
    int nmeta;
    bool json, quiet, tty;
    rd_kafka_t *rk;
    long total, sent, acked, failed, rejected;
    int64_t started_us, last_draw_us;
    sy_buf wire;
} submit;

/* ---- progress ---- */

static void draw(submit *s, bool final)
{
    int64_t now = sy_mono_us();
    if (s->quiet || (!final && now - s->last_draw_us < (s->tty ? 100000 : 5000000))) return;
    s->last_draw_us = now;
    double secs = (double)(now - s->started_us) / 1e6, rate = secs > 0 ? (double)s->acked / secs : 0;
    if (!s->tty) { /* a progress line now and then; the summary says the rest */
        if (!final)
            fprintf(stderr, "submit: %ld acknowledged, %ld rejected, %ld failed so far, %.0f jobs/s\n",
                    s->acked, s->rejected, s->failed, rate);
        return;
    }
    int width = 30, fill = s->total > 0 ? (int)(s->acked * width / s->total) : 0;
    if (fill > width) fill = width;
    fprintf(stderr, "\rsubmit [%.*s%s%*s] %ld/%ld jobs  %.0f/s ", fill, "==============================",
            fill < width ? ">" : "", width - fill - (fill < width), "", s->acked,
            s->total > 0 ? s->total : s->sent, rate);
    if (final) fputc('\n', stderr);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    submit *s = opaque;
    if (m->err) s->failed++;
    else s->acked++;
}

/* ---- building jobs ---- */

static void add_metadata(submit *s, json_t *job)
{
    json_t *meta = json_object_get(job, "metadata");
    if (!s->nmeta) return;
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(job, "metadata", meta);
    }
    for (int i = 0; i < s->nmeta; i++) {
        const char *eq = strchr(s->meta[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - s->meta[i]), s->meta[i]);
        json_object_set_new(meta, key, json_string(eq + 1));
    }
}

/* Fill defaults, check with the job decoder, produce. */
static void send_job(submit *s, json_t *job, const char *where)
{
    if (s->task && !json_object_get(job, "task")) json_object_set_new(job, "task", json_string(s->task));
    json_t *key = s->key_col ? json_object_get(json_object_get(job, "vars"), s->key_col) : NULL;
    if (json_is_string(key) && !json_object_get(job, "idempotency_key"))
        json_object_set(job, "idempotency_key", key);
    add_metadata(s, job);
    char *text = json_dumps(job, JSON_COMPACT);
    sy_job j;
    char err[512];
    if (!text || sy_job_decode(text, strlen(text), &j, err, sizeof err) != 0) {
        fprintf(stderr, "%s%s: %s\n", s->tty && !s->quiet ? "\n" : "", where, text ? err : "cannot encode");
        s->rejected++;
        free(text);
        return;
    }
    sy_buf_reset(&s->wire);
    if (s->json) sy_job_encode_json(&j, &s->wire);
    else sy_job_encode_msgpack(&j, &s->wire);
    if (sy_kafka_produce(s->rk, s->topic, j.idempotency_key, strlen(j.idempotency_key),
                         s->wire.data, s->wire.len, NULL, NULL) == 0)
        s->sent++;
    else s->failed++;
    sy_job_free(&j);
    free(text);
    rd_kafka_poll(s->rk, 0);
    draw(s, false);
}

static void submit_jsonl_line(submit *s, const char *line, size_t len, long lineno)
{
    char where[600];
    snprintf(where, sizeof where, "%s:%ld", s->file, lineno);
    json_error_t je;
    json_t *job = json_loadb(line, len, 0, &je);
    if (!json_is_object(job)) {
        fprintf(stderr, "%s: %s\n", where, job ? "a job must be a JSON object" : je.text);
        s->rejected++;
    } else {
        send_job(s, job, where);
    }
    json_decref(job);
}

static void submit_jsonl(submit *s, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (long lineno = 1; (n = getline(&line, &cap, in)) >= 0; lineno++) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        size_t skip = strspn(line, " \t");
        if ((size_t)n > skip) submit_jsonl_line(s, line, (size_t)n, lineno);
    }
    free(line);
}

/* ---- CSV (RFC 4180) ---- */

typedef struct csv_row {
    char **fields;
    size_t n, cap;
} csv_row;

static void row_clear(csv_row *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->fields[i]);
    r->n = 0;
}

/* Read one record (quoted fields may span lines). 0 at end of input. */
static int csv_read(FILE *in, csv_row *row, long *lineno)
{
    row_clear(row);
    sy_buf field;
    sy_buf_init(&field);
    int c, quoted = 0, any = 0;
    while ((c = fgetc(in)) != EOF) {
        any = 1;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(in);
                if (d == '"') sy_buf_putc(&field, '"');
                else {
                    quoted = 0;
                    if (d != EOF) ungetc(d, in);
                }
            } else {
                if (c == '\n') (*lineno)++;
                sy_buf_putc(&field, (char)c);
            }
        } else if (c == '"' && field.len == 0) quoted = 1;
        else if (c == ',' || c == '\n') {
            if (row->n == row->cap) row->fields = sy_xrealloc(row->fields, (row->cap = row->cap * 2 + 8) * sizeof(char *));
            row->fields[row->n++] = sy_xstrndup(field.data ? field.data : "", field.len);
            sy_buf_reset(&field);
            if (c == '\n') {
                (*lineno)++;
                break;
            }
        } else if (c != '\r') sy_buf_putc(&field, (char)c);
    }
    if (c == EOF && any) {
        if (row->n == row->cap) row->fields = sy_xrealloc(row->fields, (row->cap = row->cap * 2 + 8) * sizeof(char *));
        row->fields[row->n++] = sy_xstrndup(field.data ? field.data : "", field.len);
    }
    sy_buf_free(&field);
    return any;
}

static json_t *csv_job(submit *s, const csv_row *head, const csv_row *row, long rowno)
{
    json_t *job = json_object(), *vars = json_object(), *meta = json_object();
    for (size_t i = 0; i < head->n && i < row->n; i++) {
        const char *col = head->fields[i];
        json_t *v = json_string(row->fields[i]);
        if (!v) v = json_string("");
        if (!strcmp(col, s->id_col)) json_object_set_new(job, "id", v);
        else if (s->task_col && !strcmp(col, s->task_col)) json_object_set_new(job, "task", v);
        else if (s->meta_cols && sy_list_contains(s->meta_cols, col)) json_object_set_new(meta, col, v);
        else json_object_set_new(vars, col, v);
    }
    if (!json_object_get(job, "id")) {
        const char *base = strrchr(s->file, '/') ? strrchr(s->file, '/') + 1 : s->file;
        char id[300];
        snprintf(id, sizeof id, "%s-%ld", base, rowno);
        json_object_set_new(job, "id", json_string(id));
    }
    json_object_set_new(job, "vars", vars);
    json_object_set_new(job, "metadata", meta);
    return job;
}

static void submit_csv(submit *s, FILE *in)
{
    csv_row head = {0}, row = {0};
    long lineno = 1, start;
    if (!csv_read(in, &head, &lineno)) return;
    for (long rowno = 1; (start = lineno, csv_read(in, &row, &lineno)); rowno++) {
        if (row.n == 1 && !row.fields[0][0]) continue; /* blank line */
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", s->file, start);
        if (row.n != head.n) {
            fprintf(stderr, "%s: %zu fields, the header has %zu\n", where, row.n, head.n);
            s->rejected++;
            continue;
        }
        json_t *job = csv_job(s, &head, &row, rowno);
        send_job(s, job, where);
        json_decref(job);
    }
    row_clear(&head);
    row_clear(&row);
    free(head.fields);
    free(row.fields);
}

/* ---- the command ---- */

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int c, prev = '\n';
    if (!f) return 0;
    while ((c = getc(f)) != EOF) {
        if (c == '\n' && prev != '\n') n++;
        prev = c;
    }
    if (prev != '\n') n++;
    fclose(f);
    return n;
}

static int parse_opts(submit *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_kafka_cmd_opt(&s->kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--topic")) s->topic = argv[++i];
        else if (v && !strcmp(a, "--format")) s->format = argv[++i];
        else if (v && !strcmp(a, "--task")) s->task = argv[++i];
        else if (v && !strcmp(a, "--task-column")) s->task_col = argv[++i];
        else if (v && !strcmp(a, "--id-column")) s->id_col = argv[++i];
        else if (v && !strcmp(a, "--key-column")) s->key_col = argv[++i];
        else if (v && !strcmp(a, "--meta-columns")) s->meta_cols = argv[++i];
        else if (v && !strcmp(a, "--metadata") && strchr(argv[i + 1], '=') && s->nmeta < MAX_META_OPTS)
            s->meta[s->nmeta++] = argv[++i];
        else if (!strcmp(a, "--json")) s->json = true;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) s->quiet = true;
        else if (a[0] != '-' || !strcmp(a, "-")) s->file = a;
        else return cli_bad_kafka_usage("submit", a, usage);
    }
    if (!s->format) {
        size_t n = strlen(s->file);
        s->format = n > 4 && !strcmp(s->file + n - 4, ".csv") ? "csv" : "jsonl";
    }
    if (strcmp(s->format, "csv") && strcmp(s->format, "jsonl"))
        return cli_bad_kafka_usage("submit", s->format, usage);
    return 0;
}

/* Printed once, after the flush: acknowledged (Kafka has the job), rejected
 * (bad input, reported by line), failed (handed to Kafka but not
 * acknowledged: delivery error or still queued at the flush timeout). */
static void summary(submit *s)
{
    double secs = (double)(sy_mono_us() - s->started_us) / 1e6;
    draw(s, true); /* the terminal's progress bar ends its line */
    if (!s->quiet)
        printf("submit: %ld acknowledged, %ld rejected, %ld failed; topic %s, %.1f s, %.0f jobs/s\n",
               s->acked, s->rejected, s->failed, s->topic, secs,
               secs > 0 ? (double)s->acked / secs : 0.0);
}

/* Kafka answers and has the topic, or the command stops here (instead of
 * queueing every job and failing them all at the flush timeout). */
static int check_kafka(submit *s)
{
    char err[1400];
    const rd_kafka_metadata_t *md = sy_kafka_reach(s->rk, &s->kafka, KAFKA_ANSWER_MS, err, sizeof err);
    if (md && !sy_kafka_md_topic(md, s->topic)) sy_kafka_no_topic(md, &s->kafka, s->topic, err, sizeof err);
    bool ok = md && sy_kafka_md_topic(md, s->topic);
    if (md) rd_kafka_metadata_destroy(md);
    if (!ok) fprintf(stderr, "switchyard submit: %s\n", err);
    return ok ? 0 : -1;
}

int cmd_submit(int argc, char **argv)
{
    submit s = {.topic = SY_TOPIC_JOBS, .file = "-", .id_col = "id"};
    int rc = parse_opts(&s, argc, argv);
    if (rc) return rc;
    sy_log_init("submit", SY_LOG_WARN);
    FILE *in = strcmp(s.file, "-") ? fopen(s.file, "r") : stdin;
    if (!in) {
        fprintf(stderr, "switchyard submit: cannot open %s\n", s.file);
        return 1;
    }
    char err[512];
    s.rk = sy_kafka_producer(&s.kafka, on_delivery, &s, err, sizeof err);
    if (!s.rk || check_kafka(&s) != 0) {
        if (!s.rk) fprintf(stderr, "switchyard submit: %s\n", err);
        else rd_kafka_destroy(s.rk);
        if (in != stdin) fclose(in);
        return 1;
    }
    s.tty = isatty(2);
    s.total = in != stdin && !strcmp(s.format, "jsonl") ? count_lines(s.file) : 0;
    s.started_us = s.last_draw_us = sy_mono_us();
    if (!strcmp(s.format, "csv")) submit_csv(&s, in);
    else submit_jsonl(&s, in);
    if (in != stdin) fclose(in);
    int left = sy_kafka_flush(s.rk, 60000);
    s.failed += left;
    summary(&s);
    rd_kafka_destroy(s.rk);
    sy_buf_free(&s.wire);
    return s.rejected || s.failed || s.acked != s.sent ? 1 : 0;
}
