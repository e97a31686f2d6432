/* route.h -- which model a job tries, and what it does after a failure.
 *
 * A job's route through its tier is an order of models, fixed when the job
 * begins from what the worker knows then (a view per model): models whose
 * context window cannot hold the job are left out; the rest are ordered by
 * the tier's strategy:
 *
 *   ordered        as listed
 *   weighted       the arm picked by weight (sticky: a hash of the
 *                  idempotency key, so a re-run lands on the same arm),
 *                  then the others as listed
 *   cheapest       lowest expected cost of this job first
 *   fastest        lowest moving-average latency first (unmeasured first,
 *                  so every model gets measured)
 *   most-headroom  most pacing capacity left on the model's account first
 *
 * and models that cannot take calls now (breaker open, account cooling
 * down) go last. A job whose metadata names a model of the tier
 * (SY_META_MODEL, body.model of an OpenAI batch file) that can take calls
 * gets that model first, the others after it in the strategy's order. The route keeps a one-line reason for the choice, which
 * the result carries.
 *
 * After a failed attempt the route says: retry the same model after a delay
 * (retryable class, attempts left; the provider's retry-after wins over our
 * backoff), fall back to another model now, or give up. Some classes jump:
 * a context-window error goes to the next model with a larger window, a
 * refusal to the tier's on_refusal model. Auth and quota errors are the
 * account's, not the model's: fall back if another model is left, else
 * retry after the account's cool-down (the worker puts it in retry_after).
 * Pure logic over the tier, the views and the outcome: unit-tested alone. */
#ifndef SY_ROUTE_H
#define SY_ROUTE_H

#include <stdint.h>

#include "job.h"
#include "pipeline.h"
#include "providers/provider.h"

#define SY_ROUTE_MAX_MODELS 16

/* What the worker knows of one model of the tier as a job begins. */
typedef struct sy_model_view {
    bool fits;         /* the job's estimated tokens fit its context window */
    bool usable;       /* breaker and account let calls through now */
    double cost_usd;   /* expected cost of this job on it */
    double latency_ms; /* moving average; < 0 unknown */
    double headroom;   /* share of its account's pacing capacity free, 0..1 */
} sy_model_view;

typedef struct sy_route {
    uint8_t order[SY_ROUTE_MAX_MODELS]; /* indices into tier->models */
    uint8_t n;
    uint8_t pos;            /* current place in order */
    uint16_t tries_on_model;
    char why[112];          /* why order[0] was chosen */
} sy_route;

typedef enum sy_route_action {
    SY_ROUTE_RETRY = 0, /* same model, after *delay_ms */
    SY_ROUTE_FALLBACK,  /* next model, now */
    SY_ROUTE_GIVE_UP,
} sy_route_action;

/* Order the tier's models for this job. Returns -1 when no model fits
 * (r->why says so), else 0. */
int sy_route_begin(sy_route *r, const sy_tier *tier, const sy_job *job,
                   const sy_model_view *views);
const sy_model *sy_route_model(const sy_route *r, const sy_tier *tier);
/* Note that an attempt on the current model is being made. */
void sy_route_attempt(sy_route *r);
/* Move to place pos of the order (a later model, skipping unusable ones). */
void sy_route_skip_to(sy_route *r, int pos);
/* Decide after a failed attempt; rnd is a uniform random 64-bit number
 * (for backoff jitter). */
sy_route_action sy_route_after_failure(sy_route *r, const sy_tier *tier, const sy_outcome *o,
                                       uint64_t rnd, int64_t *delay_ms);
/* Full-jitter exponential backoff for retry n (0-based): uniform in
 * [0, min(cap, base * 2^n)] ms. */
int64_t sy_backoff_ms(const sy_retry_policy *p, int n, uint64_t rnd);
/* Auth (401) and quota errors belong to the account, not the model. */
bool sy_route_account_error(const sy_outcome *o);

#endif
