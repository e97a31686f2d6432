/* dlq.c -- `switchyard dlq list|show|requeue`: the dead-letter topic for
 * operators.
 *
 * Reads the dead-letter topic (kafka/deadletter.h says what a letter holds:
 * the job's original key and value, and why in headers) once to its end
 * (topic_read.h). `list` prints one row per letter, `show` prints chosen
 * letters whole, `requeue` produces chosen letters back to the jobs topic
 * with their original key and value: the worker's idempotency store then
 * answers a job that had in fact succeeded without a second call, and runs
 * a failed one again (a stored failure is no answer to a resubmission,
 * docs/durability.md). Letters are hostile input (a job's bytes, a
 * provider's message): every string is escaped before the terminal. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "job.h"
#include "keymap.h"
#include "log.h"
#include "opts.h"
#include "topic_read.h"
#include "util.h"

static const char *usage =
    "usage: switchyard dlq list|show ID...|requeue [ID...] [OPTIONS]\n"
    "Read the dead-letter topic to its end: list letters, show them whole, or\n"
    "produce them back to the jobs topic with their original key and job.\n"
    "ID is a job id or a letter's PARTITION:OFFSET (as list prints it).\n\n"
    "      --class C[,C]     only letters of these error classes (e.g. server,expired)\n"
    "      --since T         only letters written at or after T (RFC 3339, or 30m, 2h, 7d ago)\n"
    "      --until T         only letters written before T\n"
    "      --dry-run         requeue: say what would be requeued, produce nothing\n"
    "      --format F        table (default) or json (one object per line)\n"
    "      --dlq-topic T     dead-letter topic (default " SY_TOPIC_DLQ ")\n"
    "      --jobs-topic T    where requeue produces (default " SY_TOPIC_JOBS ")\n"
    "      --timeout-ms N    give up when nothing arrives for N ms (default 10000)\n"
    "  -h, --help            this help\n";

#define MAX_IDS 256

typedef enum { LIST, SHOW, REQUEUE } dlq_verb;

typedef struct dlq_opts {
    sy_kafka_opts kafka;
    dlq_verb verb;
    const char *ids[MAX_IDS];
    int nids;
    const char *classes, *dlq_topic, *jobs_topic;
    int64_t since, until;
    int timeout_ms;
    bool dry_run, json;
} dlq_opts;

/* One letter, as read: its coordinates, headers and decoded job. */
typedef struct letter {
    const rd_kafka_message_t *m;
    char klass[48], stage[16], attempts[12], models[256], status[8], message[600], truncated[4];
    sy_job job;
    bool decoded;
} letter;

typedef struct dlq_run {
    const dlq_opts *o;
    rd_kafka_t *producer;
    sy_keymap seen; /* requeue: key+value hashes already produced */
    sy_buf b;
    long matched, requeued, truncated, repeated, failed, delivered;
} dlq_run;

static int parse_opts(dlq_opts *o, int argc, char **argv)
{
    long n;
    int first = 1;
    if (argc >= 2) cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &first); /* --help exits */
    if (argc < 2) return cli_bad_kafka_usage("dlq", "(missing list, show or requeue)", usage);
    if (!strcmp(argv[1], "list")) o->verb = LIST;
    else if (!strcmp(argv[1], "show")) o->verb = SHOW;
    else if (!strcmp(argv[1], "requeue")) o->verb = REQUEUE;
    else return cli_bad_kafka_usage("dlq", argv[1], usage);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &i)) {
        } else if (v && !strcmp(a, "--class")) o->classes = argv[++i];
        else if (v && !strcmp(a, "--since") && cli_time_arg(argv[i + 1], &o->since)) i++;
        else if (v && !strcmp(a, "--until") && cli_time_arg(argv[i + 1], &o->until)) i++;
        else if (v && !strcmp(a, "--dlq-topic")) o->dlq_topic = argv[++i];
        else if (v && !strcmp(a, "--jobs-topic")) o->jobs_topic = argv[++i];
        else if (v && !strcmp(a, "--format") && (!strcmp(argv[i + 1], "json") || !strcmp(argv[i + 1], "table")))
            o->json = !strcmp(argv[++i], "json");
        else if (v && !strcmp(a, "--timeout-ms") && cli_long_arg(argv[i + 1], 1, INT_MAX, &n)) {
            o->timeout_ms = (int)n;
            i++;
        } else if (!strcmp(a, "--dry-run")) o->dry_run = true;
        else if (a[0] != '-' && o->verb != LIST && o->nids < MAX_IDS) o->ids[o->nids++] = a;
        else return cli_bad_kafka_usage("dlq", a, usage);
    }
    if (o->verb == SHOW && !o->nids) return cli_bad_kafka_usage("dlq", "(show needs an ID)", usage);
    return 0;
}

static void letter_read(letter *l, const rd_kafka_message_t *m)
{
    memset(l, 0, sizeof *l);
    l->m = m;
    if (!cli_header(m, "switchyard.error.class", l->klass, sizeof l->klass)) strcpy(l->klass, "?");
    cli_header(m, "switchyard.stage", l->stage, sizeof l->stage);
    cli_header(m, "switchyard.attempts", l->attempts, sizeof l->attempts);
    cli_header(m, "switchyard.models", l->models, sizeof l->models);
    cli_header(m, "switchyard.http_status", l->status, sizeof l->status);
    cli_header(m, "switchyard.error.message", l->message, sizeof l->message);
    cli_header(m, "switchyard.truncated", l->truncated, sizeof l->truncated);
    char err[128];
    l->decoded = m->payload && sy_job_decode(m->payload, m->len, &l->job, err, sizeof err) == 0;
}

static bool id_matches(const letter *l, const char *id)
{
    char coord[48];
    snprintf(coord, sizeof coord, "%d:%lld", (int)l->m->partition, (long long)l->m->offset);
    return !strcmp(id, coord) || (l->decoded && !strcmp(id, l->job.id));
}

static bool chosen(const dlq_opts *o, const letter *l)
{
    if (o->classes && !sy_list_contains(o->classes, l->klass)) return false;
    if (!cli_in_window(l->m, o->since, o->until)) return false;
    if (!o->nids) return true;
    for (int i = 0; i < o->nids; i++)
        if (id_matches(l, o->ids[i])) return true;
    return false;
}

/* s escaped for the terminal into buf (cut to fit). */
static const char *esc(char *buf, size_t size, const char *s)
{
    sy_escape_ctl(buf, size, s ? s : "", s ? strlen(s) : 0);
    return buf;
}

static void utc(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm)) snprintf(buf, len, "-");
    else strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_row(const letter *l)
{
    char when[32], coord[32], id[25], task[17], models[33], msg[61];
    utc(rd_kafka_message_timestamp(l->m, NULL), when, sizeof when);
    snprintf(coord, sizeof coord, "%d:%lld", (int)l->m->partition, (long long)l->m->offset);
    printf("%-20s %-9s %-24s %-16s %-16s %3s %-32s %s\n", when, coord,
           l->decoded ? esc(id, sizeof id, l->job.id) : "?",
           l->decoded ? esc(task, sizeof task, l->job.task) : "?", l->klass,
           l->attempts[0] ? l->attempts : "-", l->models[0] ? esc(models, sizeof models, l->models) : "-",
           esc(msg, sizeof msg, l->message));
}

/* The letter as one JSON object: its fields, and with whole, every header,
 * the key and the job (as JSON when it decodes, else its bytes as a string). */
static void letter_json(const letter *l, bool whole, sy_buf *b)
{
    const rd_kafka_message_t *m = l->m;
    sy_buf_reset(b);
    sy_buf_printf(b, "{\"partition\":%d,\"offset\":%lld,\"time_ms\":%lld,\"job_id\":", (int)m->partition,
                  (long long)m->offset, (long long)rd_kafka_message_timestamp(m, NULL));
    sy_buf_json_cstr(b, l->decoded ? l->job.id : NULL);
    sy_buf_puts(b, ",\"task\":");
    sy_buf_json_cstr(b, l->decoded ? l->job.task : NULL);
    sy_buf_puts(b, ",\"class\":");
    sy_buf_json_cstr(b, l->klass);
    sy_buf_puts(b, ",\"message\":");
    sy_buf_json_cstr(b, l->message);
    sy_buf_printf(b, ",\"attempts\":%d,\"models\":", atoi(l->attempts));
    sy_buf_json_cstr(b, l->models[0] ? l->models : NULL);
    sy_buf_printf(b, ",\"truncated\":%s", l->truncated[0] == '1' ? "true" : "false");
    if (whole) {
        sy_buf_puts(b, ",\"headers\":{");
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; cli_header_at(m, i, &name, &val, &len); i++) {
            if (i) sy_buf_putc(b, ',');
            sy_buf_json_key(b, name);
            sy_buf_json_str(b, val, len);
        }
        sy_buf_puts(b, "},\"key\":");
        sy_buf_json_str(b, m->key ? m->key : "", m->key_len);
        sy_buf_puts(b, ",\"job\":");
        if (l->decoded) sy_job_encode_json(&l->job, b);
        else sy_buf_json_str(b, m->payload ? m->payload : "", m->len);
    }
    sy_buf_puts(b, "}\n");
}

/* A whole letter for the terminal: every header, the key and the job, each
 * line escaped (a letter's bytes may hold ESC, CR, anything). */
static void print_whole(const letter *l, sy_buf *b)
{
    const rd_kafka_message_t *m = l->m;
    char when[32];
    utc(rd_kafka_message_timestamp(m, NULL), when, sizeof when);
    printf("letter %d:%lld  written %s\n", (int)m->partition, (long long)m->offset, when);
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; cli_header_at(m, i, &name, &val, &len); i++) {
        sy_buf_reset(b);
        sy_buf_reserve(b, 4 * len + 1);
        size_t n = sy_escape_ctl(b->data, 4 * len + 1, val, len);
        char nm[80];
        printf("  %-34s %.*s\n", esc(nm, sizeof nm, name), (int)n, b->data);
    }
    sy_buf_reset(b);
    if (l->decoded) sy_job_encode_json(&l->job, b);
    else sy_buf_append(b, m->payload ? m->payload : "", m->len);
    char *out = sy_xmalloc(4 * (b->len > m->key_len ? b->len : m->key_len) + 1);
    size_t n = sy_escape_ctl(out, 4 * m->key_len + 1, m->key ? m->key : "", m->key_len);
    printf("  %-34s %.*s\n", "key", (int)n, out);
    n = sy_escape_ctl(out, 4 * b->len + 1, b->data, b->len);
    printf("  %-34s %.*s\n\n", l->decoded ? "job" : "value (undecodable)", (int)n, out);
    free(out);
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dlq_run *r = opaque;
    if (m->err) {
        r->failed++;
        fprintf(stderr, "switchyard dlq: a requeued job was not delivered: %s\n", rd_kafka_err2str(m->err));
    } else {
        r->delivered++;
    }
}

/* Produce the letter's key and job to the jobs topic, once per key and job. */
static void requeue(dlq_run *r, const letter *l)
{
    const rd_kafka_message_t *m = l->m;
    if (l->truncated[0] == '1') {
        r->truncated++;
        return;
    }
    char hash[40];
    snprintf(hash, sizeof hash, "%016" PRIx64 "%016" PRIx64, sy_hash64(m->key ? m->key : "", m->key_len),
             sy_hash64(m->payload ? m->payload : "", m->len));
    if (sy_keymap_get(&r->seen, hash)) {
        r->repeated++;
        return;
    }
    sy_keymap_put(&r->seen, hash, r);
    if (r->o->dry_run || !r->producer) {
        r->requeued++;
        if (!r->o->json) print_row(l);
        return;
    }
    char from[300];
    snprintf(from, sizeof from, "%s/%d/%lld", rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "switchyard.requeued.from", -1, from, -1);
    if (sy_kafka_produce(r->producer, r->o->jobs_topic, m->key, m->key_len, m->payload, m->len, h, NULL)) {
        r->failed++;
        return;
    }
    r->requeued++;
}

static int on_letter(const rd_kafka_message_t *m, void *arg)
{
    dlq_run *r = arg;
    letter l;
    letter_read(&l, m);
    if (chosen(r->o, &l)) {
        r->matched++;
        if (r->o->verb == REQUEUE) requeue(r, &l);
        else if (r->o->json) {
            letter_json(&l, r->o->verb == SHOW, &r->b);
            fwrite(r->b.data, 1, r->b.len, stdout);
        } else if (r->o->verb == SHOW) print_whole(&l, &r->b);
        else print_row(&l);
    }
    sy_job_free(&l.job);
    if (r->producer) rd_kafka_poll(r->producer, 0);
    return 0;
}

int cmd_dlq(int argc, char **argv)
{
    dlq_opts o = {.dlq_topic = SY_TOPIC_DLQ, .jobs_topic = SY_TOPIC_JOBS, .timeout_ms = 10000};
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc;
    sy_log_init("dlq", SY_LOG_WARN);
    sy_install_stop_signals();
    dlq_run r = {.o = &o};
    sy_keymap_init(&r.seen);
    sy_buf_init(&r.b);
    char err[512];
    if (o.verb == REQUEUE && !o.dry_run &&
        !(r.producer = sy_kafka_producer(&o.kafka, delivered, &r, err, sizeof err))) {
        fprintf(stderr, "switchyard dlq: %s\n", err);
        return 1;
    }
    if (!o.json && (o.verb == LIST || o.dry_run))
        printf("%-20s %-9s %-24s %-16s %-16s %3s %-32s %s\n", "time", "letter", "job", "task", "class",
               "att", "models tried", "reason");
    rc = cli_read_topics(&o.kafka, "dlq", &o.dlq_topic, 1, o.timeout_ms, on_letter, &r);
    if (r.producer) {
        int left = sy_kafka_flush(r.producer, 30000);
        if (left) fprintf(stderr, "switchyard dlq: %d requeued job(s) not acknowledged\n", left);
        rd_kafka_destroy(r.producer);
    }
    if (o.verb == REQUEUE)
        fprintf(o.json ? stderr : stdout,
                "%s %ld letter(s) to %s (%ld matched; skipped: %ld truncated, %ld repeated; %ld failed)\n",
                o.dry_run ? "would requeue" : "requeued", o.dry_run ? r.requeued : r.delivered,
                o.jobs_topic, r.matched, r.truncated, r.repeated, r.failed);
    else if (!o.json && o.verb == LIST)
        printf("%ld letter(s)\n", r.matched);
    sy_keymap_free(&r.seen);
    sy_buf_free(&r.b);
    if (rc < 0) return 1;
    if (o.verb == SHOW && !r.matched) {
        fprintf(stderr, "switchyard dlq: no letter matches\n");
        return 1;
    }
    return rc || r.failed ? 1 : 0;
}
