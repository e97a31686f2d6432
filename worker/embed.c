/* embed.c -- embedding jobs sharing HTTP requests: the groups (embed.h says
 * the design: why a group of sy_run pointers, and why its runs wait in
 * CALL_OUT). Sits between run.c (which hands it runs at LAUNCH_CALL and
 * takes their outcomes back) and the engine (one transfer per group); the
 * request and the answer are the provider modules' (embeddings.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "log.h"
#include "providers/embeddings.h"
#include "util.h"

struct sy_embed_group {
    worker *w;
    const sy_model *model;
    int dimensions;
    uint32_t cap_of;   /* takes only runs of this embed_cap (0: uncapped) */
    sy_embed_limits lim;
    sy_run **runs;     /* joined in order; NULL where a run left */
    size_t n, cap, bytes;
    bool full;         /* takes no more (sent, or waiting for a transfer) */
    sy_loop_timer timer; /* the collection window; then: a transfer free? */
    int64_t sent_us;
    struct sy_embed_group *next; /* in w->embed_open or w->embed_out */
};

static void unlink_group(sy_embed_group **list, sy_embed_group *g)
{
    for (sy_embed_group **p = list; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            return;
        }
}

static void group_free(sy_embed_group *g)
{
    if (g->w->loop) sy_loop_timer_cancel(g->w->loop, &g->timer);
    for (size_t i = 0; i < g->n; i++)
        if (g->runs[i]) g->runs[i]->embed_group = NULL;
    free(g->runs);
    free(g);
}

/* The request's timeout: the tier's, but no job's deadline outlived. */
static int group_timeout(const sy_embed_group *g)
{
    int64_t timeout = -1, now = sy_now_ms();
    for (size_t i = 0; i < g->n; i++) {
        const sy_run *r = g->runs[i];
        if (!r) continue;
        int64_t t = r->tier->retry.timeout_ms;
        if (r->deadline_ms && r->deadline_ms - now < t) t = r->deadline_ms - now;
        if (timeout < 0 || t < timeout) timeout = t;
    }
    return timeout < 1 ? 1 : timeout > INT32_MAX ? INT32_MAX : (int)timeout;
}

/* Send g now if a transfer is free (else look again in a millisecond). */
static void flush(sy_embed_group *g)
{
    worker *w = g->w;
    g->full = true;
    size_t k = 0; /* the runs still there, in order */
    for (size_t i = 0; i < g->n; i++)
        if (g->runs[i]) {
            g->runs[k] = g->runs[i];
            g->runs[k]->embed_slot = k;
            k++;
        }
    g->n = k;
    if (!g->n) {
        unlink_group(&w->embed_open, g);
        group_free(g);
        return;
    }
    sy_transfer *t = sy_engine_acquire(w->engine);
    if (!t) {
        sy_loop_timer_at(w->loop, &g->timer, sy_mono_us() + 1000);
        return;
    }
    const char **inputs = sy_xcalloc(g->n, sizeof *inputs);
    for (size_t i = 0; i < g->n; i++) inputs[i] = sy_buf_cstr(&g->runs[i]->user);
    sy_embed_call call = {.model = g->model, .inputs = inputs, .n = g->n,
                          .dimensions = g->dimensions};
    sy_provider_build_embeddings(&call, &t->req);
    free(inputs);
    /* one request against the account: the others' reservations go back */
    sy_account *a = &w->accounts[g->model->provider->index];
    for (size_t i = 1; i < g->n; i++) sy_account_settle_request(a);
    g->sent_us = sy_mono_us();
    for (size_t i = 0; i < g->n; i++) {
        g->runs[i]->attempt_sent_us = g->sent_us;
        if (!g->runs[i]->first_sent_us) g->runs[i]->first_sent_us = g->sent_us;
    }
    sy_loop_timer_cancel(w->loop, &g->timer); /* its window: over */
    unlink_group(&w->embed_open, g);
    g->next = w->embed_out;
    w->embed_out = g;
    w->counters.embed_requests++;
    sy_engine_launch(w->engine, t, group_timeout(g), g);
}

static void on_timer(void *ctx)
{
    flush(ctx);
}

static sy_embed_group *open_group(worker *w, const sy_run *r)
{
    sy_embed_group *g = sy_xcalloc(1, sizeof *g);
    g->w = w;
    g->model = r->model;
    g->dimensions = r->task->dimensions;
    g->cap_of = r->embed_cap;
    g->lim = sy_embed_limits_of(r->model->provider);
    sy_embed_fit_answer(&g->lim, w->opt.max_answer_bytes, g->dimensions);
    if (g->cap_of && g->lim.max_inputs > g->cap_of) g->lim.max_inputs = g->cap_of;
    sy_loop_timer_init(&g->timer, on_timer, g);
    sy_loop_timer_at(w->loop, &g->timer, sy_mono_us() + (int64_t)g->lim.window_ms * 1000);
    g->next = w->embed_open;
    w->embed_open = g;
    return g;
}

void embed_join(worker *w, sy_run *r)
{
    sy_embed_group *g = w->embed_open;
    while (g && (g->full || g->model != r->model || g->dimensions != r->task->dimensions ||
                 g->cap_of != r->embed_cap))
        g = g->next;
    size_t add = r->user.len;
    bool full = false;
    if (g && sy_embed_decide(g->n, g->bytes, add, &g->lim, &full) == SY_EMBED_FLUSH_FIRST) {
        flush(g);
        g = NULL;
    }
    if (!g) {
        g = open_group(w, r);
        sy_embed_decide(0, 0, add, &g->lim, &full);
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->runs = sy_xrealloc(g->runs, g->cap * sizeof *g->runs);
    }
    r->embed_group = g;
    r->embed_slot = g->n;
    g->runs[g->n++] = r;
    g->bytes += add;
    w->counters.embed_inputs++;
    if (full) flush(g);
}

void embed_leave(sy_run *r)
{
    sy_embed_group *g = r->embed_group;
    if (!g) return;
    if (r->embed_slot < g->n && g->runs[r->embed_slot] == r) g->runs[r->embed_slot] = NULL;
    r->embed_group = NULL;
}

sy_embed_group *embed_group_of(worker *w, void *opaque)
{
    for (sy_embed_group *g = w->embed_out; g; g = g->next)
        if (g == opaque) return g;
    return NULL;
}

/* Each run's share of the request's tokens: the usage split by estimated
 * tokens, or each one's own estimate when the answer had no usage. */
static void shares(const sy_embed_group *g, const sy_outcome *whole, int64_t *out)
{
    int64_t *est = sy_xcalloc(g->n, sizeof *est);
    for (size_t i = 0; i < g->n; i++)
        est[i] = g->runs[i] ? sy_estimate_tokens(g->runs[i]->user.len) : 0;
    if (whole->usage.estimated) memcpy(out, est, g->n * sizeof *out);
    else sy_embed_split(whole->tokens_in, est, g->n, out);
    free(est);
}

void embed_finish(worker *w, sy_embed_group *g, sy_transfer *t, const sy_outcome *transport,
                  embed_each_fn fn)
{
    unlink_group(&w->embed_out, g);
    int64_t latency_ms = (sy_mono_us() - g->sent_us) / 1000;
    sy_outcome whole;
    sy_embed_slot *slots = sy_xcalloc(g->n, sizeof *slots);
    if (transport) whole = *transport;
    else
        sy_embed_parse(g->model->provider, (int)t->http_status, t->headers.data, t->headers.len,
                       t->body.data, t->body.len, g->dimensions, slots, g->n, &whole);
    int64_t *tokens = sy_xcalloc(g->n, sizeof *tokens);
    if (whole.error == SY_ERR_NONE) shares(g, &whole, tokens);
    bool first = true;
    for (size_t i = 0; i < g->n; i++) {
        sy_run *r = g->runs[i];
        if (!r) continue;
        r->embed_group = NULL;
        sy_outcome o = whole;
        o.output = NULL;
        o.tokens_in = tokens[i];
        o.tokens_out = 0;
        if (whole.error == SY_ERR_NONE && slots[i].error != SY_ERR_NONE) {
            o.error = slots[i].error;
            snprintf(o.message, sizeof o.message, "HTTP %d: malformed response: input %zu of %zu: %s",
                     whole.http_status, i, g->n, slots[i].why);
        }
        fn(r, &o, &slots[i].vec, slots[i].dim, first, g->n, latency_ms);
        first = false;
    }
    sy_embed_slots_free(slots, g->n);
    free(slots);
    free(tokens);
    if (!transport) sy_outcome_free(&whole);
    group_free(g);
}

void embed_free_all(worker *w)
{
    for (sy_embed_group **list = &w->embed_open; list; list = list == &w->embed_open ? &w->embed_out : NULL)
        while (*list) {
            sy_embed_group *g = *list;
            *list = g->next;
            group_free(g);
        }
}
