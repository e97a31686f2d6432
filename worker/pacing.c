/* pacing.c -- see pacing.h. Buckets refill continuously at limit/60 s and
 * hold at most one minute's worth (the provider's own window). */
#include "pacing.h"

static void bucket_init(sy_bucket *b, double limit_per_min, int64_t now_us)
{
    b->limit_per_min = limit_per_min;
    b->level = limit_per_min;
    b->last_us = now_us;
}

static void refill(sy_bucket *b, int64_t now_us)
{
    if (b->limit_per_min <= 0) return;
    double add = (double)(now_us - b->last_us) * b->limit_per_min / 60e6;
    b->level += add;
    if (b->level > b->limit_per_min) b->level = b->limit_per_min;
    b->last_us = now_us;
}

/* Microseconds until the bucket holds `need`, 0 if it does now. */
static int64_t bucket_wait(const sy_bucket *b, double need)
{
    if (b->limit_per_min <= 0 || b->level >= need) return 0;
    if (need > b->limit_per_min) need = b->limit_per_min; /* a huge call waits for a full bucket */
    return (int64_t)((need - b->level) * 60e6 / b->limit_per_min) + 1;
}

void sy_account_init(sy_account *a, int64_t rpm, int64_t tpm, double share, int64_t now_us)
{
    a->share = share > 0 && share <= 1 ? share : 1;
    bucket_init(&a->requests, (double)rpm * a->share, now_us);
    bucket_init(&a->tokens, (double)tpm * a->share, now_us);
    a->paused_until_us = 0;
    a->cooling_until_us = 0;
    a->waits = a->throttled = 0;
}

int64_t sy_account_reserve(sy_account *a, int64_t tokens, int64_t now_us)
{
    if (now_us < a->paused_until_us) return a->paused_until_us - now_us;
    refill(&a->requests, now_us);
    refill(&a->tokens, now_us);
    int64_t wr = bucket_wait(&a->requests, 1), wt = bucket_wait(&a->tokens, (double)tokens);
    int64_t wait = wr > wt ? wr : wt;
    if (wait > 0) {
        a->waits++;
        return wait;
    }
    if (a->requests.limit_per_min > 0) a->requests.level -= 1;
    if (a->tokens.limit_per_min > 0) a->tokens.level -= (double)tokens;
    return 0;
}

void sy_account_settle(sy_account *a, int64_t estimated, int64_t actual)
{
    if (a->tokens.limit_per_min > 0) a->tokens.level += (double)(estimated - actual);
    if (a->tokens.level > a->tokens.limit_per_min) a->tokens.level = a->tokens.limit_per_min;
}

void sy_account_settle_request(sy_account *a)
{
    if (a->requests.limit_per_min > 0 && a->requests.level < a->requests.limit_per_min)
        a->requests.level += 1;
}

static void learn_bucket(sy_bucket *b, double share, int64_t limit, int64_t remaining)
{
    if (limit > 0) {
        double mine = (double)limit * share;
        if (b->limit_per_min <= 0) b->level = mine;
        b->limit_per_min = mine;
    }
    if (remaining >= 0 && b->level > (double)remaining) b->level = (double)remaining;
}

void sy_account_learn(sy_account *a, const sy_ratelimit_info *rl, int64_t now_us)
{
    refill(&a->requests, now_us);
    refill(&a->tokens, now_us);
    learn_bucket(&a->requests, a->share, rl->limit_requests, rl->remaining_requests);
    learn_bucket(&a->tokens, a->share, rl->limit_tokens, rl->remaining_tokens);
}

void sy_account_pause(sy_account *a, int64_t wait_ms, int64_t now_us)
{
    int64_t until = now_us + (wait_ms > 0 ? wait_ms : 1000) * 1000;
    if (until > a->paused_until_us) a->paused_until_us = until;
    a->throttled++;
}

int64_t sy_estimate_tokens(size_t bytes)
{
    return (int64_t)(bytes + 3) / 4 + 4;
}

bool sy_account_cool(sy_account *a, int64_t cooldown_ms, int64_t now_us)
{
    bool fresh = now_us >= a->cooling_until_us;
    int64_t until = now_us + cooldown_ms * 1000;
    if (until > a->cooling_until_us) a->cooling_until_us = until;
    return fresh;
}

bool sy_account_usable(const sy_account *a, int64_t now_us)
{
    return now_us >= a->cooling_until_us;
}

int64_t sy_account_cooling_us(const sy_account *a, int64_t now_us)
{
    return now_us < a->cooling_until_us ? a->cooling_until_us - now_us : 0;
}

static double bucket_free(const sy_bucket *b)
{
    if (b->limit_per_min <= 0) return 1;
    double f = b->level / b->limit_per_min;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

double sy_account_headroom(sy_account *a, int64_t now_us)
{
    if (now_us < a->paused_until_us || now_us < a->cooling_until_us) return 0;
    refill(&a->requests, now_us);
    refill(&a->tokens, now_us);
    double r = bucket_free(&a->requests), t = bucket_free(&a->tokens);
    return r < t ? r : t;
}
