/* lifecycle.c -- the transition table of a job's life (lifecycle.h draws
 * it). Pure: run.c feeds it events and carries out what it returns. */
#include "lifecycle.h"

#include <stddef.h>

_Static_assert(SY_LS_COUNT <= 32, "states are bits of a uint32_t");

#define S(x) (1u << SY_LS_##x)
/* Every state in which a job is alive (held by the worker). */
#define LIVE                                                                                       \
    (S(NEW) | S(ROUTING) | S(WAITING_KEY) | S(RECHECK) | S(READY) | S(QUEUED) | S(PACED) |         \
     S(BACKOFF) | S(INTENT_STAGED) | S(CALL_OUT) | S(PUBLISH_STAGED) | S(MIRRORING) |              \
     S(PRODUCING) | S(DEAD_LETTER) | S(TXN_HELD))
/* The outcome is final: the result is staged and the waiters answered. */
#define FINAL (SY_FX_STAGE_RESULT | SY_FX_WAKE_WAITERS | SY_FX_DEFER)
#define SAME SY_LS_COUNT /* next state: the one it is in */

enum { ANY, IF_MIRROR, IF_NOT_MIRROR, IF_TXN_FAILED, IF_NOT_TXN_FAILED, IF_HAS_OUT, IF_NOT_HAS_OUT };

typedef struct row {
    uint32_t from; /* states, as bits */
    uint8_t ev;
    uint8_t when;
    uint8_t to;
    uint32_t fx;
} row;

static const row table[] = {
    {S(NONE), SY_EV_CONSUMED, ANY, SY_LS_NEW, 0},
    {S(NONE), SY_EV_REBUILT, ANY, SY_LS_NEW, 0},
    {S(NEW), SY_EV_BAD_JOB, ANY, SY_LS_DEAD_LETTER, SY_FX_PRODUCE_DEAD_LETTER},
    {S(NEW), SY_EV_DECODED, ANY, SY_LS_ROUTING, SY_FX_ROUTE},
    /* the store's answer (ROUTING), or the leader's (WAITING_KEY) */
    {S(ROUTING), SY_EV_ANSWERED_BEFORE, ANY, SY_LS_DONE, SY_FX_RELEASE_OFFSET | SY_FX_FREE},
    {S(ROUTING) | S(WAITING_KEY), SY_EV_REROUTED, ANY, SY_LS_DONE,
     SY_FX_RELEASE_OFFSET | SY_FX_FREE},
    {S(ROUTING), SY_EV_FIRST_COPY_OUT, ANY, SY_LS_RECHECK, SY_FX_SET_TIMER},
    {S(ROUTING), SY_EV_REPLAY, ANY, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
    {S(ROUTING) | S(WAITING_KEY), SY_EV_DEDUP, ANY, SY_LS_PUBLISH_STAGED, SY_FX_DEFER},
    {S(ROUTING) | S(WAITING_KEY), SY_EV_STORED_UNREADABLE, ANY, SY_LS_READY, SY_FX_BEGIN},
    {S(ROUTING) | S(WAITING_KEY), SY_EV_KEY_IN_WORK, ANY, SY_LS_WAITING_KEY, SY_FX_JOIN_WAITERS},
    {S(ROUTING) | S(WAITING_KEY), SY_EV_NEW_KEY, ANY, SY_LS_READY, SY_FX_TAKE_KEY | SY_FX_BEGIN},
    {S(RECHECK), SY_EV_TIMER, ANY, SY_LS_ROUTING, SY_FX_ROUTE},
    /* running: what the attempt found */
    {S(READY), SY_EV_NOT_RUNNABLE, ANY, SY_LS_PUBLISH_STAGED, FINAL},
    {S(READY) | S(PACED), SY_EV_EXPIRED, ANY, SY_LS_PUBLISH_STAGED, FINAL},
    {S(READY), SY_EV_NO_MODEL, ANY, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {S(READY), SY_EV_NO_SLOT, ANY, SY_LS_QUEUED, SY_FX_QUEUE_READY},
    {S(READY), SY_EV_NO_PACE, ANY, SY_LS_PACED, SY_FX_QUEUE_PACED},
    {S(READY), SY_EV_BREAKER_OPENED, ANY, SY_LS_READY, SY_FX_ATTEMPT},
    {S(READY), SY_EV_PREPARED, ANY, SY_LS_INTENT_STAGED, SY_FX_STAGE_INTENT | SY_FX_DEFER},
    {S(QUEUED), SY_EV_SLOT, ANY, SY_LS_READY, SY_FX_ATTEMPT},
    {S(PACED), SY_EV_PACE_ROOM, ANY, SY_LS_READY, SY_FX_SEND},
    {S(BACKOFF), SY_EV_TIMER, ANY, SY_LS_READY, SY_FX_ATTEMPT},
    {S(INTENT_STAGED), SY_EV_GROUP_COMMITTED, ANY, SY_LS_CALL_OUT, SY_FX_LAUNCH_CALL},
    /* the answer */
    {S(CALL_OUT), SY_EV_RESPONSE_OK, ANY, SY_LS_PUBLISH_STAGED, FINAL},
    {S(CALL_OUT), SY_EV_PERMANENT, ANY, SY_LS_PUBLISH_STAGED, FINAL},
    {S(CALL_OUT), SY_EV_RETRIABLE, ANY, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {S(CALL_OUT), SY_EV_RATE_LIMITED, ANY, SY_LS_BACKOFF, SY_FX_SET_TIMER},
    {S(CALL_OUT), SY_EV_FALLBACK, ANY, SY_LS_READY, SY_FX_ATTEMPT},
    {S(CALL_OUT), SY_EV_BATCH_OWNED, ANY, SY_LS_CALL_OUT, SY_FX_RELEASE_OFFSET},
    /* publishing */
    {S(PUBLISH_STAGED), SY_EV_TOO_LARGE_TO_KEEP, ANY, SY_LS_PUBLISH_STAGED, SY_FX_STAGE_RESULT},
    {S(PUBLISH_STAGED), SY_EV_GROUP_COMMITTED, IF_MIRROR, SY_LS_MIRRORING, SY_FX_MIRROR},
    {S(PUBLISH_STAGED), SY_EV_GROUP_COMMITTED, IF_NOT_MIRROR, SY_LS_PRODUCING,
     SY_FX_PRODUCE_RESULT},
    {S(MIRRORING), SY_EV_MIRRORED, ANY, SY_LS_PRODUCING, SY_FX_PRODUCE_RESULT},
    {S(PRODUCING), SY_EV_RESULT_DELIVERED, ANY, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
    {S(PRODUCING), SY_EV_RESULT_REFUSED, ANY, SY_LS_PRODUCING,
     SY_FX_CLOSE_RECORD | SY_FX_PRODUCE_DEAD_LETTER},
    {S(MIRRORING) | S(PRODUCING) | S(DEAD_LETTER) | S(TXN_HELD), SY_EV_DELIVERY_RETRIED, ANY, SAME,
     0},
    {S(PRODUCING) | S(DEAD_LETTER), SY_EV_SETTLED, ANY, SY_LS_DONE,
     SY_FX_RELEASE_OFFSET | SY_FX_FREE},
    /* --transactions */
    {S(PRODUCING) | S(DEAD_LETTER), SY_EV_TXN_ACKED, IF_NOT_TXN_FAILED, SY_LS_TXN_HELD,
     SY_FX_RELEASE_OFFSET | SY_FX_HOLD},
    {S(PRODUCING) | S(DEAD_LETTER), SY_EV_TXN_ACKED, IF_TXN_FAILED, SY_LS_TXN_HELD, SY_FX_HOLD},
    {S(TXN_HELD), SY_EV_TXN_COMMITTED, IF_HAS_OUT, SY_LS_PRODUCING, SY_FX_NOTE_PUBLISHED},
    {S(TXN_HELD), SY_EV_TXN_COMMITTED, IF_NOT_HAS_OUT, SY_LS_PRODUCING, 0},
    {S(PRODUCING) | S(DEAD_LETTER) | S(TXN_HELD), SY_EV_TXN_ABORTED, ANY, SY_LS_PRODUCING, 0},
    /* the worker around it */
    {LIVE, SY_EV_REVOKED, ANY, SAME, 0},
    {LIVE, SY_EV_SHUTDOWN, ANY, SY_LS_DONE, SY_FX_FREE},
};

static bool holds(int when, const sy_life_facts *f)
{
    switch (when) {
    case IF_MIRROR: return f->mirror;
    case IF_NOT_MIRROR: return !f->mirror;
    case IF_TXN_FAILED: return f->txn_failed;
    case IF_NOT_TXN_FAILED: return !f->txn_failed;
    case IF_HAS_OUT: return f->has_out;
    case IF_NOT_HAS_OUT: return !f->has_out;
    default: return true;
    }
}

#define NROWS (sizeof table / sizeof *table)

/* The first row of each (state, event), NROWS where none: built once, so
 * an event costs a lookup and a scan of the rows that follow with the same
 * event, not of the whole table. The rows of one (state, event), which
 * differ by their facts, must stand together (test_lifecycle.c checks
 * every pair). */
static uint8_t first[SY_LS_COUNT][SY_EV_COUNT];

static void index_table(void)
{
    for (int s = 0; s < SY_LS_COUNT; s++)
        for (int e = 0; e < SY_EV_COUNT; e++) {
            first[s][e] = NROWS;
            for (size_t i = 0; i < NROWS; i++)
                if (table[i].ev == e && (table[i].from & (1u << s))) {
                    first[s][e] = (uint8_t)i;
                    break;
                }
        }
}

sy_life_step sy_life_next(sy_life_state state, sy_life_event ev, const sy_life_facts *facts)
{
    static const sy_life_facts none;
    static bool indexed;
    if (!facts) facts = &none;
    if ((unsigned)state >= SY_LS_COUNT || (unsigned)ev >= SY_EV_COUNT)
        return (sy_life_step){state, SY_FX_ERROR};
    if (!indexed) {
        index_table();
        indexed = true;
    }
    for (size_t i = first[state][ev]; i < NROWS && table[i].ev == ev; i++) {
        const row *t = &table[i];
        if ((t->from & (1u << state)) && holds(t->when, facts))
            return (sy_life_step){t->to == SAME ? state : (sy_life_state)t->to, t->fx};
    }
    return (sy_life_step){state, SY_FX_ERROR};
}

const char *sy_life_state_name(sy_life_state s)
{
    static const char *const names[SY_LS_COUNT] = {
        "none", "new", "routing", "waiting_key", "recheck", "ready", "queued", "paced",
        "backoff", "intent_staged", "call_out", "publish_staged", "mirroring", "producing",
        "dead_letter", "txn_held", "done"};
    return (unsigned)s < SY_LS_COUNT ? names[s] : "?";
}

const char *sy_life_event_name(sy_life_event e)
{
    static const char *const names[SY_EV_COUNT] = {
        "consumed", "bad_job", "decoded", "answered_before", "rerouted", "first_copy_out",
        "replay", "dedup", "stored_unreadable", "key_in_work", "new_key", "not_runnable",
        "expired", "no_model", "no_slot", "no_pace", "slot", "pace_room", "breaker_opened",
        "prepared", "timer", "group_committed", "response_ok", "retriable", "rate_limited",
        "fallback", "permanent", "too_large_to_keep", "mirrored", "result_delivered",
        "result_refused", "delivery_retried", "settled", "txn_acked", "txn_committed",
        "txn_aborted", "batch_owned", "rebuilt", "revoked", "shutdown"};
    return (unsigned)e < SY_EV_COUNT ? names[e] : "?";
}
