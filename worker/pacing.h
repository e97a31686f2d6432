/* pacing.h -- keeping each provider account just under its rate limits.
 *
 * An account (one provider entry: base URL + key) has two token buckets:
 * requests per minute and tokens per minute. A call reserves one request
 * and its estimated tokens (input estimated from the prompt's length,
 * output budgeted as max_tokens) before it is sent; when the bucket is
 * short the call waits (as a timer, holding no connection) instead of
 * drawing a 429. The reported usage corrects the estimate afterwards.
 *
 * A told limit (from the pipeline) starts its bucket with one second's
 * worth, not a minute's: nothing is known yet of how the provider counts
 * (OpenAI and Anthropic replenish continuously and may enforce a per-minute
 * limit over shorter spans, Azure checks it over 1 s or 10 s windows, some
 * count in fixed windows), and until the first answers come back nothing
 * caps the bucket, so a full minute sent at once, as fast as the in-flight
 * limit lets it go, is what draws 429s in the first window. The bucket
 * starts refilling at its first call (a worker may wait seconds for its
 * partitions first), at the limit's rate, so the first window is filled by
 * pacing, and its answers' remaining counts take over as in every window.
 * An account not used yet counts as all free in sy_account_headroom.
 *
 * Limits come from the pipeline (requests_per_minute, tokens_per_minute)
 * and are learned from the response headers (x-ratelimit-* and
 * anthropic-ratelimit-*): the advertised limit sets the bucket size and
 * refill rate (times this worker's share when several workers use one
 * account), and the advertised remaining count caps what the bucket holds,
 * so the account's real state wins over our model of it. A 429 pauses the
 * account until the provider's reset or retry-after.
 *
 * Remaining counts are old news: the provider counted them when the
 * answered call arrived, and the calls this worker reserved after it (in
 * flight, or about to be sent) are not in them. So every reservation takes
 * a mark, its place in the bucket's running total of reservations, and an
 * answer's remaining count is reduced by what was reserved after its mark.
 * But calls launched together (a burst: reservations less than a
 * millisecond apart, at most 1,024) reach the provider in any order, so an
 * answer is read as if its call had arrived first of its burst, before the
 * calls reserved ahead of it in the same burst: that can leave a few calls
 * of a window unused, never send one too many. The newest answer (the
 * highest mark) counts: one overtaken by a later answer may describe a
 * window that has ended since; an overtaken answer about the same window
 * (its reset within a second of the newest one's) that leaves less room
 * still lowers the stop (answers come back in any order too).
 *
 * The provider may also not refill as a bucket does: one that counts in
 * fixed windows gives nothing back until the window ends. So a remaining
 * count with a reset time is a stop as well: once what was reserved since
 * reaches it, nothing more goes out until the reset, whatever the bucket's
 * refill says. Against a provider that does refill continuously that loses
 * little (its reset is when its bucket is full again, the worker's bucket
 * has refilled meanwhile, and answers still in flight can lift the stop
 * earlier); against one that counts in windows it saves the 429s of every
 * call sent between the window running out and the first 429 coming back. */
#ifndef SY_PACING_H
#define SY_PACING_H

#include <stdbool.h>
#include <stdint.h>

#include "providers/provider.h"

typedef struct sy_bucket {
    double limit_per_min; /* 0 = unlimited */
    double level;         /* what can be taken now */
    int64_t last_us;
    int64_t taken;        /* running total of all reservations */
    int64_t news_mark;    /* mark of the answer the remaining count came from (-1: none) */
    int64_t stop_at;      /* `taken` at which that remaining count is used up */
    int64_t stop_until_us; /* ...and the provider's reset, when the stop ends */
    int64_t burst_from;   /* `taken` before the first reservation of the current burst */
    int64_t burst_us;     /* when the burst's last reservation was made */
    int burst_n;          /* reservations in it */
} sy_bucket;

/* Where a reservation stands in its account's running totals (`taken` just
 * after it), so that its answer's remaining counts can be set against what
 * was reserved after it; and (`first`) where it would stand had it reached
 * the provider first of its burst. */
typedef struct sy_pace_mark {
    int64_t requests, tokens;
    int64_t requests_first, tokens_first;
} sy_pace_mark;

typedef struct sy_account {
    sy_bucket requests, tokens;
    double share;            /* fraction of the account's limits this worker uses */
    int64_t paused_until_us; /* after a 429: nothing is sent before this */
    int64_t cooling_until_us; /* after a 401 or insufficient_quota: models on it are skipped */
    uint64_t waits, throttled;
} sy_account;

void sy_account_init(sy_account *a, int64_t rpm, int64_t tpm, double share, int64_t now_us);
/* Reserve a call of `tokens` estimated tokens. Returns 0 when reserved (and
 * sets *mark, if given), or the microseconds to wait before asking again
 * (nothing reserved). */
int64_t sy_account_reserve(sy_account *a, int64_t tokens, int64_t now_us, sy_pace_mark *mark);
/* After the call: charge (or give back) the difference between the
 * estimate and the tokens actually used. */
void sy_account_settle(sy_account *a, int64_t estimated, int64_t actual);
/* Give back the request of a reservation that was not used. */
void sy_account_settle_request(sy_account *a);
/* Learn from the response headers of the call reserved at `mark` (NULL:
 * as if nothing was reserved after it). */
void sy_account_learn(sy_account *a, const sy_ratelimit_info *rl, const sy_pace_mark *mark,
                      int64_t now_us);
/* The provider said 429: pause until now + wait_ms (held at
 * SY_PROVIDER_MAX_WAIT_MS, as are the resets sy_account_learn reads). */
void sy_account_pause(sy_account *a, int64_t wait_ms, int64_t now_us);

/* A 401 or insufficient_quota: skip the account for cooldown_ms (jobs fall
 * back to other models or wait). Returns true when it was not cooling
 * already (the caller logs once). */
bool sy_account_cool(sy_account *a, int64_t cooldown_ms, int64_t now_us);
bool sy_account_usable(const sy_account *a, int64_t now_us);
/* Microseconds until a cooling account is usable again (0 if it is). */
int64_t sy_account_cooling_us(const sy_account *a, int64_t now_us);
/* Share of the account's capacity free now, 0..1 (the emptier bucket of the
 * two decides; an unlimited account is 1; paused or cooling is 0). */
double sy_account_headroom(sy_account *a, int64_t now_us);

/* Estimated input tokens of a prompt of `bytes` bytes (about 4 bytes a token). */
int64_t sy_estimate_tokens(size_t bytes);

#endif
