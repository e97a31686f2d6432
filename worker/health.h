/* health.h -- what the worker has seen of each model of a tier: a circuit
 * breaker and moving averages of latency and output length.
 *
 * The breaker keeps a failing endpoint from eating attempts (and money, and
 * connection slots) while it is down. Closed, it counts outcomes in a
 * sliding window of ten slices and the current run of failures; it opens
 * when either trigger of the tier's policy fires. Open, nothing is sent to
 * the model until the cool-down ends; then it is half-open and lets a few
 * probe calls through: that many successes close it, one failure opens it
 * again for another cool-down.
 *
 * Only failures that say something about the endpoint count: server errors,
 * overload, timeouts, connection errors and malformed answers. Rate limits
 * belong to pacing, 4xx to the job, and auth or quota errors to the account.
 *
 * The moving averages feed the `fastest` and `cheapest` strategies. All of
 * this is pure state over explicit time (the worker passes monotonic
 * milliseconds), so unit tests drive the clock. */
#ifndef SY_HEALTH_H
#define SY_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"

#define SY_HEALTH_SLICES 10

typedef enum sy_breaker_state { SY_BREAKER_CLOSED = 0, SY_BREAKER_OPEN, SY_BREAKER_HALF_OPEN } sy_breaker_state;

typedef struct sy_health {
    const sy_breaker_policy *policy;
    sy_breaker_state state;
    int64_t open_until_ms;      /* when an open breaker turns half-open */
    int run_of_failures;        /* consecutive failures */
    int probes_out, probes_ok;  /* half-open: probes sent and answered well */
    int64_t slice_start_ms[SY_HEALTH_SLICES];
    int calls[SY_HEALTH_SLICES], failures[SY_HEALTH_SLICES];
    double latency_ms;          /* moving average of successful calls; < 0 unknown */
    double tokens_out;          /* moving average of output tokens; < 0 unknown */
    uint64_t opened;            /* times the breaker opened */
} sy_health;

void sy_health_init(sy_health *h, const sy_breaker_policy *p);
/* May a call go to this model now? A half-open breaker counts the call as
 * a probe when it says yes. */
bool sy_health_allow(sy_health *h, int64_t now_ms);
/* Would it allow one (without taking a probe)? */
bool sy_health_usable(const sy_health *h, int64_t now_ms);
/* Milliseconds until an open breaker lets probes through (0 if it does). */
int64_t sy_health_wait_ms(const sy_health *h, int64_t now_ms);
/* Record a finished call. Returns true when this outcome opened the breaker. */
bool sy_health_record(sy_health *h, sy_err_class c, int64_t latency_ms, int64_t tokens_out,
                      int64_t now_ms);
/* A call it allowed that another reports for (the jobs of one embeddings
 * request: the first records, embed.h): a probe it took goes back. */
void sy_health_release(sy_health *h);
/* Does this error class count against the endpoint? */
bool sy_health_counts(sy_err_class c);

/* A reload (reload.h): each model of the new tier nt takes the state of the
 * model of the same alias in the old tier ot (from: ot's states), under nt's
 * policy; models new to the tier keep the state they were given. */
void sy_health_carry(sy_health *to, const sy_tier *nt, const sy_health *from, const sy_tier *ot);

#endif
