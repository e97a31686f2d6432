/* counters.h -- what happened to the worker's jobs, counted in one place.
 *
 * Every transition of a job's life (lifecycle.h) is counted by run.c as it
 * happens, in transitions[from state][event], and every effect carried out
 * in effects[bit]; a (state, event) pair the table does not hold counts in
 * invalid. The figures of the worker's statistics line are sums of these
 * (sy_counters_summary). Only what is not a step of a job's life has a
 * field of its own. */
#ifndef SY_COUNTERS_H
#define SY_COUNTERS_H

#include <stdint.h>

#include "lifecycle.h"

typedef struct sy_counters {
    uint64_t transitions[SY_LS_COUNT][SY_EV_COUNT];
    uint64_t effects[SY_FX_COUNT];
    uint64_t invalid;       /* (state, event) pairs not in the table */
    uint64_t dead_letters;  /* produced (a job's, a refused result's, a truncated one's first) */
    uint64_t breaker_skips; /* models of a route skipped: breaker open or account cooling */
    uint64_t embed_requests, embed_inputs; /* embeddings: requests sent, inputs that joined one */
} sy_counters;

/* The figures of the statistics line. */
typedef struct sy_counts {
    uint64_t consumed, succeeded, failed, dead, calls, retries, fallbacks;
    uint64_t deduplicated, replayed, skipped, rerouted, breaker_skips;
} sy_counts;

static inline uint64_t sy_counters_event(const sy_counters *c, sy_life_event ev)
{
    uint64_t n = 0;
    for (int s = 0; s < SY_LS_COUNT; s++) n += c->transitions[s][ev];
    return n;
}

static inline uint64_t sy_counters_effect(const sy_counters *c, uint32_t fx)
{
    int bit = 0;
    while (bit < SY_FX_COUNT && !(fx & (1u << bit))) bit++;
    return bit < SY_FX_COUNT ? c->effects[bit] : 0;
}

static inline sy_counts sy_counters_summary(const sy_counters *c)
{
    uint64_t shrunk = sy_counters_event(c, SY_EV_TOO_LARGE_TO_KEEP); /* an ok answer failed */
    return (sy_counts){
        .consumed = sy_counters_event(c, SY_EV_CONSUMED),
        .succeeded = sy_counters_event(c, SY_EV_RESPONSE_OK) - shrunk,
        .failed = sy_counters_event(c, SY_EV_NOT_RUNNABLE) + sy_counters_event(c, SY_EV_EXPIRED) +
                  sy_counters_event(c, SY_EV_PERMANENT) + shrunk,
        .dead = c->dead_letters,
        .calls = sy_counters_effect(c, SY_FX_LAUNCH_CALL),
        .retries = sy_counters_event(c, SY_EV_RETRIABLE) + sy_counters_event(c, SY_EV_RATE_LIMITED),
        .fallbacks = sy_counters_event(c, SY_EV_FALLBACK),
        .deduplicated = sy_counters_event(c, SY_EV_DEDUP),
        .replayed = sy_counters_event(c, SY_EV_REPLAY),
        .skipped = sy_counters_event(c, SY_EV_ANSWERED_BEFORE),
        .rerouted = sy_counters_event(c, SY_EV_REROUTED),
        .breaker_skips = c->breaker_skips,
    };
}

#endif
