/* limits.c -- rate-limit windows per API key, failure counters per prompt.
 *
 * Rate limits are per minute (--rpm, --tpm), as real providers state them,
 * and enforced in fixed windows: a key's window opens with its first request
 * and lasts --window-ms; within it the key may make the window's share of
 * the per-minute limits (all of them with the default 60 s window; a sixth
 * of them in 10 s windows, like a provider that quantizes its per-minute
 * limits over shorter periods). A request costs 1 request and its prompt
 * tokens plus the max tokens it asks for (what real providers reserve up
 * front); a refused request costs nothing. The headers state the per-minute
 * limit, what is left in the current window and when it ends. Without
 * --rpm/--tpm the same windows run with large limits (10,000 requests,
 * 10,000,000 tokens a minute) that are never enforced, so the rate-limit
 * headers look like a real account's.
 *
 * Both tables are open-addressing hash maps keyed by a 64-bit hash (of the
 * key, or of the prompt); keys never leave them, so they only grow. */
#include "fake.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT_REQUESTS 10000
#define DEFAULT_LIMIT_TOKENS 10000000

typedef struct slot {
    uint64_t key; /* 0 = empty (a real 0 is stored as 1) */
    int64_t start_ms, requests, tokens;
} slot;

typedef struct table {
    slot *slots;
    size_t cap, used;
} table;

static table windows, fail_counts;

static void table_grow(table *t);

static slot *table_get(table *t, uint64_t key)
{
    if (key == 0) key = 1;
    if (2 * (t->used + 1) > t->cap) table_grow(t);
    size_t i = key & (t->cap - 1);
    while (t->slots[i].key && t->slots[i].key != key) i = (i + 1) & (t->cap - 1);
    if (!t->slots[i].key) {
        t->slots[i].key = key;
        t->used++;
    }
    return &t->slots[i];
}

static void table_grow(table *t)
{
    table old = *t;
    t->cap = old.cap ? old.cap * 2 : 256;
    t->slots = sy_xcalloc(t->cap, sizeof *t->slots);
    t->used = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].key) continue;
        slot *s = table_get(t, old.slots[i].key);
        *s = old.slots[i];
    }
    free(old.slots);
}

/* A window's share of a per-minute limit (at least 1), without overflow. */
static int64_t window_share(int64_t per_minute)
{
    int64_t ms = fp_cfg.window_ms;
    int64_t n = per_minute / 60000 * ms + per_minute % 60000 * ms / 60000;
    return n > 0 ? n : 1;
}

static void window_state(const slot *s, int64_t now_ms, fp_window *w)
{
    w->remaining_requests = w->window_requests - s->requests;
    w->remaining_tokens = w->window_tokens - s->tokens;
    if (w->remaining_requests < 0) w->remaining_requests = 0;
    if (w->remaining_tokens < 0) w->remaining_tokens = 0;
    w->reset_ms = s->start_ms + fp_cfg.window_ms - now_ms;
    if (w->reset_ms < 1) w->reset_ms = 1;
}

void fp_limits_take(uint64_t key_hash, int64_t tokens, int64_t now_ms, fp_window *w)
{
    memset(w, 0, sizeof *w);
    w->limit_requests = fp_cfg.rpm > 0 ? fp_cfg.rpm : DEFAULT_LIMIT_REQUESTS;
    w->limit_tokens = fp_cfg.tpm > 0 ? fp_cfg.tpm : DEFAULT_LIMIT_TOKENS;
    w->window_requests = window_share(w->limit_requests);
    w->window_tokens = window_share(w->limit_tokens);
    slot *s = table_get(&windows, key_hash);
    if (s->start_ms == 0 || now_ms >= s->start_ms + fp_cfg.window_ms) {
        s->start_ms = now_ms;
        s->requests = s->tokens = 0;
    }
    /* A request bigger than the window's whole token share still passes in
     * a fresh window; otherwise it could never succeed. */
    w->over_requests = fp_cfg.rpm > 0 && s->requests + 1 > w->window_requests;
    w->over_tokens = fp_cfg.tpm > 0 && s->tokens > 0 && s->tokens + tokens > w->window_tokens;
    if (!w->over_requests && !w->over_tokens) {
        s->requests++;
        s->tokens += tokens;
    }
    window_state(s, now_ms, w);
}

int64_t fp_fail_first_count(uint64_t prompt_hash)
{
    return ++table_get(&fail_counts, prompt_hash)->requests;
}
