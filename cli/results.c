/* results.c -- `switchyard results`: read a topic and print JSON lines.
 *
 * Reads every partition of one topic without joining a consumer group (so
 * it never moves anyone's offsets), converts msgpack values to JSON
 * (JSON values pass through) and prints one line per message, or a table.
 * Stops after --count messages or when nothing new arrives for
 * --timeout-ms; --follow keeps reading until interrupted. The table shows
 * job-supplied and model-supplied text with control characters escaped.
 * --openai-batch-output prints OpenAI Batch API output lines instead
 * (openai_batch_out.c), once per custom_id, with the dead letters too
 * (--dlq) and only the custom_ids of an input file (--batch-input), where
 * it stops once each has its line. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "kafka.h"
#include "log.h"
#include "msgpack_json.h"
#include "openai_batch.h"
#include "opts.h"
#include "signals.h"
#include "util.h"

static const char *usage =
    "usage: switchyard results --topic T [OPTIONS]\n"
    "Print the messages of a topic (results, dead letters, jobs) as JSON lines.\n\n"
    "  -t, --topic T         topic to read (e.g. switchyard.results.classify)\n"
    "  -c, --count N         stop after N messages (exit 1 if fewer arrive in time)\n"
    "  -f, --follow          keep reading until interrupted\n"
    "      --timeout-ms N    stop when nothing arrives for N ms (default 10000)\n"
    "      --from-end        only messages produced from now on\n"
    "      --headers         print partition, offset, key and headers around each value\n"
    "      --table           print a table of results instead of JSON\n"
    "      --openai-batch-output  print OpenAI Batch API output lines, one per custom_id\n"
    "      --dlq [T]         with it: read the dead letters too (topic T, default " SY_TOPIC_DLQ ")\n"
    "      --batch-input F   with it: only the custom_ids of this batch input file; stop\n"
    "                        when each has its line (exit 1 if some are missing)\n"
    "  -h, --help            this help\n";

/* How long Kafka has to answer the first metadata request. */
#define KAFKA_ANSWER_MS 5000

typedef struct results_opts {
    sy_kafka_opts kafka;
    const char *topic;
    long count;
    int timeout_ms;
    bool follow, from_end, headers, table, openai;
    const char *dlq_topic, *batch_input;
    json_t *wanted, *printed; /* --openai-batch-output: custom_ids to print, those printed */
} results_opts;

static int parse_opts(results_opts *o, int argc, char **argv)
{
    long n;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (cli_kafka_cmd_opt(&o->kafka, usage, argc, argv, &i)) {
        } else if (v && (!strcmp(a, "--topic") || !strcmp(a, "-t"))) o->topic = argv[++i];
        else if (v && (!strcmp(a, "--count") || !strcmp(a, "-c")) &&
                 cli_long_arg(argv[i + 1], 1, LONG_MAX, &o->count))
            i++;
        else if (v && !strcmp(a, "--timeout-ms") && cli_long_arg(argv[i + 1], 1, INT_MAX, &n)) {
            o->timeout_ms = (int)n;
            i++;
        }
        else if (!strcmp(a, "--follow") || !strcmp(a, "-f")) o->follow = true;
        else if (!strcmp(a, "--from-end")) o->from_end = true;
        else if (!strcmp(a, "--from-beginning")) o->from_end = false;
        else if (!strcmp(a, "--headers")) o->headers = true;
        else if (!strcmp(a, "--table")) o->table = true;
        else if (!strcmp(a, "--openai-batch-output")) o->openai = true;
        else if (!strcmp(a, "--dlq")) o->dlq_topic = v && argv[i + 1][0] != '-' ? argv[++i] : SY_TOPIC_DLQ;
        else if (v && !strcmp(a, "--batch-input")) o->batch_input = argv[++i];
        else return cli_bad_kafka_usage("results", a, usage);
    }
    if (!o->topic) return cli_bad_kafka_usage("results", "(missing --topic)", usage);
    if ((o->dlq_topic || o->batch_input) && !o->openai)
        return cli_bad_kafka_usage("results", "(--dlq and --batch-input go with --openai-batch-output)", usage);
    return 0;
}

/* Append the value as JSON: JSON as is, msgpack converted, else a string. */
static void value_json(const rd_kafka_message_t *m, sy_buf *out)
{
    const char *p = m->payload;
    if (!p || !m->len) {
        sy_buf_puts(out, "null");
        return;
    }
    if (p[0] == '{' || p[0] == '[') {
        json_t *v = json_loadb(p, m->len, 0, NULL);
        json_decref(v);
        if (v) {
            sy_buf_append(out, p, m->len);
            return;
        }
    } else if (sy_msgpack_to_json(p, m->len, out) == 0) {
        return;
    }
    sy_buf_json_str(out, p, m->len);
}

static void print_with_headers(const rd_kafka_message_t *m, sy_buf *b)
{
    sy_buf_printf(b, "{\"partition\":%d,\"offset\":%lld,\"key\":", (int)m->partition,
                  (long long)m->offset);
    if (m->key) sy_buf_json_str(b, m->key, m->key_len);
    else sy_buf_puts(b, "null");
    sy_buf_puts(b, ",\"headers\":{");
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; rd_kafka_message_headers(m, &h) == 0 &&
                       rd_kafka_header_get_all(h, i, &name, &val, &len) == 0; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_json_key(b, name);
        if (val) sy_buf_json_str(b, val, len);
        else sy_buf_puts(b, "null");
    }
    sy_buf_puts(b, "},\"value\":");
    value_json(m, b);
    sy_buf_putc(b, '}');
}

/* A string member for the terminal: control characters escaped (ESC,
 * CR and the like in a job's id or a model's output would drive the
 * terminal or overwrite the row), cut to fit buf; `none` if absent. */
static const char *cell(json_t *obj, const char *name, char *buf, size_t size, const char *none)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v)) return none;
    sy_escape_ctl(buf, size, json_string_value(v), json_string_length(v));
    return buf;
}

static void print_table_row(const char *json, size_t len)
{
    json_t *r = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    json_t *tok = json_object_get(r, "tokens"), *err = json_object_get(r, "error");
    char id[17], status[8], model[17], brief[41];
    const char *b = cell(r, "output", brief, sizeof brief, NULL) ?: cell(err, "class", brief, sizeof brief, "");
    printf("%-16.16s %-7s %-16.16s %6lld %6lld %9.6f %7lld  %s\n",
           cell(r, "job_id", id, sizeof id, "?"), cell(r, "status", status, sizeof status, "?"),
           cell(r, "model", model, sizeof model, "-"),
           (long long)json_integer_value(json_object_get(tok, "in")),
           (long long)json_integer_value(json_object_get(tok, "out")),
           json_number_value(json_object_get(r, "cost_usd")),
           (long long)json_integer_value(json_object_get(r, "latency_ms")), b);
    json_decref(r);
}

/* Bytes as a JSON string, cut to max bytes, invalid UTF-8 replaced (what
 * a Kafka key or header may hold), or NULL. */
static json_t *text_json(const void *p, size_t n, size_t max, sy_buf *scratch)
{
    if (!p) return NULL;
    sy_buf_reset(scratch);
    sy_buf_json_str(scratch, p, n < max ? n : max);
    return json_loadb(scratch->data, scratch->len, JSON_DECODE_ANY, NULL);
}

static json_t *header_json(const rd_kafka_message_t *m, const char *name, sy_buf *scratch)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n)) return NULL;
    return text_json(v, n, 2048, scratch);
}

/* --openai-batch-output: the record's line, once per custom_id (and only
 * the wanted ones with --batch-input). */
static void print_batch_line(results_opts *o, const rd_kafka_message_t *m, sy_buf *b)
{
    sy_batch_record rec = {.partition = (int)m->partition, .offset = m->offset};
    if (o->dlq_topic && !strcmp(rd_kafka_topic_name(m->rkt), o->dlq_topic)) {
        rec.key = text_json(m->key, m->key_len, 1024, b);
        rec.dl_class = header_json(m, "switchyard.error.class", b);
        rec.dl_message = header_json(m, "switchyard.error.message", b);
        if (!rec.dl_class) rec.dl_class = json_string("unknown");
    } else {
        value_json(m, b);
        rec.value = json_loadb(b->data, b->len, 0, NULL);
    }
    json_t *line = sy_openai_batch_line(&rec);
    json_decref(rec.value);
    json_decref(rec.key);
    json_decref(rec.dl_class);
    json_decref(rec.dl_message);
    const char *id = json_string_value(json_object_get(line, "custom_id"));
    if (id && !json_object_get(o->printed, id) && (!o->wanted || json_object_get(o->wanted, id))) {
        json_object_set_new(o->printed, id, json_true());
        char *text = json_dumps(line, JSON_COMPACT);
        if (text) puts(text);
        free(text);
    }
    json_decref(line);
}

static void print_message(results_opts *o, const rd_kafka_message_t *m, sy_buf *b)
{
    sy_buf_reset(b);
    if (o->openai) {
        print_batch_line(o, m, b);
        return;
    }
    if (o->headers) print_with_headers(m, b);
    else value_json(m, b);
    if (o->table) print_table_row(b->data, b->len);
    else {
        sy_buf_putc(b, '\n');
        fwrite(b->data, 1, b->len, stdout);
    }
}

/* Assign every partition of the topic (and of the dead-letter topic with
 * --dlq). A topic is looked up in the list of all topics, not by name: a
 * metadata request naming a topic may create it (the embedded broker
 * always does), and a mistyped name is an error. */
static int assign_all(rd_kafka_t *rk, const results_opts *o)
{
    char err[1400];
    const rd_kafka_metadata_t *md = sy_kafka_reach(rk, &o->kafka, KAFKA_ANSWER_MS, err, sizeof err);
    const char *topics[] = {o->topic, o->dlq_topic};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    int rc = md ? 0 : -1;
    for (size_t k = 0; md && rc == 0 && k < 2 && topics[k]; k++) {
        const rd_kafka_metadata_topic_t *t = sy_kafka_md_topic(md, topics[k]);
        if (!t) {
            sy_kafka_no_topic(md, &o->kafka, topics[k], err, sizeof err);
            rc = -1;
            break;
        }
        for (int p = 0; p < t->partition_cnt; p++)
            rd_kafka_topic_partition_list_add(l, topics[k], t->partitions[p].id)->offset =
                o->from_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (rc) fprintf(stderr, "switchyard results: %s\n", err);
    else rc = rd_kafka_assign(rk, l) ? -1 : 0;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- --batch-input: the custom_ids to wait for ---- */

static void want_job(void *ctx, const sy_job *j)
{
    json_object_set_new(ctx, j->idempotency_key, json_true());
}

static void bad_input_line(void *ctx, const char *where, const char *why)
{
    (void)ctx;
    fprintf(stderr, "%s: %s\n", where, why);
}

static int read_wanted(results_opts *o)
{
    FILE *f = fopen(o->batch_input, "r");
    if (!f) {
        fprintf(stderr, "switchyard results: cannot open %s\n", o->batch_input);
        return -1;
    }
    o->wanted = json_object();
    sy_input in = {.file = o->batch_input, .task = "-", .job = want_job, .reject = bad_input_line,
                   .ctx = o->wanted};
    sy_input_openai_batch(&in, f);
    fclose(f);
    return 0;
}

static bool all_printed(const results_opts *o)
{
    return o->wanted && json_object_size(o->printed) >= json_object_size(o->wanted);
}

int cmd_results(int argc, char **argv)
{
    results_opts o = {.timeout_ms = 10000};
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc;
    o.printed = json_object();
    if (o.batch_input && read_wanted(&o)) {
        json_decref(o.printed);
        return 1;
    }
    sy_log_init("results", SY_LOG_WARN);
    sy_install_stop_signals();
    char err[512], group[64];
    snprintf(group, sizeof group, "switchyard-results-%lld", (long long)sy_now_ms());
    rd_kafka_t *rk = sy_kafka_consumer(&o.kafka, group, NULL, NULL, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "switchyard results: %s\n", err);
        return 1;
    }
    long seen = 0;
    rc = assign_all(rk, &o);
    if (rc == 0) {
        if (o.table) printf("%-16s %-7s %-16s %6s %6s %9s %7s  %s\n", "job", "status", "model",
                            "in", "out", "cost $", "ms", "output");
        sy_buf b;
        sy_buf_init(&b);
        int64_t last = sy_mono_us();
        while (!sy_stop_requested && (o.count <= 0 || seen < o.count) && !all_printed(&o)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (m && !m->err) {
                print_message(&o, m, &b);
                seen++;
                last = sy_mono_us();
            }
            if (m) rd_kafka_message_destroy(m);
            if (!o.follow && sy_mono_us() - last > (int64_t)o.timeout_ms * 1000) break;
        }
        sy_buf_free(&b);
        fflush(stdout);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    size_t missing = o.wanted ? json_object_size(o.wanted) - json_object_size(o.printed) : 0;
    if (missing)
        fprintf(stderr, "switchyard results: %zu of %zu custom_ids of %s have no line yet\n", missing,
                json_object_size(o.wanted), o.batch_input);
    json_decref(o.wanted);
    json_decref(o.printed);
    return rc || missing || (o.count > 0 && seen < o.count) ? 1 : 0;
}
