/* test_lifecycle.c -- a job's life in the worker (worker/lifecycle.h):
 * every transition of the state machine, written down here a second time
 * as the specification, and walks through the lives the worker must get
 * right: a duplicate key while the first is in flight, a redelivery
 * answered from the store, a resubmission deduplicated, a retry after a
 * 429, a fallback, a dead letter, a result the broker refuses for good, a
 * transaction aborted and produced again, a revoke and a shutdown in the
 * middle of a call. Every (state, event) pair not written here must give
 * the error effect and leave the state alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "lifecycle.h"

#define X -1 /* a fact the transition does not depend on */

typedef struct spec {
    sy_life_state from;
    sy_life_event ev;
    int mirror, txn_failed, has_out; /* X, 0 or 1 */
    sy_life_state to;
    uint32_t fx;
} spec;

#define FINAL (SY_FX_STAGE_RESULT | SY_FX_WAKE_WAITERS | SY_FX_DEFER)
#define END (SY_FX_RELEASE_OFFSET | SY_FX_FREE)

static const spec table[] = {
    {SY_LS_NONE, SY_EV_CONSUMED, X, X, X, SY_LS_NEW, 0},
    {SY_LS_NONE, SY_EV_REBUILT, X, X, X, SY_LS_NEW, 0},
    {SY_LS_NEW, SY_EV_BAD_JOB, X, X, X, SY_LS_DEAD_LETTER, SY_FX_PRODUCE_DEAD_LETTER},
    {SY_LS_NEW, SY_EV_DECODED, X, X, X, SY_LS_ROUTING, SY_FX_ROUTE},
    {SY_LS_ROUTING, SY_EV_ANSWERED_BEFORE, X, X, X, SY_LS_DONE, END},
    {SY_LS_ROUTING, SY_EV_REROUTED, X, X, X, SY_LS_DONE, END},
    {SY_LS_WAITING_KEY, SY_EV_REROUTED, X, X, X, SY_LS_DONE, END},
    {SY_LS_ROUTING, SY_EV_FIRST_COPY_OUT, X, X, X, SY_LS_RECHECK, SY_FX_SET_TIMER},
    {SY_LS_ROUTING, SY_EV_REPLAY, X, X, X, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
    {SY_LS_ROUTING, SY_EV_DEDUP, X, X, X, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
    {SY_LS_WAITING_KEY, SY_EV_DEDUP, X, X, X, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
    {SY_LS_ROUTING, SY_EV_STORED_UNREADABLE, X, X, X, SY_LS_READY, SY_FX_BEGIN},
    {SY_LS_WAITING_KEY, SY_EV_STORED_UNREADABLE, X, X, X, SY_LS_READY, SY_FX_BEGIN},
    {SY_LS_ROUTING, SY_EV_KEY_IN_WORK, X, X, X, SY_LS_WAITING_KEY, SY_FX_JOIN_WAITERS},
    {SY_LS_WAITING_KEY, SY_EV_KEY_IN_WORK, X, X, X, SY_LS_WAITING_KEY, SY_FX_JOIN_WAITERS},
    {SY_LS_ROUTING, SY_EV_NEW_KEY, X, X, X, SY_LS_READY, SY_FX_TAKE_KEY | SY_FX_BEGIN},
    {SY_LS_WAITING_KEY, SY_EV_NEW_KEY, X, X, X, SY_LS_READY, SY_FX_TAKE_KEY | SY_FX_BEGIN},
    {SY_LS_RECHECK, SY_EV_TIMER, X, X, X, SY_LS_ROUTING, SY_FX_ROUTE},
    {SY_LS_READY, SY_EV_NOT_RUNNABLE, X, X, X, SY_LS_PUBLISH_STAGED, FINAL},
    {SY_LS_READY, SY_EV_EXPIRED, X, X, X, SY_LS_PUBLISH_STAGED, FINAL},
    {SY_LS_PACED, SY_EV_EXPIRED, X, X, X, SY_LS_PUBLISH_STAGED, FINAL},
    {SY_LS_READY, SY_EV_NO_MODEL, X, X, X, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {SY_LS_READY, SY_EV_NO_SLOT, X, X, X, SY_LS_QUEUED, SY_FX_QUEUE_READY},
    {SY_LS_READY, SY_EV_NO_PACE, X, X, X, SY_LS_PACED, SY_FX_QUEUE_PACED},
    {SY_LS_READY, SY_EV_BREAKER_OPENED, X, X, X, SY_LS_READY, SY_FX_ATTEMPT},
    {SY_LS_READY, SY_EV_PREPARED, X, X, X, SY_LS_INTENT_STAGED, SY_FX_STAGE_INTENT | SY_FX_DEFER},
    {SY_LS_QUEUED, SY_EV_SLOT, X, X, X, SY_LS_READY, SY_FX_ATTEMPT},
    {SY_LS_PACED, SY_EV_PACE_ROOM, X, X, X, SY_LS_READY, SY_FX_SEND},
    {SY_LS_BACKOFF, SY_EV_TIMER, X, X, X, SY_LS_READY, SY_FX_ATTEMPT},
    {SY_LS_INTENT_STAGED, SY_EV_GROUP_COMMITTED, X, X, X, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL},
    {SY_LS_CALL_OUT, SY_EV_RESPONSE_OK, X, X, X, SY_LS_PUBLISH_STAGED, FINAL},
    {SY_LS_CALL_OUT, SY_EV_PERMANENT, X, X, X, SY_LS_PUBLISH_STAGED, FINAL},
    {SY_LS_CALL_OUT, SY_EV_RETRIABLE, X, X, X, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {SY_LS_CALL_OUT, SY_EV_RATE_LIMITED, X, X, X, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {SY_LS_CALL_OUT, SY_EV_FALLBACK, X, X, X, SY_LS_READY, SY_FX_ATTEMPT},
    {SY_LS_CALL_OUT, SY_EV_BATCH_OWNED, X, X, X, SY_LS_CALL_OUT, SY_FX_RELEASE_OFFSET},
    {SY_LS_PUBLISH_STAGED, SY_EV_TOO_LARGE_TO_KEEP, X, X, X, SY_LS_PUBLISH_STAGED,
     SY_FX_STAGE_RESULT},
    {SY_LS_PUBLISH_STAGED, SY_EV_GROUP_COMMITTED, 1, X, X, SY_LS_MIRRORING, SY_FX_MIRROR},
    {SY_LS_PUBLISH_STAGED, SY_EV_GROUP_COMMITTED, 0, X, X, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
    {SY_LS_MIRRORING, SY_EV_MIRRORED, X, X, X, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
    {SY_LS_PRODUCING, SY_EV_RESULT_DELIVERED, X, X, X, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
    {SY_LS_PRODUCING, SY_EV_RESULT_REFUSED, X, X, X, SY_LS_PRODUCING,
     SY_FX_CLOSE_RECORD | SY_FX_PRODUCE_DEAD_LETTER},
    {SY_LS_MIRRORING, SY_EV_DELIVERY_RETRIED, X, X, X, SY_LS_MIRRORING, 0},
    {SY_LS_PRODUCING, SY_EV_DELIVERY_RETRIED, X, X, X, SY_LS_PRODUCING, 0},
    {SY_LS_DEAD_LETTER, SY_EV_DELIVERY_RETRIED, X, X, X, SY_LS_DEAD_LETTER, 0},
    {SY_LS_TXN_HELD, SY_EV_DELIVERY_RETRIED, X, X, X, SY_LS_TXN_HELD, 0},
    {SY_LS_PRODUCING, SY_EV_SETTLED, X, X, X, SY_LS_DONE, END},
    {SY_LS_DEAD_LETTER, SY_EV_SETTLED, X, X, X, SY_LS_DONE, END},
    {SY_LS_PRODUCING, SY_EV_TXN_ACKED, X, 0, X, SY_LS_TXN_HELD, SY_FX_RELEASE_OFFSET | SY_FX_HOLD},
    {SY_LS_PRODUCING, SY_EV_TXN_ACKED, X, 1, X, SY_LS_TXN_HELD, SY_FX_HOLD},
    {SY_LS_DEAD_LETTER, SY_EV_TXN_ACKED, X, 0, X, SY_LS_TXN_HELD, SY_FX_RELEASE_OFFSET | SY_FX_HOLD},
    {SY_LS_DEAD_LETTER, SY_EV_TXN_ACKED, X, 1, X, SY_LS_TXN_HELD, SY_FX_HOLD},
    {SY_LS_TXN_HELD, SY_EV_TXN_COMMITTED, X, X, 1, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
    {SY_LS_TXN_HELD, SY_EV_TXN_COMMITTED, X, X, 0, SY_LS_PRODUCING, 0},
    {SY_LS_PRODUCING, SY_EV_TXN_ABORTED, X, X, X, SY_LS_PRODUCING, 0},
    {SY_LS_DEAD_LETTER, SY_EV_TXN_ABORTED, X, X, X, SY_LS_PRODUCING, 0},
    {SY_LS_TXN_HELD, SY_EV_TXN_ABORTED, X, X, X, SY_LS_PRODUCING, 0},
};

/* REVOKED and SHUTDOWN hold in every state a job is alive in. */
static bool live(sy_life_state s)
{
    return s != SY_LS_NONE && s != SY_LS_DONE;
}

static bool fits(int want, bool have)
{
    return want == X || (want == 1) == have;
}

/* What the specification says of (s, ev, f); false: not in it. */
static bool expected(sy_life_state s, sy_life_event ev, const sy_life_facts *f, sy_life_step *out)
{
    if (live(s) && ev == SY_EV_REVOKED) {
        *out = (sy_life_step){s, 0};
        return true;
    }
    if (live(s) && ev == SY_EV_SHUTDOWN) {
        *out = (sy_life_step){SY_LS_DONE, SY_FX_FREE};
        return true;
    }
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        const spec *t = &table[i];
        if (t->from == s && t->ev == ev && fits(t->mirror, f->mirror) &&
            fits(t->txn_failed, f->txn_failed) && fits(t->has_out, f->has_out)) {
            *out = (sy_life_step){t->to, t->fx};
            return true;
        }
    }
    return false;
}

/* Every (state, event, facts): the table's answer, or the error effect
 * with the state unchanged. */
static void test_every_pair(void **state)
{
    (void)state;
    size_t valid = 0, invalid = 0;
    for (int s = 0; s < SY_LS_COUNT; s++)
        for (int e = 0; e < SY_EV_COUNT; e++)
            for (int bits = 0; bits < 8; bits++) {
                sy_life_facts f = {.mirror = bits & 1, .txn_failed = bits & 2, .has_out = bits & 4};
                sy_life_step want, got = sy_life_next((sy_life_state)s, (sy_life_event)e, &f);
                char where[128];
                snprintf(where, sizeof where, "%s + %s (facts %d)",
                         sy_life_state_name((sy_life_state)s), sy_life_event_name((sy_life_event)e),
                         bits);
                if (expected((sy_life_state)s, (sy_life_event)e, &f, &want)) {
                    if (got.next != want.next || got.effects != want.effects)
                        fail_msg("%s: got %s/%#x, want %s/%#x", where, sy_life_state_name(got.next),
                                 got.effects, sy_life_state_name(want.next), want.effects);
                    valid++;
                } else {
                    if (got.next != (sy_life_state)s || got.effects != SY_FX_ERROR)
                        fail_msg("%s: not in the lifecycle, but gave %s/%#x", where,
                                 sy_life_state_name(got.next), got.effects);
                    invalid++;
                }
            }
    assert_true(valid > 0 && invalid > 0);
}

static void test_out_of_range_is_an_error(void **state)
{
    (void)state;
    sy_life_step s = sy_life_next(SY_LS_COUNT, SY_EV_CONSUMED, NULL);
    assert_int_equal(s.effects, SY_FX_ERROR);
    s = sy_life_next(SY_LS_NEW, SY_EV_COUNT, NULL);
    assert_int_equal(s.effects, SY_FX_ERROR);
    assert_int_equal(s.next, SY_LS_NEW);
    s = sy_life_next((sy_life_state)-1, (sy_life_event)-7, NULL);
    assert_int_equal(s.effects, SY_FX_ERROR);
    assert_string_equal(sy_life_state_name(SY_LS_COUNT), "?");
    assert_string_equal(sy_life_event_name(SY_EV_COUNT), "?");
}

/* Every state and event has a name (the log says them). */
static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < SY_LS_COUNT; s++) assert_string_not_equal(sy_life_state_name((sy_life_state)s), "?");
    for (int e = 0; e < SY_EV_COUNT; e++) assert_string_not_equal(sy_life_event_name((sy_life_event)e), "?");
}

/* ---- lives ---- */

typedef struct move {
    sy_life_event ev;
    sy_life_facts f;
    sy_life_state to;
    uint32_t fx; /* these effects at least */
} move;

/* Walk one life from `from`; every move must be valid and land where said. */
static sy_life_state walk(sy_life_state from, const move *m, size_t n)
{
    sy_life_state s = from;
    for (size_t i = 0; i < n; i++) {
        sy_life_step st = sy_life_next(s, m[i].ev, &m[i].f);
        if (st.effects & SY_FX_ERROR)
            fail_msg("move %zu: %s in %s is not in the lifecycle", i, sy_life_event_name(m[i].ev),
                     sy_life_state_name(s));
        if (st.next != m[i].to || (st.effects & m[i].fx) != m[i].fx)
            fail_msg("move %zu: %s in %s gave %s/%#x, want %s with %#x", i,
                     sy_life_event_name(m[i].ev), sy_life_state_name(s), sy_life_state_name(st.next),
                     st.effects, sy_life_state_name(m[i].to), m[i].fx);
        s = st.next;
    }
    return s;
}

#define WALK(from, ...)                                                                            \
    walk(from, (const move[]){__VA_ARGS__}, sizeof((const move[]){__VA_ARGS__}) / sizeof(move))

static const sy_life_facts MIRROR = {.mirror = true};

/* consumed, decoded, nothing in the store: it owns its key and calls */
#define TO_CALL_OUT                                                                                \
    {SY_EV_CONSUMED, {0}, SY_LS_NEW, 0}, {SY_EV_DECODED, {0}, SY_LS_ROUTING, SY_FX_ROUTE},         \
        {SY_EV_NEW_KEY, {0}, SY_LS_READY, SY_FX_TAKE_KEY | SY_FX_BEGIN},                           \
        {SY_EV_PREPARED, {0}, SY_LS_INTENT_STAGED, SY_FX_STAGE_INTENT | SY_FX_DEFER},              \
        {SY_EV_GROUP_COMMITTED, {0}, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL}
/* answered: the result is staged, mirrored, produced and acknowledged */
#define TO_DONE                                                                                    \
    {SY_EV_RESPONSE_OK, {0}, SY_LS_PUBLISH_STAGED, FINAL},                                         \
        {SY_EV_GROUP_COMMITTED, MIRROR, SY_LS_MIRRORING, SY_FX_MIRROR},                            \
        {SY_EV_MIRRORED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},                              \
        {SY_EV_RESULT_DELIVERED, {0}, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},                      \
        {SY_EV_SETTLED, {0}, SY_LS_DONE, END}

static void test_life_of_a_job(void **state)
{
    (void)state;
    assert_int_equal(WALK(SY_LS_NONE, TO_CALL_OUT, TO_DONE), SY_LS_DONE);
}

/* A second message with the key arrives while the first is in flight: it
 * waits, and gets the first one's answer, deduplicated. */
static void test_duplicate_key_while_in_flight(void **state)
{
    (void)state;
    sy_life_state second = WALK(SY_LS_NONE, {SY_EV_CONSUMED, {0}, SY_LS_NEW, 0},
                                {SY_EV_DECODED, {0}, SY_LS_ROUTING, SY_FX_ROUTE},
                                {SY_EV_KEY_IN_WORK, {0}, SY_LS_WAITING_KEY, SY_FX_JOIN_WAITERS});
    /* the first one answers: WAKE_WAITERS */
    sy_life_step st = sy_life_next(SY_LS_CALL_OUT, SY_EV_RESPONSE_OK, NULL);
    assert_true(st.effects & SY_FX_WAKE_WAITERS);
    /* the waiter is deduplicated (no changelog mirror for another job's answer) */
    assert_int_equal(WALK(second, {SY_EV_DEDUP, {0}, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
                          {SY_EV_GROUP_COMMITTED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
                          {SY_EV_SETTLED, {0}, SY_LS_DONE, END}),
                     SY_LS_DONE);
    /* had the first one failed, the waiter runs on its own, owning the key */
    assert_int_equal(WALK(second, {SY_EV_NEW_KEY, {0}, SY_LS_READY, SY_FX_TAKE_KEY | SY_FX_BEGIN}),
                     SY_LS_READY);
    /* or waits behind another waiter that took the key first */
    assert_int_equal(WALK(second, {SY_EV_KEY_IN_WORK, {0}, SY_LS_WAITING_KEY, SY_FX_JOIN_WAITERS}),
                     SY_LS_WAITING_KEY);
    /* the same job routed again by a restarted scheduler: released, no result */
    assert_int_equal(WALK(second, {SY_EV_REROUTED, {0}, SY_LS_DONE, END}), SY_LS_DONE);
}

/* Redelivered after a crash: published before -> skipped; publishing ->
 * its stored result again (mirrored first); still going out on its first
 * copy -> look again later. */
static void test_redelivery_answered_from_store(void **state)
{
    (void)state;
    const move in[] = {{SY_EV_CONSUMED, {0}, SY_LS_NEW, 0},
                       {SY_EV_DECODED, {0}, SY_LS_ROUTING, SY_FX_ROUTE}};
    sy_life_state routing = walk(SY_LS_NONE, in, 2);
    assert_int_equal(WALK(routing, {SY_EV_ANSWERED_BEFORE, {0}, SY_LS_DONE, END}), SY_LS_DONE);
    assert_int_equal(WALK(routing, {SY_EV_REPLAY, {0}, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
                          {SY_EV_GROUP_COMMITTED, MIRROR, SY_LS_MIRRORING, SY_FX_MIRROR},
                          {SY_EV_MIRRORED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
                          {SY_EV_RESULT_DELIVERED, {0}, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
                          {SY_EV_SETTLED, {0}, SY_LS_DONE, END}),
                     SY_LS_DONE);
    assert_int_equal(WALK(routing, {SY_EV_FIRST_COPY_OUT, {0}, SY_LS_RECHECK, SY_FX_SET_TIMER},
                          {SY_EV_TIMER, {0}, SY_LS_ROUTING, SY_FX_ROUTE},
                          {SY_EV_ANSWERED_BEFORE, {0}, SY_LS_DONE, END}),
                     SY_LS_DONE);
    /* a stored result that cannot be read: the job runs again */
    assert_int_equal(WALK(routing, {SY_EV_STORED_UNREADABLE, {0}, SY_LS_READY, SY_FX_BEGIN}),
                     SY_LS_READY);
}

static void test_resubmission_deduplicated(void **state)
{
    (void)state;
    sy_life_state s = WALK(SY_LS_NONE, {SY_EV_CONSUMED, {0}, SY_LS_NEW, 0},
                           {SY_EV_DECODED, {0}, SY_LS_ROUTING, SY_FX_ROUTE},
                           {SY_EV_DEDUP, {0}, SY_LS_PUBLISH_STAGED, SY_FX_DEFER});
    sy_life_step st = sy_life_next(s, SY_EV_GROUP_COMMITTED, NULL);
    assert_int_equal(st.next, SY_LS_PRODUCING);
    assert_false(st.effects & (SY_FX_STAGE_RESULT | SY_FX_LAUNCH_CALL | SY_FX_MIRROR));
}

/* A 429: the job waits (retry-after) and calls again; a retriable error
 * the same; a model cooling down or open: it waits for it. */
static void test_retry_after_429(void **state)
{
    (void)state;
    sy_life_state s = WALK(SY_LS_NONE, TO_CALL_OUT,
                           {SY_EV_RATE_LIMITED, {0}, SY_LS_BACKOFF, SY_FX_SET_TIMER},
                           {SY_EV_TIMER, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                           {SY_EV_NO_MODEL, {0}, SY_LS_BACKOFF, SY_FX_SET_TIMER},
                           {SY_EV_TIMER, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                           {SY_EV_NO_PACE, {0}, SY_LS_PACED, SY_FX_QUEUE_PACED},
                           {SY_EV_PACE_ROOM, {0}, SY_LS_READY, SY_FX_SEND},
                           {SY_EV_PREPARED, {0}, SY_LS_INTENT_STAGED, SY_FX_STAGE_INTENT},
                           {SY_EV_GROUP_COMMITTED, {0}, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL},
                           {SY_EV_RETRIABLE, {0}, SY_LS_BACKOFF, SY_FX_SET_TIMER},
                           {SY_EV_TIMER, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                           {SY_EV_NO_SLOT, {0}, SY_LS_QUEUED, SY_FX_QUEUE_READY},
                           {SY_EV_SLOT, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                           {SY_EV_BREAKER_OPENED, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                           {SY_EV_PREPARED, {0}, SY_LS_INTENT_STAGED, SY_FX_DEFER},
                           {SY_EV_GROUP_COMMITTED, {0}, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL},
                           TO_DONE);
    assert_int_equal(s, SY_LS_DONE);
    /* waiting on the account past its deadline: it fails with a result */
    assert_int_equal(WALK(SY_LS_PACED, {SY_EV_EXPIRED, {0}, SY_LS_PUBLISH_STAGED, FINAL}),
                     SY_LS_PUBLISH_STAGED);
}

static void test_fallback(void **state)
{
    (void)state;
    assert_int_equal(WALK(SY_LS_NONE, TO_CALL_OUT, {SY_EV_FALLBACK, {0}, SY_LS_READY, SY_FX_ATTEMPT},
                          {SY_EV_PREPARED, {0}, SY_LS_INTENT_STAGED, SY_FX_STAGE_INTENT},
                          {SY_EV_GROUP_COMMITTED, {0}, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL},
                          TO_DONE),
                     SY_LS_DONE);
}

/* Dead letters: a job that cannot be read; a job that fails for good (its
 * failed result goes out with its dead letter); a result too large for the
 * store fails instead. */
static void test_dead_letter(void **state)
{
    (void)state;
    assert_int_equal(WALK(SY_LS_NONE, {SY_EV_CONSUMED, {0}, SY_LS_NEW, 0},
                          {SY_EV_BAD_JOB, {0}, SY_LS_DEAD_LETTER, SY_FX_PRODUCE_DEAD_LETTER},
                          {SY_EV_DELIVERY_RETRIED, {0}, SY_LS_DEAD_LETTER, 0},
                          {SY_EV_SETTLED, {0}, SY_LS_DONE, END}),
                     SY_LS_DONE);
    assert_int_equal(WALK(SY_LS_NONE, TO_CALL_OUT,
                          {SY_EV_PERMANENT, {0}, SY_LS_PUBLISH_STAGED, FINAL},
                          {SY_EV_GROUP_COMMITTED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
                          {SY_EV_SETTLED, {0}, SY_LS_DONE, END}),
                     SY_LS_DONE);
    assert_int_equal(WALK(SY_LS_READY, {SY_EV_NOT_RUNNABLE, {0}, SY_LS_PUBLISH_STAGED, FINAL}),
                     SY_LS_PUBLISH_STAGED);
    assert_int_equal(WALK(SY_LS_CALL_OUT, {SY_EV_RESPONSE_OK, {0}, SY_LS_PUBLISH_STAGED, FINAL},
                          {SY_EV_TOO_LARGE_TO_KEEP, {0}, SY_LS_PUBLISH_STAGED, SY_FX_STAGE_RESULT}),
                     SY_LS_PUBLISH_STAGED);
    /* staging again does not answer the waiters twice nor wait twice */
    sy_life_step st = sy_life_next(SY_LS_PUBLISH_STAGED, SY_EV_TOO_LARGE_TO_KEEP, NULL);
    assert_false(st.effects & (SY_FX_WAKE_WAITERS | SY_FX_DEFER));
}

/* The broker refuses the result for good: its record is closed and a dead
 * letter says why; the offset is released once that is settled. */
static void test_result_refused_for_good(void **state)
{
    (void)state;
    assert_int_equal(
        WALK(SY_LS_CALL_OUT, {SY_EV_RESPONSE_OK, {0}, SY_LS_PUBLISH_STAGED, FINAL},
             {SY_EV_GROUP_COMMITTED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
             {SY_EV_DELIVERY_RETRIED, {0}, SY_LS_PRODUCING, 0},
             {SY_EV_RESULT_REFUSED, {0}, SY_LS_PRODUCING, SY_FX_CLOSE_RECORD | SY_FX_PRODUCE_DEAD_LETTER},
             {SY_EV_SETTLED, {0}, SY_LS_DONE, END}),
        SY_LS_DONE);
    /* a refusal before anything was produced is no event of a staged job */
    assert_int_equal(sy_life_next(SY_LS_PUBLISH_STAGED, SY_EV_RESULT_REFUSED, NULL).effects,
                     SY_FX_ERROR);
}

/* --transactions: held until the commit; an abort produces everything
 * again and the job waits for its messages once more; a delivery failed in
 * the transaction keeps its offset back. */
static void test_transaction_abort_and_reproduce(void **state)
{
    (void)state;
    const sy_life_facts failed = {.txn_failed = true}, out = {.has_out = true};
    sy_life_state s = WALK(SY_LS_CALL_OUT, {SY_EV_RESPONSE_OK, {0}, SY_LS_PUBLISH_STAGED, FINAL},
                           {SY_EV_GROUP_COMMITTED, MIRROR, SY_LS_MIRRORING, SY_FX_MIRROR},
                           {SY_EV_MIRRORED, {0}, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
                           {SY_EV_TXN_ACKED, failed, SY_LS_TXN_HELD, SY_FX_HOLD},
                           {SY_EV_TXN_ABORTED, {0}, SY_LS_PRODUCING, 0},
                           {SY_EV_TXN_ACKED, {0}, SY_LS_TXN_HELD, SY_FX_HOLD | SY_FX_RELEASE_OFFSET},
                           {SY_EV_TXN_ABORTED, {0}, SY_LS_PRODUCING, 0},
                           {SY_EV_TXN_ACKED, {0}, SY_LS_TXN_HELD, SY_FX_HOLD | SY_FX_RELEASE_OFFSET},
                           {SY_EV_TXN_COMMITTED, out, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
                           {SY_EV_SETTLED, {0}, SY_LS_DONE, END});
    assert_int_equal(s, SY_LS_DONE);
    sy_life_step st = sy_life_next(SY_LS_PRODUCING, SY_EV_TXN_ACKED, &failed);
    assert_false(st.effects & SY_FX_RELEASE_OFFSET);
    st = sy_life_next(SY_LS_TXN_HELD, SY_EV_TXN_COMMITTED, NULL); /* a dead letter only */
    assert_int_equal(st.next, SY_LS_PRODUCING);
    assert_false(st.effects & SY_FX_NOTE_PUBLISHED);
    /* not acknowledged yet: a commit is no news for it */
    assert_int_equal(sy_life_next(SY_LS_PRODUCING, SY_EV_TXN_COMMITTED, &out).effects, SY_FX_ERROR);
}

/* Revoked in the middle of a call: the call finishes and its result still
 * goes out. */
static void test_revoke_mid_call(void **state)
{
    (void)state;
    assert_int_equal(WALK(SY_LS_NONE, TO_CALL_OUT, {SY_EV_REVOKED, {0}, SY_LS_CALL_OUT, 0},
                          TO_DONE),
                     SY_LS_DONE);
    assert_int_equal(sy_life_next(SY_LS_CALL_OUT, SY_EV_REVOKED, NULL).effects, 0);
}

/* The worker exits in the middle of a call: the job is dropped without
 * releasing its offset (the next owner redoes it). */
static void test_shutdown_mid_call(void **state)
{
    (void)state;
    sy_life_state s = WALK(SY_LS_NONE, TO_CALL_OUT);
    sy_life_step st = sy_life_next(s, SY_EV_SHUTDOWN, NULL);
    assert_int_equal(st.next, SY_LS_DONE);
    assert_int_equal(st.effects, SY_FX_FREE);
    /* and once gone, nothing more happens to it */
    assert_int_equal(sy_life_next(SY_LS_DONE, SY_EV_RESPONSE_OK, NULL).effects, SY_FX_ERROR);
    assert_int_equal(sy_life_next(SY_LS_DONE, SY_EV_SHUTDOWN, NULL).effects, SY_FX_ERROR);
}

/* Effects are carried out lowest bit first: the order the shell relies on. */
static void test_effect_order(void **state)
{
    (void)state;
    assert_true(SY_FX_STAGE_RESULT < SY_FX_WAKE_WAITERS && SY_FX_WAKE_WAITERS < SY_FX_DEFER);
    assert_true(SY_FX_TAKE_KEY < SY_FX_BEGIN);
    assert_true(SY_FX_CLOSE_RECORD < SY_FX_PRODUCE_DEAD_LETTER);
    assert_true(SY_FX_RELEASE_OFFSET < SY_FX_FREE && SY_FX_HOLD < SY_FX_FREE);
    assert_int_equal(SY_FX_FREE, 1u << (SY_FX_COUNT - 1)); /* the last one */
}

/* The statistics line's figures are sums of the transitions: an ok answer
 * too large to keep counts as failed, a 429 as a retry. */
static void test_counters_summary(void **state)
{
    (void)state;
    sy_counters c;
    memset(&c, 0, sizeof c);
    c.transitions[SY_LS_NONE][SY_EV_CONSUMED] = 10;
    c.transitions[SY_LS_CALL_OUT][SY_EV_RESPONSE_OK] = 6;
    c.transitions[SY_LS_PUBLISH_STAGED][SY_EV_TOO_LARGE_TO_KEEP] = 1;
    c.transitions[SY_LS_CALL_OUT][SY_EV_PERMANENT] = 1;
    c.transitions[SY_LS_READY][SY_EV_EXPIRED] = 1;
    c.transitions[SY_LS_PACED][SY_EV_EXPIRED] = 1;
    c.transitions[SY_LS_CALL_OUT][SY_EV_RATE_LIMITED] = 2;
    c.transitions[SY_LS_CALL_OUT][SY_EV_RETRIABLE] = 3;
    c.transitions[SY_LS_ROUTING][SY_EV_DEDUP] = 4;
    c.transitions[SY_LS_WAITING_KEY][SY_EV_DEDUP] = 1;
    c.transitions[SY_LS_WAITING_KEY][SY_EV_REROUTED] = 2;
    c.effects[__builtin_ctz(SY_FX_LAUNCH_CALL)] = 12;
    c.dead_letters = 3;
    sy_counts n = sy_counters_summary(&c);
    assert_int_equal(n.consumed, 10);
    assert_int_equal(n.succeeded, 5);
    assert_int_equal(n.failed, 4);
    assert_int_equal(n.retries, 5);
    assert_int_equal(n.deduplicated, 5);
    assert_int_equal(n.rerouted, 2);
    assert_int_equal(n.calls, 12);
    assert_int_equal(n.dead, 3);
    assert_int_equal(n.skipped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_out_of_range_is_an_error),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_life_of_a_job),
        cmocka_unit_test(test_duplicate_key_while_in_flight),
        cmocka_unit_test(test_redelivery_answered_from_store),
        cmocka_unit_test(test_resubmission_deduplicated),
        cmocka_unit_test(test_retry_after_429),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_dead_letter),
        cmocka_unit_test(test_result_refused_for_good),
        cmocka_unit_test(test_transaction_abort_and_reproduce),
        cmocka_unit_test(test_revoke_mid_call),
        cmocka_unit_test(test_shutdown_mid_call),
        cmocka_unit_test(test_effect_order),
        cmocka_unit_test(test_counters_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
