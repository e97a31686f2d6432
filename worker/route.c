/* route.c -- see route.h. */
#include "route.h"
#include "util.h"

#include <string.h>

/* FNV-1a's high bits are poorly spread for keys that differ only at the
 * end ("key-1", "key-2"): finish with a 64-bit mixer (splitmix64's). */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pick_weighted(const sy_tier *tier, const sy_job *job, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += tier->models[i].weight;
    const char *key = job->idempotency_key ? job->idempotency_key : job->id;
    uint64_t h = mix(sy_hash64(key, strlen(key)));
    double x = (double)(h >> 11) / (double)(1ULL << 53) * total; /* uniform in [0, total) */
    for (int i = 0; i < n; i++) {
        if (x < tier->models[i].weight) return i;
        x -= tier->models[i].weight;
    }
    return n - 1;
}

void sy_route_begin(sy_route *r, const sy_tier *tier, const sy_job *job)
{
    int n = tier->nmodels < SY_ROUTE_MAX_MODELS ? (int)tier->nmodels : SY_ROUTE_MAX_MODELS;
    int first = tier->strategy == SY_TIER_WEIGHTED ? pick_weighted(tier, job, n) : 0;
    memset(r, 0, sizeof *r);
    r->order[r->n++] = (uint8_t)first;
    for (int i = 0; i < n; i++)
        if (i != first) r->order[r->n++] = (uint8_t)i;
}

const sy_model *sy_route_model(const sy_route *r, const sy_tier *tier)
{
    return tier->models[r->order[r->pos]].model;
}

void sy_route_attempt(sy_route *r)
{
    r->tries_on_model++;
}

int64_t sy_backoff_ms(const sy_retry_policy *p, int n, uint64_t rnd)
{
    int64_t ceiling = p->base_ms;
    for (int i = 0; i < n && ceiling < p->cap_ms; i++) ceiling *= 2;
    if (ceiling > p->cap_ms) ceiling = p->cap_ms;
    return ceiling > 0 ? (int64_t)(rnd % (uint64_t)(ceiling + 1)) : 0;
}

static bool retryable(const sy_outcome *o)
{
    if (o->should_retry == 0) return false;
    if (o->should_retry == 1) return true;
    return sy_err_retryable(o->error);
}

static sy_route_action fall_back(sy_route *r)
{
    if (r->pos + 1 >= r->n) return SY_ROUTE_GIVE_UP;
    r->pos++;
    r->tries_on_model = 0;
    return SY_ROUTE_FALLBACK;
}

sy_route_action sy_route_after_failure(sy_route *r, const sy_tier *tier, const sy_outcome *o,
                                       uint64_t rnd, int64_t *delay_ms)
{
    *delay_ms = 0;
    if (!retryable(o) || r->tries_on_model >= tier->retry.attempts_per_model)
        return fall_back(r);
    if (o->retry_after_ms > 0 && o->retry_after_ms <= 60000) *delay_ms = o->retry_after_ms;
    else *delay_ms = sy_backoff_ms(&tier->retry, r->tries_on_model - 1, rnd);
    return SY_ROUTE_RETRY;
}
