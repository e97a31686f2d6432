/* route.c -- see route.h. */
#include "route.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* FNV-1a's high bits are poorly spread for keys that differ only at the
 * end ("key-1", "key-2"): finish with a 64-bit mixer (splitmix64's). */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The weighted arm among the fitting models (in listed order). */
static int pick_weighted(const sy_tier *tier, const sy_job *job, const uint8_t *cand, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += tier->models[cand[i]].weight;
    const char *key = job->idempotency_key ? job->idempotency_key : job->id;
    uint64_t h = mix(sy_hash64(key, strlen(key)));
    double x = (double)(h >> 11) / (double)(1ULL << 53) * total; /* uniform in [0, total) */
    for (int i = 0; i < n; i++) {
        if (x < tier->models[cand[i]].weight) return i;
        x -= tier->models[cand[i]].weight;
    }
    return n - 1;
}

/* Sort key of a model under the tier's strategy: lower goes first. */
static double rank(const sy_tier *tier, const sy_model_view *v)
{
    switch (tier->strategy) {
    case SY_TIER_CHEAPEST: return v->cost_usd;
    case SY_TIER_FASTEST: return v->latency_ms < 0 ? -1 : v->latency_ms;
    case SY_TIER_MOST_HEADROOM: return -v->headroom;
    default: return 0;
    }
}

/* Stable insertion sort of cand by (unusable last, rank). */
static void sort_candidates(const sy_tier *tier, const sy_model_view *views, uint8_t *cand, int n)
{
    for (int i = 1; i < n; i++) {
        uint8_t c = cand[i];
        double kc = rank(tier, &views[c]);
        int j = i - 1;
        for (; j >= 0; j--) {
            const sy_model_view *o = &views[cand[j]];
            bool later = views[c].usable > o->usable ||
                         (views[c].usable == o->usable && kc < rank(tier, o));
            if (!later) break;
            cand[j + 1] = cand[j];
        }
        cand[j + 1] = c;
    }
}

/* Place in r->order of the model the job names (SY_META_MODEL) when it is
 * one of the tier's, fits and can take calls; else -1. */
static int named_model(const sy_route *r, const sy_tier *tier, const sy_job *job, const sy_model_view *views)
{
    const char *want = sy_job_meta(job, SY_META_MODEL);
    for (int i = 0; want && i < r->n; i++)
        if (!strcmp(tier->models[r->order[i]].model->alias, want)) return views[r->order[i]].usable ? i : -1;
    return -1;
}

static void explain(sy_route *r, const sy_tier *tier, const sy_model_view *views, int dropped, bool named)
{
    int first = r->order[0];
    const sy_model_view *v = &views[first];
    const char *alias = tier->models[first].model->alias;
    const char *s = sy_tier_strategy_name(tier->strategy);
    int n = 0;
    size_t cap = sizeof r->why;
    if (named) n = snprintf(r->why, cap, "named by the job (%s): %s", SY_META_MODEL, alias);
    else switch (tier->strategy) {
    case SY_TIER_WEIGHTED: {
        double total = 0;
        for (size_t i = 0; i < tier->nmodels; i++) total += tier->models[i].weight;
        n = snprintf(r->why, cap, "%s: arm %s (weight %g of %g)", s, alias,
                     tier->models[first].weight, total);
        break;
    }
    case SY_TIER_CHEAPEST:
        n = snprintf(r->why, cap, "%s: %s, expected $%.6f", s, alias, v->cost_usd);
        break;
    case SY_TIER_FASTEST:
        if (v->latency_ms < 0) n = snprintf(r->why, cap, "%s: %s, not measured yet", s, alias);
        else n = snprintf(r->why, cap, "%s: %s, %.0f ms average", s, alias, v->latency_ms);
        break;
    case SY_TIER_MOST_HEADROOM:
        n = snprintf(r->why, cap, "%s: %s, %.0f%% of its account free", s, alias,
                     100 * v->headroom);
        break;
    default: n = snprintf(r->why, cap, "%s: %s", s, alias);
    }
    int unavailable = 0;
    for (int i = 0; i < r->n; i++) unavailable += !views[r->order[i]].usable;
    if (!v->usable && n > 0 && (size_t)n < cap)
        n += snprintf(r->why + n, cap - (size_t)n, "; no model can take calls now");
    else if (unavailable && n > 0 && (size_t)n < cap)
        n += snprintf(r->why + n, cap - (size_t)n, "; %d unavailable (breaker or account)",
                      unavailable);
    if (dropped && n > 0 && (size_t)n < cap)
        snprintf(r->why + n, cap - (size_t)n, "; %d too small for the job", dropped);
}

int sy_route_begin(sy_route *r, const sy_tier *tier, const sy_job *job,
                   const sy_model_view *views)
{
    int total = tier->nmodels < SY_ROUTE_MAX_MODELS ? (int)tier->nmodels : SY_ROUTE_MAX_MODELS;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < total; i++)
        if (views[i].fits) r->order[r->n++] = (uint8_t)i;
    if (r->n == 0) {
        snprintf(r->why, sizeof r->why, "no model of tier '%s' has a context window that "
                 "holds the job", tier->name);
        return -1;
    }
    if (tier->strategy == SY_TIER_WEIGHTED) {
        int arm = pick_weighted(tier, job, r->order, r->n);
        uint8_t chosen = r->order[arm];
        memmove(r->order + 1, r->order, (size_t)arm);
        r->order[0] = chosen;
        sort_candidates(tier, views, r->order + 1, r->n - 1); /* usable first, else listed */
        if (!views[chosen].usable) sort_candidates(tier, views, r->order, r->n);
    } else {
        sort_candidates(tier, views, r->order, r->n);
    }
    int named = named_model(r, tier, job, views);
    if (named > 0) {
        uint8_t chosen = r->order[named];
        memmove(r->order + 1, r->order, (size_t)named);
        r->order[0] = chosen;
    }
    explain(r, tier, views, total - r->n, named >= 0);
    return 0;
}

const sy_model *sy_route_model(const sy_route *r, const sy_tier *tier)
{
    return tier->models[r->order[r->pos]].model;
}

void sy_route_attempt(sy_route *r)
{
    r->tries_on_model++;
}

void sy_route_skip_to(sy_route *r, int pos)
{
    if (pos <= r->pos || pos >= r->n) return;
    r->pos = (uint8_t)pos;
    r->tries_on_model = 0;
}

int64_t sy_backoff_ms(const sy_retry_policy *p, int n, uint64_t rnd)
{
    int64_t ceiling = p->base_ms;
    for (int i = 0; i < n && ceiling < p->cap_ms; i++) ceiling *= 2;
    if (ceiling > p->cap_ms) ceiling = p->cap_ms;
    return ceiling > 0 ? (int64_t)(rnd % (uint64_t)(ceiling + 1)) : 0;
}

bool sy_route_account_error(const sy_outcome *o)
{
    return o->error == SY_ERR_QUOTA || (o->error == SY_ERR_AUTH && o->http_status == 401);
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

/* Bring the model at place `at` forward to be the next one tried. */
static void make_next(sy_route *r, int at)
{
    uint8_t m = r->order[at];
    memmove(r->order + r->pos + 2, r->order + r->pos + 1, (size_t)(at - r->pos - 1));
    r->order[r->pos + 1] = m;
}

/* Context window exceeded: the next model with a larger (or unknown) window. */
static sy_route_action to_larger_window(sy_route *r, const sy_tier *tier)
{
    int64_t have = tier->models[r->order[r->pos]].model->context_window;
    for (int i = r->pos + 1; i < r->n; i++) {
        int64_t w = tier->models[r->order[i]].model->context_window;
        if (w == 0 || have == 0 || w > have) {
            make_next(r, i);
            return fall_back(r);
        }
    }
    return SY_ROUTE_GIVE_UP;
}

/* Refused: the tier's on_refusal model if it is still ahead, else the next. */
static sy_route_action after_refusal(sy_route *r, const sy_tier *tier)
{
    for (int i = r->pos + 1; tier->refusal_model >= 0 && i < r->n; i++)
        if (r->order[i] == tier->refusal_model) {
            make_next(r, i);
            break;
        }
    return fall_back(r);
}

static sy_route_action retry_in(int64_t ms, int64_t *delay_ms)
{
    *delay_ms = ms;
    return SY_ROUTE_RETRY;
}

sy_route_action sy_route_after_failure(sy_route *r, const sy_tier *tier, const sy_outcome *o,
                                       uint64_t rnd, int64_t *delay_ms)
{
    *delay_ms = 0;
    bool spent = r->tries_on_model >= tier->retry.attempts_per_model;
    if (o->error == SY_ERR_CONTEXT_WINDOW) return to_larger_window(r, tier);
    if (o->error == SY_ERR_REFUSED) return after_refusal(r, tier);
    if (sy_route_account_error(o)) {
        if (r->pos + 1 < r->n || spent) return fall_back(r);
        return retry_in(o->retry_after_ms > 0 ? o->retry_after_ms : 0, delay_ms);
    }
    if (!retryable(o) || spent) return fall_back(r);
    if (o->retry_after_ms > 0 && o->retry_after_ms <= 60000) return retry_in(o->retry_after_ms, delay_ms);
    return retry_in(sy_backoff_ms(&tier->retry, r->tries_on_model - 1, rnd), delay_ms);
}
