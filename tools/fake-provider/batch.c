/* batch.c -- the fake provider's batch APIs: OpenAI files and batches,
 * Anthropic message batches.
 *
 * Everything lives in memory: uploaded files (POST /v1/files, multipart,
 * purpose=batch) and batches. A batch is processed all at once when its
 * processing time (--batch-ms) has passed and someone looks at it (GET): each
 * line goes through the same decision as a synchronous call (api.c's
 * fp_api_call, which main.c hands to fp_batch_init: batch.c calls nothing
 * of api.c's, api.c routes to batch.c), so markers such as [[status:500]] or [[fail-first:N]] in a
 * line's prompt give that line an error, and the answers are the chat
 * answers. Lines that answer 200 go to the output file; the others, and
 * lines cut off by --batch-expire-after, to the error file. A cancelled
 * batch carries no results. --batch-hostile adds a duplicate of every
 * output line, a line with an unknown custom_id and a line that is not
 * JSON, for the client's matching code.
 *
 * Both listings (GET /v1/batches, GET /v1/messages/batches) are newest
 * first and paginated as the real ones are (OpenAI: limit, after; answer
 * has_more, first_id, last_id. Anthropic: limit, after_id, before_id; the
 * same answer fields); --list-page N caps a page at N so that tests see
 * the paging.
 *
 * GET /batch-stats counts batches created and how often each custom_id was
 * submitted in a created batch (dup_custom_ids > 0 means a job was sent
 * twice), which the crash tests assert on, and the reads of an OpenAI
 * batch or its files with another API key than its creator's
 * (foreign_reads: another client polled or downloaded it). A create's
 * metadata is held to OpenAI's limits (16 pairs, keys up to 64
 * characters, string values up to 512) and echoed in the batch. */
#include "fake.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_LINES = 50000, ID_LEN = 48 };

typedef struct fp_file {
    char id[ID_LEN];
    sy_buf data;
    uint32_t downloads;     /* GETs of its content (/batch-stats: max_output_downloads) */
} fp_file;

typedef enum bstate { B_VALIDATING, B_IN_PROGRESS, B_COMPLETED, B_FAILED, B_EXPIRED, B_CANCELLING, B_CANCELLED } bstate;

static const char *const bstate_names[] = {"validating", "in_progress", "completed", "failed",
                                           "expired", "cancelling", "cancelled"};

typedef struct fp_batch {
    char id[ID_LEN], input_file_id[ID_LEN], output_file_id[ID_LEN], error_file_id[ID_LEN];
    fp_api api;             /* FP_API_OPENAI or FP_API_ANTHROPIC */
    bstate state;
    int64_t created_ms, due_ms, ended_ms;
    char *key;              /* the creator's key, for the lines' calls */
    char *metadata;         /* JSON object as given, or NULL */
    char *requests;         /* Anthropic: the requests array as JSON */
    sy_buf errors;          /* "errors.data" items for a failed batch */
    int64_t total, completed, failed;
    uint32_t foreign_reads; /* GETs of it or its files with another key than `key` */
} fp_batch;

static struct {
    fp_file *files;
    size_t nfiles, capfiles;
    fp_batch *batches;
    size_t nbatches, capbatches;
    /* custom_id hash -> times submitted in a created batch (open addressing) */
    uint64_t *ids;
    uint32_t *counts;
    size_t idcap, idn;
    uint64_t lines, dups;
    uint32_t max_per_id;
} bs;

/* ---- small helpers ---- */

static int slice_eq(fp_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.p && s.n == n && memcmp(s.p, str, n) == 0;
}

static int slice_starts(fp_slice s, const char *pre, fp_slice *rest)
{
    size_t n = strlen(pre);
    if (!s.p || s.n < n || memcmp(s.p, pre, n)) return 0;
    rest->p = s.p + n;
    rest->n = s.n - n;
    return 1;
}

static void new_id(char *out, const char *prefix)
{
    static uint64_t counter;
    uint64_t v = ++counter ^ (fp_cfg.seed * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)sy_now_ms() << 20;
    snprintf(out, ID_LEN, "%s%016llx", prefix, (unsigned long long)sy_hash64(&v, sizeof v));
}

static void error_reply(fp_reply *rp, int status, const char *msg)
{
    rp->status = status;
    sy_buf_reset(&rp->body);
    sy_buf_puts(&rp->body, "{\"error\":{\"message\":");
    sy_buf_json_cstr(&rp->body, msg);
    sy_buf_puts(&rp->body, ",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
}

static fp_file *file_find(fp_slice id)
{
    for (size_t i = 0; i < bs.nfiles; i++)
        if (slice_eq(id, bs.files[i].id)) return &bs.files[i];
    return NULL;
}

static fp_file *file_new(const char *prefix)
{
    if (bs.nfiles == bs.capfiles) {
        bs.capfiles = bs.capfiles ? bs.capfiles * 2 : 16;
        bs.files = sy_xrealloc(bs.files, bs.capfiles * sizeof *bs.files);
    }
    fp_file *f = &bs.files[bs.nfiles++];
    *f = (fp_file){0};
    new_id(f->id, prefix);
    sy_buf_init(&f->data);
    return f;
}

static fp_batch *batch_find(fp_slice id)
{
    for (size_t i = 0; i < bs.nbatches; i++)
        if (slice_eq(id, bs.batches[i].id)) return &bs.batches[i];
    return NULL;
}

/* Count one submission of custom_id; a second one is a duplicate. */
static void count_custom_id(const char *id)
{
    if (bs.idn * 2 >= bs.idcap) {
        size_t oldcap = bs.idcap;
        uint64_t *oldids = bs.ids;
        uint32_t *oldcounts = bs.counts;
        bs.idcap = oldcap ? oldcap * 2 : 1024;
        bs.ids = sy_xcalloc(bs.idcap, sizeof *bs.ids);
        bs.counts = sy_xcalloc(bs.idcap, sizeof *bs.counts);
        bs.idn = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (!oldcounts[i]) continue;
            size_t j = oldids[i] & (bs.idcap - 1);
            while (bs.counts[j]) j = (j + 1) & (bs.idcap - 1);
            bs.ids[j] = oldids[i];
            bs.counts[j] = oldcounts[i];
            bs.idn++;
        }
        free(oldids);
        free(oldcounts);
    }
    uint64_t h = sy_hash64(id, strlen(id)) | 1;
    size_t j = h & (bs.idcap - 1);
    while (bs.counts[j] && bs.ids[j] != h) j = (j + 1) & (bs.idcap - 1);
    if (!bs.counts[j]) bs.idn++;
    bs.ids[j] = h;
    if (++bs.counts[j] == 2) bs.dups++;
    if (bs.counts[j] > bs.max_per_id) bs.max_per_id = bs.counts[j];
    bs.lines++;
}

/* ---- POST /v1/files: multipart/form-data with `purpose` and `file` ---- */

/* The boundary is the body's first line ("--BOUNDARY"), so the
 * Content-Type header is not needed. Finds part `name`'s content. */
static int multipart_part(fp_slice body, const char *name, fp_slice *out)
{
    const char *p = body.p, *end = body.p + body.n;
    const char *eol = p ? memchr(p, '\r', body.n) : NULL;
    if (!eol || body.n < 4 || p[0] != '-' || p[1] != '-' || eol - p > 200) return -1;
    char delim[256];
    int dn = snprintf(delim, sizeof delim, "\r\n%.*s", (int)(eol - p), p);
    char want[80];
    snprintf(want, sizeof want, "name=\"%s\"", name);
    const char *part = eol + 2;
    while (part < end) {
        const char *hdr_end = memmem(part, (size_t)(end - part), "\r\n\r\n", 4);
        if (!hdr_end) return -1;
        const char *content = hdr_end + 4;
        const char *next = memmem(content, (size_t)(end - content), delim, (size_t)dn);
        if (!next) return -1;
        if (memmem(part, (size_t)(hdr_end - part), want, strlen(want))) {
            out->p = content;
            out->n = (size_t)(next - content);
            return 0;
        }
        part = next + dn + 2; /* past "\r\n" or "--" */
    }
    return -1;
}

static void file_json(sy_buf *b, const fp_file *f, const char *purpose)
{
    sy_buf_printf(b, "{\"id\":\"%s\",\"object\":\"file\",\"bytes\":%zu,\"created_at\":%lld,"
                     "\"filename\":\"batch.jsonl\",\"purpose\":\"%s\",\"status\":\"processed\"}",
                  f->id, f->data.len, (long long)(sy_now_ms() / 1000), purpose);
}

static void files_upload(const fp_request *rq, fp_reply *rp)
{
    fp_slice purpose, content;
    if (multipart_part(rq->body, "purpose", &purpose) || multipart_part(rq->body, "file", &content)) {
        error_reply(rp, 400, "expected a multipart/form-data body with fields 'purpose' and 'file'");
        return;
    }
    if (!slice_eq(purpose, "batch")) {
        error_reply(rp, 400, "purpose must be 'batch'");
        return;
    }
    fp_file *f = file_new("file-");
    sy_buf_append(&f->data, content.p, content.n);
    file_json(&rp->body, f, "batch");
}

/* ---- running the lines ---- */

static fp_call_fn *line_call; /* fp_api_call, from fp_batch_init */

void fp_batch_init(fp_call_fn *call)
{
    line_call = call;
}

/* One line's synchronous answer: status (0 = would hang) and body. */
static int run_line(fp_api api, const char *key, const char *body, size_t n, fp_reply *out)
{
    fp_request rq;
    memset(&rq, 0, sizeof rq);
    char auth[300];
    rq.method = (fp_slice){"POST", 4};
    rq.body = (fp_slice){body, n};
    if (api == FP_API_ANTHROPIC) {
        rq.api_key = (fp_slice){key, strlen(key)};
        rq.anthropic_version = (fp_slice){"2023-06-01", 10};
    } else {
        snprintf(auth, sizeof auth, "Bearer %s", key);
        rq.authorization = (fp_slice){auth, strlen(auth)};
    }
    line_call(api, &rq, out);
    return out->status;
}

static void openai_out_line(sy_buf *b, const char *custom_id, int status, const sy_buf *body, const char *err_code)
{
    char id[ID_LEN];
    new_id(id, "batch_req_");
    sy_buf_printf(b, "{\"id\":\"%s\",\"custom_id\":", id);
    sy_buf_json_cstr(b, custom_id);
    if (err_code) {
        sy_buf_puts(b, ",\"response\":null,\"error\":{\"code\":");
        sy_buf_json_cstr(b, err_code);
        sy_buf_puts(b, ",\"message\":\"This request could not be executed before the batch ended.\"}}\n");
        return;
    }
    char rid[ID_LEN];
    new_id(rid, "req_");
    sy_buf_printf(b, ",\"response\":{\"status_code\":%d,\"request_id\":\"%s\",\"body\":", status, rid);
    sy_buf_append(b, body->data, body->len);
    sy_buf_puts(b, "},\"error\":null}\n");
}

static void anthropic_out_line(sy_buf *b, const char *custom_id, int status, const sy_buf *body, const char *kind)
{
    sy_buf_puts(b, "{\"custom_id\":");
    sy_buf_json_cstr(b, custom_id);
    if (kind) sy_buf_printf(b, ",\"result\":{\"type\":\"%s\"}}\n", kind);
    else if (status == 200) {
        sy_buf_puts(b, ",\"result\":{\"type\":\"succeeded\",\"message\":");
        sy_buf_append(b, body->data, body->len);
        sy_buf_puts(b, "}}\n");
    } else {
        sy_buf_puts(b, ",\"result\":{\"type\":\"errored\",\"error\":");
        sy_buf_append(b, body->data, body->len);
        sy_buf_puts(b, "}}\n");
    }
}

/* The batch's lines as (custom_id, body JSON) pairs, validated. */
typedef struct bline {
    char *custom_id;
    char *body;
} bline;

static void lines_free(bline *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].custom_id);
        free(l[i].body);
    }
    free(l);
}

static void batch_fail(fp_batch *b, const char *code, const char *msg, size_t line)
{
    if (b->errors.len) sy_buf_putc(&b->errors, ',');
    sy_buf_puts(&b->errors, "{\"code\":");
    sy_buf_json_cstr(&b->errors, code);
    sy_buf_puts(&b->errors, ",\"message\":");
    sy_buf_json_cstr(&b->errors, msg);
    sy_buf_printf(&b->errors, ",\"param\":null,\"line\":%zu}", line);
    b->state = B_FAILED;
}

static int dup_in(const bline *l, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].custom_id, id)) return 1;
    return 0;
}

/* OpenAI: read the input file's JSONL. NULL (and the batch failed) if invalid. */
static bline *openai_lines(fp_batch *b, const fp_file *f, size_t *nout)
{
    bline *l = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    const char *p = f->data.data, *end = p + f->data.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (le > p) {
            json_error_t err;
            json_t *o = json_loadb(p, (size_t)(le - p), 0, &err);
            const char *cid = json_string_value(json_object_get(o, "custom_id"));
            const char *url = json_string_value(json_object_get(o, "url"));
            json_t *body = json_object_get(o, "body");
            const char *why = !o ? "line is not JSON" : !cid || !*cid ? "custom_id missing"
                              : !url || strcmp(url, "/v1/chat/completions") ? "url must be /v1/chat/completions"
                              : !json_is_object(body) ? "body must be an object"
                              : n >= MAX_LINES ? "too many lines" : dup_in(l, n, cid) ? "duplicate custom_id" : NULL;
            if (why) {
                batch_fail(b, "invalid_request", why, lineno);
                json_decref(o);
                lines_free(l, n);
                return NULL;
            }
            if (n == cap) l = sy_xrealloc(l, (cap = cap ? cap * 2 : 64) * sizeof *l);
            l[n].custom_id = sy_xstrdup(cid);
            l[n].body = json_dumps(body, JSON_COMPACT);
            n++;
            json_decref(o);
        }
        p = nl ? nl + 1 : end;
    }
    *nout = n;
    return l;
}

static bline *anthropic_lines(fp_batch *b, size_t *nout)
{
    json_t *a = json_loads(b->requests, 0, NULL);
    size_t n = json_array_size(a);
    bline *l = sy_xcalloc(n ? n : 1, sizeof *l);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(a, i);
        l[i].custom_id = sy_xstrdup(json_string_value(json_object_get(r, "custom_id")));
        l[i].body = json_dumps(json_object_get(r, "params"), JSON_COMPACT);
    }
    json_decref(a);
    *nout = n;
    return l;
}

/* Run every line now: the batch has reached its end. */
static void batch_process(fp_batch *b)
{
    size_t n = 0;
    bline *l = NULL;
    if (b->api == FP_API_OPENAI) {
        fp_file *in = file_find((fp_slice){b->input_file_id, strlen(b->input_file_id)});
        l = in ? openai_lines(b, in, &n) : NULL;
        if (!in) batch_fail(b, "invalid_request", "input file not found", 0);
        if (!l) { b->ended_ms = sy_now_ms(); return; }
    } else {
        l = anthropic_lines(b, &n);
    }
    file_new("file-"); /* the second may move the array: both are taken after it */
    file_new("file-");
    fp_file *out = &bs.files[bs.nfiles - 2], *err = &bs.files[bs.nfiles - 1];
    snprintf(b->output_file_id, ID_LEN, "%s", out->id);
    snprintf(b->error_file_id, ID_LEN, "%s", err->id);
    fp_reply rp;
    fp_reply_init(&rp);
    int expired = 0;
    for (size_t i = 0; i < n; i++) {
        if (fp_cfg.batch_expire_after >= 0 && (int64_t)i >= fp_cfg.batch_expire_after) {
            expired = 1;
            b->failed++;
            if (b->api == FP_API_OPENAI) openai_out_line(&err->data, l[i].custom_id, 0, NULL, "batch_expired");
            else anthropic_out_line(&out->data, l[i].custom_id, 0, NULL, "expired");
            continue;
        }
        if (b->api == FP_API_OPENAI && strstr(l[i].body, "[[echo-key:code]]")) {
            /* a line error whose code repeats the key (tests/integration/keys.sh) */
            char code[80];
            snprintf(code, sizeof code, "invalid_key_%s", b->key ? b->key : "");
            b->failed++;
            openai_out_line(&err->data, l[i].custom_id, 0, NULL, code);
            continue;
        }
        int status = run_line(b->api, b->key, l[i].body, strlen(l[i].body), &rp);
        const char *code = status == 0 ? "timeout" : NULL;
        fp_file *to = status == 200 || b->api == FP_API_ANTHROPIC ? out : err;
        if (status == 200) b->completed++;
        else b->failed++;
        sy_buf *dst = &to->data;
        size_t mark = dst->len;
        if (b->api == FP_API_OPENAI) openai_out_line(dst, l[i].custom_id, status, &rp.body, code);
        else anthropic_out_line(dst, l[i].custom_id, status, &rp.body, code ? "errored" : NULL);
        if (fp_cfg.batch_hostile && status == 200) { /* the same line again */
            size_t len = dst->len - mark;
            sy_buf_reserve(dst, len);
            sy_buf_append(dst, dst->data + mark, len);
        }
    }
    if (fp_cfg.batch_hostile)
        sy_buf_puts(&out->data, "{\"id\":\"x\",\"custom_id\":\"not-in-this-batch\",\"response\":null,\"error\":null}\n"
                                "this line is not JSON\n");
    fp_reply_reset(&rp);
    sy_buf_free(&rp.headers);
    sy_buf_free(&rp.body);
    sy_buf_free(&rp.call);
    lines_free(l, n);
    b->state = expired ? B_EXPIRED : B_COMPLETED;
    b->ended_ms = sy_now_ms();
}

/* Move the batch along its states as time passes. */
static void batch_advance(fp_batch *b)
{
    int64_t now = sy_now_ms();
    if (b->state == B_CANCELLING) {
        if (now - b->ended_ms >= 100) b->state = B_CANCELLED;
        return;
    }
    if (b->state != B_VALIDATING && b->state != B_IN_PROGRESS) return;
    if (now >= b->due_ms) batch_process(b);
    else if (now >= b->created_ms + (b->due_ms - b->created_ms) / 10) b->state = B_IN_PROGRESS;
}

static void openai_batch_json(sy_buf *o, const fp_batch *b)
{
    sy_buf_printf(o, "{\"id\":\"%s\",\"object\":\"batch\",\"endpoint\":\"/v1/chat/completions\",\"errors\":", b->id);
    if (b->errors.len) sy_buf_printf(o, "{\"object\":\"list\",\"data\":[%.*s]}", (int)b->errors.len, b->errors.data);
    else sy_buf_puts(o, "null");
    sy_buf_printf(o, ",\"input_file_id\":\"%s\",\"completion_window\":\"24h\",\"status\":\"%s\",",
                  b->input_file_id, bstate_names[b->state]);
    int has_files = b->state == B_COMPLETED || b->state == B_EXPIRED;
    if (has_files) sy_buf_printf(o, "\"output_file_id\":\"%s\",\"error_file_id\":\"%s\",", b->output_file_id, b->error_file_id);
    else sy_buf_puts(o, "\"output_file_id\":null,\"error_file_id\":null,");
    sy_buf_printf(o, "\"created_at\":%lld,\"expires_at\":%lld,\"request_counts\":{\"total\":%lld,"
                     "\"completed\":%lld,\"failed\":%lld},\"metadata\":%s}",
                  (long long)(b->created_ms / 1000), (long long)(b->created_ms / 1000 + 86400), (long long)b->total,
                  (long long)b->completed, (long long)b->failed, b->metadata ? b->metadata : "null");
}

/* An RFC 3339 time of a wall-clock millisecond, as Anthropic writes them. */
static void rfc3339(sy_buf *o, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    sy_buf_printf(o, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void anthropic_batch_json(sy_buf *o, const fp_batch *b)
{
    int ended = b->state == B_COMPLETED || b->state == B_EXPIRED || b->state == B_CANCELLED;
    sy_buf_printf(o, "{\"id\":\"%s\",\"type\":\"message_batch\",\"processing_status\":\"%s\","
                     "\"request_counts\":{\"processing\":%lld,\"succeeded\":%lld,\"errored\":%lld,"
                     "\"canceled\":%lld,\"expired\":%lld},\"created_at\":",
                  b->id, ended ? "ended" : b->state == B_CANCELLING ? "canceling" : "in_progress",
                  (long long)(ended ? 0 : b->total), (long long)b->completed,
                  (long long)(b->state == B_EXPIRED ? 0 : b->failed),
                  (long long)(b->state == B_CANCELLED ? b->total : 0),
                  (long long)(b->state == B_EXPIRED ? b->failed : 0));
    rfc3339(o, b->created_ms);
    sy_buf_puts(o, ",\"ended_at\":");
    if (ended) rfc3339(o, b->ended_ms);
    else sy_buf_puts(o, "null");
    if (ended && b->state != B_CANCELLED)
        sy_buf_printf(o, ",\"results_url\":\"/v1/messages/batches/%s/results\"}", b->id);
    else
        sy_buf_puts(o, ",\"results_url\":null}");
}

static fp_batch *batch_new(fp_api api, fp_slice key)
{
    if (bs.nbatches == bs.capbatches) {
        bs.capbatches = bs.capbatches ? bs.capbatches * 2 : 16;
        bs.batches = sy_xrealloc(bs.batches, bs.capbatches * sizeof *bs.batches);
    }
    fp_batch *b = &bs.batches[bs.nbatches++];
    memset(b, 0, sizeof *b);
    new_id(b->id, api == FP_API_OPENAI ? "batch_" : "msgbatch_");
    b->api = api;
    b->created_ms = sy_now_ms();
    b->due_ms = b->created_ms + fp_cfg.batch_ms;
    b->key = sy_xstrndup(key.p, key.n);
    sy_buf_init(&b->errors);
    return b;
}

/* ---- OpenAI /v1/batches ---- */

static fp_slice bearer(const fp_request *rq)
{
    fp_slice k = rq->authorization;
    if (k.p && k.n > 7 && !strncmp(k.p, "Bearer ", 7)) return (fp_slice){k.p + 7, k.n - 7};
    return (fp_slice){NULL, 0};
}

/* Count the custom_ids of a batch just created (sent to the "model"). */
static void count_openai_ids(const fp_file *f)
{
    const char *p = f->data.data, *end = p + f->data.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        json_t *o = json_loadb(p, (size_t)(le - p), 0, NULL);
        const char *cid = json_string_value(json_object_get(o, "custom_id"));
        if (cid) count_custom_id(cid);
        json_decref(o);
        p = nl ? nl + 1 : end;
    }
}

/* NULL when a create's metadata keeps OpenAI's limits, else why not. */
static const char *metadata_bad(json_t *md)
{
    if (!md || json_is_null(md)) return NULL;
    if (!json_is_object(md)) return "metadata must be an object";
    if (json_object_size(md) > 16) return "metadata: at most 16 pairs";
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v) {
        if (strlen(k) > 64) return "metadata: keys are at most 64 characters";
        if (!json_is_string(v) || json_string_length(v) > 512) return "metadata: values are strings of at most 512 characters";
    }
    return NULL;
}

/* A GET of a batch or its files by another key than its creator's. */
static void note_reader(fp_batch *b, fp_slice key)
{
    if (b->key && !slice_eq(key, b->key)) b->foreign_reads++;
}

/* A create refused with a message that repeats the key, spans two lines
 * and runs past 200 bytes: an input file holding [[echo-key:create]]
 * (tests/integration/keys.sh). */
static void refuse_echoing_key(const fp_request *rq, fp_reply *rp)
{
    fp_slice k = bearer(rq);
    sy_buf m;
    sy_buf_init(&m);
    sy_buf_printf(&m, "batch refused for key %.*s:\nsecond line", (int)k.n, k.p ? k.p : "");
    for (int i = 0; i < 30; i++) sy_buf_puts(&m, " padding.");
    sy_buf_puts(&m, " END-OF-REFUSAL");
    error_reply(rp, 400, sy_buf_cstr(&m));
    sy_buf_free(&m);
}

static void batches_create(const fp_request *rq, fp_reply *rp)
{
    json_t *o = json_loadb(rq->body.p ? rq->body.p : "", rq->body.n, 0, NULL);
    const char *in = json_string_value(json_object_get(o, "input_file_id"));
    const char *ep = json_string_value(json_object_get(o, "endpoint"));
    const char *win = json_string_value(json_object_get(o, "completion_window"));
    json_t *md = json_object_get(o, "metadata");
    fp_file *f = in ? file_find((fp_slice){in, strlen(in)}) : NULL;
    if (!o) error_reply(rp, 400, "We could not parse the JSON body of your request.");
    else if (!f) error_reply(rp, 400, "input_file_id: no such file");
    else if (!ep || strcmp(ep, "/v1/chat/completions")) error_reply(rp, 400, "endpoint must be /v1/chat/completions");
    else if (!win || strcmp(win, "24h")) error_reply(rp, 400, "completion_window must be 24h");
    else if (metadata_bad(md)) error_reply(rp, 400, metadata_bad(md));
    else if (f->data.len && memmem(f->data.data, f->data.len, "[[echo-key:create]]", 19)) refuse_echoing_key(rq, rp);
    else {
        fp_batch *b = batch_new(FP_API_OPENAI, bearer(rq));
        snprintf(b->input_file_id, ID_LEN, "%s", in);
        if (json_is_object(md)) b->metadata = json_dumps(md, JSON_COMPACT);
        for (const char *p = f->data.data, *e = p + f->data.len; p && p < e; p++) b->total += *p == '\n';
        if (f->data.len && f->data.data[f->data.len - 1] != '\n') b->total++;
        count_openai_ids(f);
        openai_batch_json(&rp->body, b);
    }
    json_decref(o);
}

static void anthropic_error(fp_reply *rp, int status, const char *type, const char *msg);

/* The query parameter `name` of the request's path, cut to n-1 bytes: 1
 * when present. */
static int query_param(const fp_request *rq, const char *name, char *out, size_t n)
{
    const char *q = memchr(rq->path.p, '?', rq->path.n), *end = rq->path.p + rq->path.n;
    size_t len = strlen(name);
    for (const char *p = q; p && p < end;) {
        p++; /* past '?' or '&' */
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        if ((size_t)(e - p) > len && !memcmp(p, name, len) && p[len] == '=') {
            size_t v = (size_t)(e - p) - len - 1;
            if (v >= n) v = n - 1;
            memcpy(out, p + len + 1, v);
            out[v] = '\0';
            return 1;
        }
        p = amp;
    }
    return 0;
}

/* GET /v1/batches and /v1/messages/batches: one page of the API's batches,
 * newest first, after (or before) a cursor id. */
static void batches_list(const fp_request *rq, fp_reply *rp, fp_api api)
{
    char v[ID_LEN + 8] = "";
    int64_t limit = 20;
    if (query_param(rq, "limit", v, sizeof v)) limit = strtoll(v, NULL, 10);
    if (limit < 1 || limit > 100) {
        if (api == FP_API_ANTHROPIC) anthropic_error(rp, 400, "invalid_request_error", "limit must be 1..100");
        else error_reply(rp, 400, "limit must be 1..100");
        return;
    }
    if (fp_cfg.list_page > 0 && limit > fp_cfg.list_page) limit = fp_cfg.list_page;
    size_t *idx = sy_xcalloc(bs.nbatches + 1, sizeof *idx), n = 0; /* this API's, newest first */
    for (size_t i = bs.nbatches; i-- > 0;)
        if (bs.batches[i].api == api) idx[n++] = i;
    size_t from = 0, to = n; /* positions in idx */
    int before = 0;
    if (query_param(rq, api == FP_API_ANTHROPIC ? "after_id" : "after", v, sizeof v)) {
        while (from < n && strcmp(bs.batches[idx[from]].id, v)) from++;
        from = from < n ? from + 1 : n;
    } else if (api == FP_API_ANTHROPIC && query_param(rq, "before_id", v, sizeof v)) {
        while (to > 0 && strcmp(bs.batches[idx[to - 1]].id, v)) to--;
        to = to > 0 ? to - 1 : 0;
        before = 1;
    }
    if (to - from > (size_t)limit) {
        if (before) from = to - (size_t)limit;
        else to = from + (size_t)limit;
    }
    int more = before ? from > 0 : to < n;
    sy_buf_puts(&rp->body, api == FP_API_ANTHROPIC ? "{\"data\":[" : "{\"object\":\"list\",\"data\":[");
    for (size_t i = from; i < to; i++) {
        fp_batch *b = &bs.batches[idx[i]];
        batch_advance(b);
        if (i > from) sy_buf_putc(&rp->body, ',');
        if (api == FP_API_ANTHROPIC) anthropic_batch_json(&rp->body, b);
        else openai_batch_json(&rp->body, b);
    }
    if (to > from)
        sy_buf_printf(&rp->body, "],\"first_id\":\"%s\",\"last_id\":\"%s\"", bs.batches[idx[from]].id,
                      bs.batches[idx[to - 1]].id);
    else
        sy_buf_puts(&rp->body, "],\"first_id\":null,\"last_id\":null");
    sy_buf_printf(&rp->body, ",\"has_more\":%s}", more ? "true" : "false");
    free(idx);
}

static void batch_cancel(fp_batch *b)
{
    batch_advance(b);
    if (b->state == B_VALIDATING || b->state == B_IN_PROGRESS) {
        b->state = B_CANCELLING;
        b->ended_ms = sy_now_ms();
    }
}

/* /v1/batches[/{id}[/cancel]] */
static void openai_batches(const fp_request *rq, fp_slice rest, fp_reply *rp)
{
    int get = slice_eq(rq->method, "GET"), post = slice_eq(rq->method, "POST");
    if (rest.n == 0) {
        if (post) batches_create(rq, rp);
        else if (get) batches_list(rq, rp, FP_API_OPENAI);
        else error_reply(rp, 405, "Method not allowed");
        return;
    }
    if (rest.p[0] != '/') { error_reply(rp, 404, "Unknown request URL"); return; }
    fp_slice id = {rest.p + 1, rest.n - 1};
    const char *slash = memchr(id.p, '/', id.n);
    int cancel = 0;
    if (slash) {
        fp_slice tail = {slash, (size_t)(id.p + id.n - slash)};
        if (!slice_eq(tail, "/cancel") || !post) { error_reply(rp, 404, "Unknown request URL"); return; }
        id.n = (size_t)(slash - id.p);
        cancel = 1;
    } else if (!get) {
        error_reply(rp, 405, "Method not allowed");
        return;
    }
    fp_batch *b = batch_find(id);
    if (!b || b->api != FP_API_OPENAI) { error_reply(rp, 404, "No batch found with that id"); return; }
    if (cancel) batch_cancel(b);
    else {
        note_reader(b, bearer(rq));
        batch_advance(b);
    }
    openai_batch_json(&rp->body, b);
}

/* /v1/files/{id}/content */
static void files_get(const fp_request *rq, fp_slice rest, fp_reply *rp)
{
    static const char tail[] = "/content";
    if (!slice_eq(rq->method, "GET") || rest.n < sizeof tail || rest.p[0] != '/' ||
        memcmp(rest.p + rest.n - (sizeof tail - 1), tail, sizeof tail - 1)) {
        error_reply(rp, 404, "Unknown request URL");
        return;
    }
    fp_file *f = file_find((fp_slice){rest.p + 1, rest.n - sizeof tail});
    if (!f) { error_reply(rp, 404, "No such file"); return; }
    f->downloads++;
    for (size_t i = 0; i < bs.nbatches; i++) {
        fp_batch *b = &bs.batches[i];
        if (b->api == FP_API_OPENAI && (!strcmp(b->input_file_id, f->id) || !strcmp(b->output_file_id, f->id) ||
                                        !strcmp(b->error_file_id, f->id)))
            note_reader(b, bearer(rq));
    }
    rp->content_type = "application/octet-stream";
    sy_buf_append(&rp->body, f->data.data, f->data.len);
}

/* ---- Anthropic /v1/messages/batches ---- */

static int anthropic_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static void anthropic_error(fp_reply *rp, int status, const char *type, const char *msg)
{
    rp->status = status;
    sy_buf_reset(&rp->body);
    sy_buf_printf(&rp->body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", type);
    sy_buf_json_cstr(&rp->body, msg);
    sy_buf_puts(&rp->body, "}}");
}

static void messages_batches_create(const fp_request *rq, fp_reply *rp)
{
    json_t *o = json_loadb(rq->body.p ? rq->body.p : "", rq->body.n, 0, NULL);
    json_t *reqs = json_object_get(o, "requests");
    size_t n = json_array_size(reqs);
    const char *why = !o ? "body is not JSON" : !n ? "requests must be a non-empty array"
                      : n > 100000 ? "too many requests" : NULL;
    for (size_t i = 0; !why && i < n; i++) {
        json_t *r = json_array_get(reqs, i);
        const char *cid = json_string_value(json_object_get(r, "custom_id"));
        if (!anthropic_id_ok(cid)) why = "custom_id must match ^[a-zA-Z0-9_-]{1,64}$";
        else if (!json_is_object(json_object_get(r, "params"))) why = "params must be an object";
        for (size_t j = 0; !why && j < i; j++)
            if (!strcmp(cid, json_string_value(json_object_get(json_array_get(reqs, j), "custom_id"))))
                why = "custom_id must be unique within a batch";
    }
    if (why) {
        anthropic_error(rp, 400, "invalid_request_error", why);
    } else {
        fp_batch *b = batch_new(FP_API_ANTHROPIC, rq->api_key);
        b->requests = json_dumps(reqs, JSON_COMPACT);
        b->total = (int64_t)n;
        for (size_t i = 0; i < n; i++)
            count_custom_id(json_string_value(json_object_get(json_array_get(reqs, i), "custom_id")));
        anthropic_batch_json(&rp->body, b);
    }
    json_decref(o);
}

static void anthropic_batches(const fp_request *rq, fp_slice rest, fp_reply *rp)
{
    if (!rq->api_key.p || !rq->api_key.n) { anthropic_error(rp, 401, "authentication_error", "x-api-key header is required"); return; }
    if (!rq->anthropic_version.p) { anthropic_error(rp, 400, "invalid_request_error", "anthropic-version: header is required"); return; }
    int get = slice_eq(rq->method, "GET"), post = slice_eq(rq->method, "POST");
    if (rest.n == 0) {
        if (post) messages_batches_create(rq, rp);
        else if (get) batches_list(rq, rp, FP_API_ANTHROPIC);
        else anthropic_error(rp, 405, "invalid_request_error", "Method not allowed");
        return;
    }
    if (rest.p[0] != '/') { anthropic_error(rp, 404, "not_found_error", "Not found"); return; }
    fp_slice id = {rest.p + 1, rest.n - 1}, tail = {NULL, 0};
    const char *slash = memchr(id.p, '/', id.n);
    if (slash) {
        tail = (fp_slice){slash, (size_t)(id.p + id.n - slash)};
        id.n = (size_t)(slash - id.p);
    }
    fp_batch *b = batch_find(id);
    if (!b || b->api != FP_API_ANTHROPIC) { anthropic_error(rp, 404, "not_found_error", "No batch with that id"); return; }
    if (!tail.p && get) {
        batch_advance(b);
        anthropic_batch_json(&rp->body, b);
    } else if (slice_eq(tail, "/cancel") && post) {
        batch_cancel(b);
        anthropic_batch_json(&rp->body, b);
    } else if (slice_eq(tail, "/results") && get) {
        batch_advance(b);
        if (b->state != B_COMPLETED && b->state != B_EXPIRED) {
            anthropic_error(rp, 400, "invalid_request_error", "batch has not ended or has no results");
            return;
        }
        fp_file *f = file_find((fp_slice){b->output_file_id, strlen(b->output_file_id)});
        rp->content_type = "application/binary";
        if (f) f->downloads++;
        if (f) sy_buf_append(&rp->body, f->data.data, f->data.len);
    } else {
        anthropic_error(rp, 404, "not_found_error", "Not found");
    }
}

/* ---- routing ---- */

int fp_batch_handle(const fp_request *rq, fp_slice path, fp_reply *rp)
{
    fp_slice rest;
    if (slice_eq(path, "/batch-stats") && slice_eq(rq->method, "GET")) {
        uint32_t max_dl = 0, foreign = 0; /* a batch's output read by two workers: both polled it */
        for (size_t i = 0; i < bs.nbatches; i++) {
            foreign += bs.batches[i].foreign_reads;
            const char *out = bs.batches[i].output_file_id;
            fp_file *f = out[0] ? file_find((fp_slice){out, strlen(out)}) : NULL;
            if (f && f->downloads > max_dl) max_dl = f->downloads;
        }
        sy_buf_printf(&rp->body, "{\"batches\":%zu,\"lines\":%llu,\"custom_ids\":%zu,\"dup_custom_ids\":%llu,"
                                 "\"max_per_custom_id\":%u,\"max_output_downloads\":%u,\"foreign_reads\":%u}\n",
                      bs.nbatches, (unsigned long long)bs.lines, bs.idn, (unsigned long long)bs.dups, bs.max_per_id,
                      max_dl, foreign);
        return 1;
    }
    if (slice_starts(path, "/v1/messages/batches", &rest)) {
        rp->delay_ms = fp_cfg.batch_call_ms;
        anthropic_batches(rq, rest, rp);
        return 1;
    }
    int files = slice_starts(path, "/v1/files", &rest);
    if (!files && !slice_starts(path, "/v1/batches", &rest)) return 0;
    rp->delay_ms = fp_cfg.batch_call_ms;
    fp_slice key = bearer(rq);
    if (!key.p || !key.n || slice_eq(key, "bad-key")) {
        rp->status = 401;
        error_reply(rp, 401, "Incorrect API key provided.");
        return 1;
    }
    if (files && rest.n == 0 && slice_eq(rq->method, "POST")) files_upload(rq, rp);
    else if (files) files_get(rq, rest, rp);
    else openai_batches(rq, rest, rp);
    return 1;
}
