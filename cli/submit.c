/* submit.c -- `switchyard submit`: jobs from JSONL or CSV onto Kafka.
 *
 * Each input record becomes one job: a JSONL line is a job object; a CSV
 * row's columns become template variables (minus the id, key, task and
 * metadata columns); input.c reads them. The job is checked with the same
 * decoder the scheduler uses, so a bad line is reported here as FILE:LINE
 * and skipped (the exit status says so) instead of travelling to the
 * dead-letter topic. An OpenAI Batch API input file (--openai-batch,
 * openai_batch_in.c) is checked whole first and submitted only when every
 * line is good. Jobs go out as msgpack (or JSON with --json), keyed by
 * idempotency key; this file does the options, producing and progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
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
    "      --openai-batch F   an OpenAI Batch API input file (custom_id, method, url,\n"
    "                         body per line): checked whole first, submitted only\n"
    "                         if every line is good\n"
    "  -T, --task NAME        task for records that name none (--openai-batch:\n"
    "                         default body.model)\n"
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
    const char *topic, *format;
    sy_input in;  /* file, task and column options */
    const char *meta[MAX_META_OPTS];
    bool json, quiet, tty, openai;
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

/* ---- producing the jobs input.c reads ---- */

static void produce_job(void *ctx, const sy_job *j)
{
    submit *s = ctx;
    sy_buf_reset(&s->wire);
    if (s->json) sy_job_encode_json(j, &s->wire);
    else sy_job_encode_msgpack(j, &s->wire);
    if (sy_kafka_produce(s->rk, s->topic, j->idempotency_key, strlen(j->idempotency_key),
                         s->wire.data, s->wire.len, NULL, NULL) == 0)
        s->sent++;
    else s->failed++;
    rd_kafka_poll(s->rk, 0);
    draw(s, false);
}

static void reject_record(void *ctx, const char *where, const char *why)
{
    submit *s = ctx;
    /* on a terminal, off the progress line first */
    fprintf(stderr, "%s%s: %s\n", s->tty && !s->quiet ? "\n" : "", where, why);
    s->rejected++;
}

/* ---- --openai-batch: checked whole, then submitted ---- */

static void count_job(void *ctx, const sy_job *j)
{
    (void)j;
    ((submit *)ctx)->total++;
}

/* The file (stdin copied to a temporary file, within the Batch API's size
 * limit) read once to check every line, rewound for the submission. Like
 * the Batch API, a file with any bad line submits nothing: each bad line
 * is reported (FILE:LINE: why) and the command exits 1. NULL then. */
static FILE *openai_checked(submit *s)
{
    FILE *f = strcmp(s->in.file, "-") ? fopen(s->in.file, "r") : tmpfile();
    if (!f) {
        fprintf(stderr, "switchyard submit: cannot open %s\n", s->in.file);
        return NULL;
    }
    if (!strcmp(s->in.file, "-")) {
        char chunk[65536];
        size_t n, total = 0;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0 && total <= SY_OPENAI_BATCH_MAX_BYTES) {
            fwrite(chunk, 1, n, f);
            total += n;
        }
        rewind(f);
    }
    sy_input check = s->in;
    check.job = count_job;
    sy_input_openai_batch(&check, f);
    if (s->rejected) {
        fprintf(stderr, "switchyard submit: %ld bad line%s in %s; nothing submitted (fix them and "
                "submit again: custom_id is the idempotency key)\n", s->rejected,
                s->rejected == 1 ? "" : "s", s->in.file);
        fclose(f);
        return NULL;
    }
    rewind(f);
    return f;
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
        else if (v && (!strcmp(a, "--task") || !strcmp(a, "-T"))) s->in.task = argv[++i];
        else if (v && !strcmp(a, "--openai-batch")) {
            s->openai = true;
            s->in.file = argv[++i];
        }
        else if (v && !strcmp(a, "--task-column")) s->in.task_col = argv[++i];
        else if (v && !strcmp(a, "--id-column")) s->in.id_col = argv[++i];
        else if (v && !strcmp(a, "--key-column")) s->in.key_col = argv[++i];
        else if (v && !strcmp(a, "--meta-columns")) s->in.meta_cols = argv[++i];
        else if (v && !strcmp(a, "--metadata") && strchr(argv[i + 1], '=') && s->in.nmeta < MAX_META_OPTS)
            s->meta[s->in.nmeta++] = argv[++i];
        else if (!strcmp(a, "--json")) s->json = true;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) s->quiet = true;
        else if (a[0] != '-' || !strcmp(a, "-")) s->in.file = a;
        else return cli_bad_kafka_usage("submit", a, usage);
    }
    if (s->openai) s->format = "openai-batch";
    if (!s->format) {
        size_t n = strlen(s->in.file);
        s->format = n > 4 && !strcmp(s->in.file + n - 4, ".csv") ? "csv" : "jsonl";
    }
    if (strcmp(s->format, "csv") && strcmp(s->format, "jsonl") && !s->openai)
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
    submit s = {.topic = SY_TOPIC_JOBS, .in = {.file = "-", .id_col = "id"}};
    int rc = parse_opts(&s, argc, argv);
    if (rc) return rc;
    sy_log_init("submit", SY_LOG_WARN);
    s.in.meta = s.meta;
    s.in.job = produce_job;
    s.in.reject = reject_record;
    s.in.ctx = &s;
    FILE *in = s.openai ? openai_checked(&s) : strcmp(s.in.file, "-") ? fopen(s.in.file, "r") : stdin;
    if (!in) {
        if (!s.openai) fprintf(stderr, "switchyard submit: cannot open %s\n", s.in.file);
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
    if (!s.openai) s.total = in != stdin && !strcmp(s.format, "jsonl") ? count_lines(s.in.file) : 0;
    s.started_us = s.last_draw_us = sy_mono_us();
    if (s.openai) sy_input_openai_batch(&s.in, in);
    else if (!strcmp(s.format, "csv")) sy_input_csv(&s.in, in);
    else sy_input_jsonl(&s.in, in);
    if (in != stdin) fclose(in);
    int left = sy_kafka_flush(s.rk, 60000);
    s.failed += left;
    summary(&s);
    rd_kafka_destroy(s.rk);
    sy_buf_free(&s.wire);
    return s.rejected || s.failed || s.acked != s.sent ? 1 : 0;
}
