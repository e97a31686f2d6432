/* pacing.c -- see pacing.h. Buckets refill continuously at limit/60 s and
 * hold at most one minute's worth (the provider's own window); a told
 * limit starts with one second's worth at its first call; the newest
 * remaining count, less what was reserved after it (counted from the start
 * of its burst), caps the bucket and stops it until the provider's reset. */
#include "pacing.h"

/* What a bucket of a told limit holds at start: one second's worth (at
 * least one call, when the limit allows one). */
static double start_level(double limit_per_min)
{
    double second = limit_per_min / 60;
    double one = limit_per_min < 1 ? limit_per_min : 1;
    return second > one ? second : one;
}

static void bucket_init(sy_bucket *b, double limit_per_min, int64_t now_us)
{
    b->limit_per_min = limit_per_min;
    b->level = limit_per_min > 0 ? start_level(limit_per_min) : 0;
    b->last_us = now_us;
    b->taken = 0;
    b->news_mark = -1;
    b->stop_at = 0;
    b->stop_until_us = 0;
    b->burst_from = b->burst_us = 0;
    b->burst_n = 0;
}

static void refill(sy_bucket *b, int64_t now_us)
{
    if (b->limit_per_min <= 0) return;
    if (b->taken == 0) { /* not used yet: one second's worth at the first call, however late */
        b->last_us = now_us;
        return;
    }
    double add = (double)(now_us - b->last_us) * b->limit_per_min / 60e6;
    b->level += add;
    if (b->level > b->limit_per_min) b->level = b->limit_per_min;
    b->last_us = now_us;
}

/* Microseconds until the provider's remaining count lets `need` more go
 * (its reset), 0 if it does now. */
static int64_t stop_wait(const sy_bucket *b, int64_t need, int64_t now_us)
{
    if (now_us >= b->stop_until_us || b->taken + need <= b->stop_at) return 0;
    return b->stop_until_us - now_us;
}

/* Microseconds until the bucket holds `need`, 0 if it does now. */
static int64_t bucket_wait(const sy_bucket *b, int64_t need, int64_t now_us)
{
    int64_t stop = stop_wait(b, need, now_us);
    if (b->limit_per_min <= 0 || b->level >= (double)need) return stop;
    double want = (double)need;
    if (want > b->limit_per_min) want = b->limit_per_min; /* a huge call waits for a full bucket */
    /* far in debt (calls that used far more than estimated): the wait is
     * held like a provider's, before it becomes an integer */
    double us = (want - b->level) * 60e6 / b->limit_per_min;
    int64_t max_us = SY_PROVIDER_MAX_WAIT_MS * 1000;
    int64_t refill_us = us < (double)max_us ? (int64_t)us + 1 : max_us;
    return refill_us > stop ? refill_us : stop;
}

enum { BURST_GAP_US = 1000, BURST_MAX = 1024 };

/* Take n; returns where the reservation would stand had it reached the
 * provider first of its burst. */
static int64_t take(sy_bucket *b, int64_t n, int64_t now_us)
{
    if (b->burst_n == 0 || b->burst_n >= BURST_MAX || now_us - b->burst_us > BURST_GAP_US) {
        b->burst_from = b->taken;
        b->burst_n = 0;
    }
    b->burst_us = now_us;
    b->burst_n++;
    if (b->limit_per_min > 0) b->level -= (double)n;
    b->taken += n;
    return b->burst_from + n;
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

int64_t sy_account_reserve(sy_account *a, int64_t tokens, int64_t now_us, sy_pace_mark *mark)
{
    if (now_us < a->paused_until_us) return a->paused_until_us - now_us;
    refill(&a->requests, now_us);
    refill(&a->tokens, now_us);
    int64_t wr = bucket_wait(&a->requests, 1, now_us), wt = bucket_wait(&a->tokens, tokens, now_us);
    int64_t wait = wr > wt ? wr : wt;
    if (wait > 0) {
        a->waits++;
        return wait;
    }
    int64_t requests_first = take(&a->requests, 1, now_us);
    int64_t tokens_first = take(&a->tokens, tokens, now_us);
    if (mark) *mark = (sy_pace_mark){a->requests.taken, a->tokens.taken, requests_first, tokens_first};
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

static void learn_limit(sy_bucket *b, double share, int64_t limit)
{
    if (limit <= 0) return;
    double mine = (double)limit * share;
    if (b->limit_per_min <= 0) b->level = mine;
    b->limit_per_min = mine;
}

/* Whatever a caller passes, an account never stops for longer than a
 * provider may make it wait (provider.h), and no sum below overflows. */
static int64_t bounded(int64_t v, int64_t max)
{
    return v > max ? max : v;
}

#define SAME_WINDOW_US 1000000

/* The provider had `remaining` left when the call reserved at `mark`
 * arrived (at `first` or later: its burst), and resets in reset_ms (-1:
 * not said). */
static void learn_remaining(sy_bucket *b, int64_t remaining, int64_t reset_ms, int64_t mark,
                            int64_t first, int64_t now_us)
{
    if (remaining < 0) return; /* nothing said */
    remaining = bounded(remaining, SY_PROVIDER_MAX_COUNT);
    reset_ms = bounded(reset_ms, SY_PROVIDER_MAX_WAIT_MS);
    int64_t until = reset_ms >= 0 ? now_us + reset_ms * 1000 : 0;
    if (mark < b->news_mark) {
        /* Overtaken. It still counts when it describes the same window (it
         * ends when the newest one's does, give or take a second of answer
         * times) and stops sooner: its call arrived after calls reserved
         * later, so the newest answer counted fewer of them than it seems. */
        if (until == 0 || b->stop_until_us == 0 || until < b->stop_until_us - SAME_WINDOW_US ||
            until > b->stop_until_us + SAME_WINDOW_US || first + remaining >= b->stop_at)
            return;
    } else {
        b->news_mark = mark;
        b->stop_until_us = until;
    }
    int64_t left = remaining - (b->taken - first);
    if (left < 0) left = 0;
    if (b->level > (double)left) b->level = (double)left;
    b->stop_at = first + remaining;
}

void sy_account_learn(sy_account *a, const sy_ratelimit_info *rl, const sy_pace_mark *mark,
                      int64_t now_us)
{
    refill(&a->requests, now_us);
    refill(&a->tokens, now_us);
    sy_pace_mark m = mark ? *mark
                          : (sy_pace_mark){a->requests.taken, a->tokens.taken, a->requests.taken,
                                           a->tokens.taken};
    learn_limit(&a->requests, a->share, rl->limit_requests);
    learn_limit(&a->tokens, a->share, rl->limit_tokens);
    learn_remaining(&a->requests, rl->remaining_requests, rl->reset_requests_ms, m.requests,
                    m.requests_first, now_us);
    learn_remaining(&a->tokens, rl->remaining_tokens, rl->reset_tokens_ms, m.tokens, m.tokens_first,
                    now_us);
}

void sy_account_pause(sy_account *a, int64_t wait_ms, int64_t now_us)
{
    int64_t until = now_us + (wait_ms > 0 ? bounded(wait_ms, SY_PROVIDER_MAX_WAIT_MS) : 1000) * 1000;
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
    if (b->limit_per_min <= 0 || b->taken == 0) return 1; /* unlimited, or all of it unused */
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
