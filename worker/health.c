/* health.c -- see health.h. */
#include "health.h"

#include <string.h>

#define EWMA_ALPHA 0.2

void sy_health_init(sy_health *h, const sy_breaker_policy *p)
{
    memset(h, 0, sizeof *h);
    h->policy = p;
    h->latency_ms = -1;
    h->tokens_out = -1;
}

bool sy_health_counts(sy_err_class c)
{
    return c == SY_ERR_SERVER || c == SY_ERR_OVERLOADED || c == SY_ERR_TIMEOUT ||
           c == SY_ERR_CONNECTION || c == SY_ERR_MALFORMED;
}

static void half_open_if_due(sy_health *h, int64_t now_ms)
{
    if (h->state != SY_BREAKER_OPEN || now_ms < h->open_until_ms) return;
    h->state = SY_BREAKER_HALF_OPEN;
    h->probes_out = h->probes_ok = 0;
}

bool sy_health_usable(const sy_health *h, int64_t now_ms)
{
    switch (h->state) {
    case SY_BREAKER_CLOSED: return true;
    case SY_BREAKER_OPEN: return now_ms >= h->open_until_ms;
    default: return h->probes_out < h->policy->probes;
    }
}

bool sy_health_allow(sy_health *h, int64_t now_ms)
{
    half_open_if_due(h, now_ms);
    if (!sy_health_usable(h, now_ms)) return false;
    if (h->state == SY_BREAKER_HALF_OPEN) h->probes_out++;
    return true;
}

void sy_health_release(sy_health *h)
{
    if (h->state == SY_BREAKER_HALF_OPEN && h->probes_out > 0) h->probes_out--;
}

int64_t sy_health_wait_ms(const sy_health *h, int64_t now_ms)
{
    if (h->state != SY_BREAKER_OPEN || now_ms >= h->open_until_ms) return 0;
    return h->open_until_ms - now_ms;
}

/* The slice for now, emptied if it last held an older period. */
static int slice_for(sy_health *h, int64_t now_ms)
{
    int64_t width = h->policy->window_ms / SY_HEALTH_SLICES;
    if (width < 1) width = 1;
    int64_t start = now_ms - now_ms % width;
    int i = (int)((now_ms / width) % SY_HEALTH_SLICES);
    if (h->slice_start_ms[i] != start) {
        h->slice_start_ms[i] = start;
        h->calls[i] = h->failures[i] = 0;
    }
    return i;
}

static void window_counts(const sy_health *h, int64_t now_ms, int *calls, int *failures)
{
    *calls = *failures = 0;
    for (int i = 0; i < SY_HEALTH_SLICES; i++) {
        if (now_ms - h->slice_start_ms[i] >= h->policy->window_ms) continue;
        *calls += h->calls[i];
        *failures += h->failures[i];
    }
}

static void open_breaker(sy_health *h, int64_t now_ms)
{
    h->state = SY_BREAKER_OPEN;
    h->open_until_ms = now_ms + h->policy->cooldown_ms;
    h->run_of_failures = 0;
    memset(h->calls, 0, sizeof h->calls);
    memset(h->failures, 0, sizeof h->failures);
    h->opened++;
}

static bool trips(const sy_health *h, int64_t now_ms)
{
    const sy_breaker_policy *p = h->policy;
    if (p->consecutive > 0 && h->run_of_failures >= p->consecutive) return true;
    if (p->ratio <= 0) return false;
    int calls, failures;
    window_counts(h, now_ms, &calls, &failures);
    return calls >= p->min_calls && (double)failures >= p->ratio * calls;
}

static void learn(double *avg, int64_t sample)
{
    *avg = *avg < 0 ? (double)sample : *avg + EWMA_ALPHA * ((double)sample - *avg);
}

bool sy_health_record(sy_health *h, sy_err_class c, int64_t latency_ms, int64_t tokens_out,
                      int64_t now_ms)
{
    bool failed = sy_health_counts(c);
    if (c == SY_ERR_NONE) {
        learn(&h->latency_ms, latency_ms);
        learn(&h->tokens_out, tokens_out);
    }
    if (!failed && c != SY_ERR_NONE) { /* says nothing of the endpoint */
        if (h->state == SY_BREAKER_HALF_OPEN && h->probes_out > 0) h->probes_out--;
        return false;
    }
    if (h->state == SY_BREAKER_HALF_OPEN) {
        if (failed) {
            open_breaker(h, now_ms);
            return true;
        }
        if (++h->probes_ok >= h->policy->probes) h->state = SY_BREAKER_CLOSED;
        return false;
    }
    if (h->state == SY_BREAKER_OPEN) return false; /* answers of calls sent before it opened */
    int i = slice_for(h, now_ms);
    h->calls[i]++;
    h->failures[i] += failed;
    h->run_of_failures = failed ? h->run_of_failures + 1 : 0;
    if (!failed || !trips(h, now_ms)) return false;
    open_breaker(h, now_ms);
    return true;
}

void sy_health_carry(sy_health *to, const sy_tier *nt, const sy_health *from, const sy_tier *ot)
{
    for (size_t j = 0; j < nt->nmodels; j++)
        for (size_t k = 0; k < ot->nmodels; k++) {
            if (strcmp(nt->models[j].model->alias, ot->models[k].model->alias)) continue;
            to[j] = from[k];
            to[j].policy = &nt->breaker;
            to[j].probes_out = 0; /* the probes out are the old runs': they report to the old state */
            break;
        }
}
