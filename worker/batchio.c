/* batchio.c -- the batches of batch tiers, at the edge: HTTP through the
 * engine, timers on the loop (batchio.h). What to do next is asked of
 * batch.h (sy_batch_next and the pure helpers); this file carries out the
 * effects. Everything the provider answers is hostile: ids are taken only
 * when short and printable, bodies are bounded by the engine's limits, and
 * the result lines go through sy_batch_match. */
#include "batchio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "log.h"
#include "run.h"
#include "util.h"

#define ID_MAX 96
#define RETRY_MS 200 /* no engine slot, or a call failed: try again */

typedef enum op { OP_NONE, OP_UPLOAD, OP_CREATE, OP_POLL, OP_OUTPUT, OP_ERRORS } op;

typedef struct batchio {
    worker *w;
    const sy_tier *tier;
    const sy_model *model;
    sy_batch_state state;
    sy_run **runs;            /* the jobs it carries (NULL: freed meanwhile) */
    char **ids;               /* their custom_ids */
    size_t n, cap;
    sy_keymap idset;          /* custom_ids already in it */
    sy_buf input;             /* the JSONL */
    int64_t first_ms;
    char file_id[ID_MAX], batch_id[ID_MAX], out_id[ID_MAX], err_id[ID_MAX];
    int polls, failures;
    op pending;               /* the call to make when the timer fires */
    sy_transfer *t;           /* the call out, or NULL */
    sy_buf results;           /* output then error file */
    sy_loop_timer timer;
    struct batchio *next;
} batchio;

static batchio **head(worker *w)
{
    return (batchio **)&w->batches;
}

static void on_timer(void *ctx);

static batchio *batch_new(worker *w, const sy_tier *tier, const sy_model *model)
{
    batchio *b = sy_xcalloc(1, sizeof *b);
    b->w = w;
    b->tier = tier;
    b->model = model;
    b->state = SY_BS_COLLECTING;
    sy_keymap_init(&b->idset);
    sy_buf_init(&b->input);
    sy_buf_init(&b->results);
    sy_loop_timer_init(&b->timer, on_timer, b);
    b->next = *head(w);
    *head(w) = b;
    return b;
}

static void batch_free(batchio *b)
{
    batchio **p = head(b->w);
    while (*p && *p != b) p = &(*p)->next;
    if (*p) *p = b->next;
    sy_loop_timer_cancel(b->w->loop, &b->timer);
    for (size_t i = 0; i < b->n; i++) {
        if (b->runs[i]) b->runs[i]->in_batch = false;
        free(b->ids[i]);
    }
    free(b->runs);
    free(b->ids);
    sy_keymap_free(&b->idset);
    sy_buf_free(&b->input);
    sy_buf_free(&b->results);
    free(b);
}

static void later(batchio *b, op what, int64_t ms)
{
    b->pending = what;
    sy_loop_timer_at(b->w->loop, &b->timer, sy_mono_us() + ms * 1000);
}

/* ---- requests ---- */

/* A call to {base_url}{path} with the key; path holds only ids checked
 * by take_id. GET when get. NULL when no engine slot is free. */
static sy_transfer *request(batchio *b, bool get, const char *fmt, const char *id)
{
    sy_transfer *t = sy_engine_acquire(b->w->engine);
    if (!t) return NULL;
    const sy_provider *p = b->model->provider;
    sy_buf_puts(&t->req.url, p->base_url);
    sy_buf_printf(&t->req.url, fmt, id ? id : "");
    t->req.get = get;
    if (p->api_key) sy_request_add_header(&t->req, "Authorization: Bearer %s", p->api_key);
    return t;
}

static void launch(batchio *b, sy_transfer *t, op what)
{
    b->t = t;
    b->pending = what;
    sy_engine_launch(b->w->engine, t, b->tier->retry.timeout_ms, b);
}

static void start_call(batchio *b, op what)
{
    sy_transfer *t = NULL;
    switch (what) {
    case OP_UPLOAD: {
        if (!(t = request(b, false, "/files", NULL))) break;
        char boundary[40];
        snprintf(boundary, sizeof boundary, "sybatch%016" PRIx64, sy_hash64(b->input.data, b->input.len));
        sy_request_add_header(&t->req, "Content-Type: multipart/form-data; boundary=%s", boundary);
        sy_buf_printf(&t->req.body, "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                                    "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"switchyard.jsonl\"\r\n"
                                    "Content-Type: application/jsonl\r\n\r\n",
                      boundary, boundary);
        sy_buf_append(&t->req.body, b->input.data, b->input.len);
        sy_buf_printf(&t->req.body, "\r\n--%s--\r\n", boundary);
        break;
    }
    case OP_CREATE:
        if (!(t = request(b, false, "/batches", NULL))) break;
        sy_request_add_header(&t->req, "Content-Type: application/json");
        sy_buf_puts(&t->req.body, "{\"input_file_id\":");
        sy_buf_json_cstr(&t->req.body, b->file_id);
        sy_buf_puts(&t->req.body, ",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\","
                                  "\"metadata\":{\"switchyard_tier\":");
        sy_buf_json_cstr(&t->req.body, b->tier->name);
        sy_buf_puts(&t->req.body, "}}");
        break;
    case OP_POLL: t = request(b, true, "/batches/%s", b->batch_id); break;
    case OP_OUTPUT: t = request(b, true, "/files/%s/content", b->out_id); break;
    case OP_ERRORS: t = request(b, true, "/files/%s/content", b->err_id); break;
    case OP_NONE: return;
    }
    if (!t) later(b, what, RETRY_MS); /* no engine slot now */
    else launch(b, t, what);
}

/* ---- effects ---- */

static void answer_all(batchio *b);

static void step(batchio *b, sy_batch_event ev)
{
    sy_batch_step st = sy_batch_next(b->state, ev);
    if (st.effects & SY_BX_ERROR) {
        sy_warn("batch of tier '%s': event %d in state %s ignored", b->tier->name, (int)ev,
                sy_batch_state_name(b->state));
        return;
    }
    b->state = st.next;
    if (st.effects & SY_BX_UPLOAD) start_call(b, OP_UPLOAD);
    /* RECORD: not durable yet; the batch is known to this process only
     * (docs/durability.md, "Batch tiers"), so the record is at once. */
    if (st.effects & SY_BX_RECORD) step(b, SY_BE_RECORDED);
    if (st.effects & SY_BX_CREATE) start_call(b, OP_CREATE);
    if (st.effects & SY_BX_POLL) later(b, OP_POLL, sy_batch_poll_delay(&b->tier->batch, b->polls++));
    if (st.effects & SY_BX_DOWNLOAD) start_call(b, b->out_id[0] ? OP_OUTPUT : OP_ERRORS);
    if (st.effects & SY_BX_PUBLISH) answer_all(b);
    if (st.effects & SY_BX_FORGET) batch_free(b);
}

static void send_now(batchio *b)
{
    sy_loop_timer_cancel(b->w->loop, &b->timer);
    sy_info("batch of tier '%s', model '%s': %zu job(s), %zu bytes: uploading", b->tier->name,
            b->model->alias, b->n, b->input.len);
    step(b, SY_BE_SEND);
}

static void on_timer(void *ctx)
{
    batchio *b = ctx;
    if (b->state == SY_BS_COLLECTING && b->pending == OP_NONE) send_now(b);
    else start_call(b, b->pending);
}

/* An id from the provider: 1..ID_MAX-1 bytes of [A-Za-z0-9_-]. */
static bool take_id(json_t *o, const char *key, char *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    memcpy(out, s, n + 1);
    return true;
}

/* A call failed: again after the poll backoff, up to 10 times, then the
 * batch fails (its jobs are retried as their tier says). */
static void call_failed(batchio *b, op what, const sy_transfer *t)
{
    sy_warn("batch of tier '%s': %s failed (HTTP %ld%s)", b->tier->name,
            what == OP_UPLOAD ? "upload" : what == OP_CREATE ? "create" : what == OP_POLL ? "poll" : "download",
            t->http_status, t->curl_code != CURLE_OK ? ", transport error" : "");
    bool permanent = t->curl_code == CURLE_OK && t->http_status >= 400 && t->http_status < 500 &&
                     t->http_status != 408 && t->http_status != 429;
    if (!permanent && ++b->failures <= 10) {
        later(b, what, sy_batch_poll_delay(&b->tier->batch, b->failures));
        return;
    }
    step(b, SY_BE_FAILED);
}

static void on_poll(batchio *b, json_t *o)
{
    sy_batch_status st = sy_batch_status_of(json_string_value(json_object_get(o, "status")));
    if (st == SY_BST_ENDED) {
        take_id(o, "output_file_id", b->out_id);
        take_id(o, "error_file_id", b->err_id);
        if (!b->out_id[0] && !b->err_id[0]) step(b, SY_BE_FAILED);
        else step(b, SY_BE_ENDED);
    } else if (st == SY_BST_FAILED) {
        sy_warn("batch %s of tier '%s' ended without results; its %zu job(s) are retried", b->batch_id,
                b->tier->name, b->n);
        step(b, SY_BE_FAILED);
    } else {
        step(b, SY_BE_RUNNING);
    }
}

bool batchio_on_response(worker *w, sy_transfer *t, void *opaque)
{
    batchio *b = *head(w);
    while (b && b != opaque) b = b->next;
    if (!b) return false;
    op what = b->pending;
    b->t = NULL;
    b->pending = OP_NONE;
    bool ok = t->curl_code == CURLE_OK && !t->too_large && t->http_status >= 200 && t->http_status < 300;
    if (!ok) {
        call_failed(b, what, t);
    } else if (what == OP_OUTPUT || what == OP_ERRORS) {
        sy_buf_append(&b->results, t->body.data, t->body.len);
        sy_buf_putc(&b->results, '\n');
        b->failures = 0;
        if (what == OP_OUTPUT && b->err_id[0]) start_call(b, OP_ERRORS);
        else step(b, SY_BE_DOWNLOADED);
    } else {
        json_t *o = json_loadb(t->body.data, t->body.len, 0, NULL);
        b->failures = 0;
        if (what == OP_UPLOAD && take_id(o, "id", b->file_id)) step(b, SY_BE_UPLOADED);
        else if (what == OP_CREATE && take_id(o, "id", b->batch_id)) {
            sy_info("batch %s of tier '%s': %zu job(s) created", b->batch_id, b->tier->name, b->n);
            step(b, SY_BE_CREATED);
        } else if (what == OP_POLL && json_is_object(o)) on_poll(b, o);
        else call_failed(b, what, t);
        json_decref(o);
    }
    return true; /* the engine takes t back */
}

/* ---- answering the jobs ---- */

static void answer_all(batchio *b)
{
    sy_batch_match m;
    sy_batch_match_init(&m, (const char *const *)b->ids, b->n);
    const char *p = b->results.data, *end = p + b->results.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        sy_batch_answer a;
        if (sy_batch_match_line(&m, p, (size_t)(le - p), &a) == SY_BL_ANSWER) {
            sy_run *r = b->runs[a.index];
            b->runs[a.index] = NULL;
            if (r) {
                r->in_batch = false;
                run_on_batch_line(r, b->batch_id, a.status_code, a.body, a.body ? strlen(a.body) : 0,
                                  a.error_code);
            }
            free(a.body);
        }
        p = nl ? nl + 1 : end;
    }
    if (m.unknown || m.duplicate || m.malformed)
        sy_warn("batch %s of tier '%s': ignored %" PRIu64 " line(s) of unknown jobs, %" PRIu64
                " repeated, %" PRIu64 " unreadable", b->batch_id, b->tier->name, m.unknown, m.duplicate,
                m.malformed);
    size_t cur = 0, idx, missing = 0;
    while (sy_batch_match_next_missing(&m, &cur, &idx)) {
        sy_run *r = b->runs[idx];
        b->runs[idx] = NULL;
        missing++;
        if (r) {
            r->in_batch = false;
            run_on_batch_line(r, b->batch_id, 0, NULL, 0, "no_result_line");
        }
    }
    if (missing) sy_warn("batch %s of tier '%s': %zu job(s) without a result line, retried", b->batch_id,
                         b->tier->name, missing);
    sy_batch_match_free(&m);
    step(b, SY_BE_PUBLISHED);
}

/* ---- taking jobs ---- */

static batchio *collecting(worker *w, const sy_tier *tier, const sy_model *model)
{
    for (batchio *b = *head(w); b; b = b->next)
        if (b->state == SY_BS_COLLECTING && b->pending == OP_NONE && !b->t && b->tier == tier &&
            b->model == model)
            return b;
    return NULL;
}

bool batchio_take(worker *w, sy_run *r, sy_transfer *t)
{
    const sy_batch_policy *pol = &r->tier->batch;
    const char *key = r->job.idempotency_key ? r->job.idempotency_key : "";
    sy_buf line;
    sy_buf_init(&line);
    sy_batch_input_line(&line, key, "/v1/chat/completions", t->req.body.data, t->req.body.len);
    if (!sy_batch_fits(pol, 0, 0, (int64_t)line.len)) {
        sy_buf_free(&line);
        return false;
    }
    batchio *b = collecting(w, r->tier, r->model);
    if (b && (!sy_batch_fits(pol, (int64_t)b->n, (int64_t)b->input.len, (int64_t)line.len) ||
              sy_keymap_get(&b->idset, key))) {
        send_now(b); /* full, or the key is in it already: a new batch */
        b = NULL;
    }
    if (!b) b = batch_new(w, r->tier, r->model);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->runs = sy_xrealloc(b->runs, b->cap * sizeof *b->runs);
        b->ids = sy_xrealloc(b->ids, b->cap * sizeof *b->ids);
    }
    b->runs[b->n] = r;
    b->ids[b->n] = sy_xstrdup(key);
    sy_keymap_put(&b->idset, key, r);
    b->n++;
    sy_buf_append(&b->input, line.data, line.len);
    sy_buf_free(&line);
    r->in_batch = true;
    r->batch_req_len = t->req.body.len;
    sy_engine_release(w->engine, t);
    int64_t now = sy_mono_us() / 1000;
    if (b->n == 1) {
        b->first_ms = now;
        sy_loop_timer_at(w->loop, &b->timer, (sy_batch_due_at(pol, 1, now)) * 1000);
    }
    if (sy_batch_due(pol, (int64_t)b->n, (int64_t)b->input.len, b->first_ms, now)) send_now(b);
    return true;
}

void batchio_forget_run(worker *w, sy_run *r)
{
    for (batchio *b = *head(w); b; b = b->next)
        for (size_t i = 0; i < b->n; i++)
            if (b->runs[i] == r) b->runs[i] = NULL;
    r->in_batch = false;
}

void batchio_free_all(worker *w)
{
    while (*head(w)) batch_free(*head(w));
}
