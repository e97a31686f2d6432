/* route.h -- which model a job tries, and what it does after a failure.
 *
 * A job's route through its tier is an order of models: for an ordered tier
 * the listed order; for a weighted tier the arm picked by weight (sticky: a
 * hash of the idempotency key, so a re-run lands on the same arm) followed
 * by the others as fallbacks. After a failed attempt the route says: retry
 * the same model after a delay (retryable class, attempts left; the
 * provider's retry-after wins over our backoff), fall back to the next model
 * now (non-retryable class, or this model's attempts spent), or give up.
 * Pure logic over the pipeline's tier and the outcome: unit-tested alone. */
#ifndef SY_ROUTE_H
#define SY_ROUTE_H

#include <stdint.h>

#include "job.h"
#include "pipeline.h"
#include "providers/provider.h"

#define SY_ROUTE_MAX_MODELS 16

typedef struct sy_route {
    uint8_t order[SY_ROUTE_MAX_MODELS]; /* indices into tier->models */
    uint8_t n;
    uint8_t pos;            /* current place in order */
    uint16_t tries_on_model;
} sy_route;

typedef enum sy_route_action {
    SY_ROUTE_RETRY = 0, /* same model, after *delay_ms */
    SY_ROUTE_FALLBACK,  /* next model, now */
    SY_ROUTE_GIVE_UP,
} sy_route_action;

void sy_route_begin(sy_route *r, const sy_tier *tier, const sy_job *job);
const sy_model *sy_route_model(const sy_route *r, const sy_tier *tier);
/* Note that an attempt on the current model is being made. */
void sy_route_attempt(sy_route *r);
/* Decide after a failed attempt; rnd is a uniform random 64-bit number
 * (for backoff jitter). */
sy_route_action sy_route_after_failure(sy_route *r, const sy_tier *tier, const sy_outcome *o,
                                       uint64_t rnd, int64_t *delay_ms);
/* Full-jitter exponential backoff for retry n (0-based): uniform in
 * [0, min(cap, base * 2^n)] ms. */
int64_t sy_backoff_ms(const sy_retry_policy *p, int n, uint64_t rnd);

#endif
