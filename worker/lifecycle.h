/* lifecycle.h -- a job's life in the worker, as one state machine.
 *
 * Pure decision code: no Kafka, no HTTP, no store, no allocation. The
 * shell (run.c) turns what happens to a job (the store's answer, a
 * provider's response, a delivery report, a timer, the group commit, a
 * transaction's outcome) into an event, asks sy_life_next what follows,
 * sets the run's one state field and carries out the effects, in the
 * order of their bits. This header is the one description of a job's
 * progress; run.c, publish.c and txn.c point here.
 *
 *   NONE --CONSUMED / REBUILT--> NEW --BAD_JOB--> DEAD_LETTER --SETTLED--> DONE
 *                       |
 *                    DECODED (ROUTE: ask the store, then the working map)
 *                       v
 *                    ROUTING --ANSWERED_BEFORE / REROUTED--> DONE (offset released)
 *       +-------------- |  \--FIRST_COPY_OUT--> RECHECK --TIMER--> ROUTING
 *       | KEY_IN_WORK   |   \--REPLAY / DEDUP-------------------------------+
 *       v               | NEW_KEY / STORED_UNREADABLE                         |
 *   WAITING_KEY --------+ (the leader's WAKE_WAITERS: DEDUP, NEW_KEY, ...)    |
 *                       v                                                     |
 *   +-------------->  READY --NO_SLOT--> QUEUED ----SLOT----> READY           |
 *   | ATTEMPT           |  \--NO_PACE--> PACED --PACE_ROOM--> READY (SEND)    |
 *   |                   |   \-NO_MODEL-> BACKOFF --TIMER----> READY           |
 *   |                   | PREPARED (intent staged)                            |
 *   |                   v                                                     |
 *   |             INTENT_STAGED --GROUP_COMMITTED--> CALL_OUT                 |
 *   |                                                  |                      |
 *   +--FALLBACK-----------------------------------------+                      |
 *      RETRIABLE / RATE_LIMITED --> BACKOFF            |                      |
 *      CALL_OUT --BATCH_OWNED--> CALL_OUT (RELEASE_OFFSET: its batch is recorded) |
 *      RESPONSE_OK / PERMANENT / EXPIRED / NOT_RUNNABLE v                      |
 *                                   PUBLISH_STAGED <---------------------------+
 *                                        | GROUP_COMMITTED
 *                    (changelog on) MIRRORING --MIRRORED--+
 *                                        |                v
 *                                        +-----------> PRODUCING --SETTLED--> DONE
 *                                                       |     ^
 *                              (--transactions) TXN_ACKED     | TXN_COMMITTED /
 *                                                       v     | TXN_ABORTED
 *                                                     TXN_HELD
 *
 *   every live state --SHUTDOWN--> DONE (freed, offset kept: redone on restart)
 *   every live state --REVOKED--> itself (the job finishes; its result still goes out)
 *
 * Why these states come in this order (an intent durable before its call,
 * a result before its produce, an offset released only once everything the
 * job produced is settled): docs/durability.md, the one account of it.
 * A (state, event) pair the table does
 * not hold gives SY_FX_ERROR and leaves the state as it was: the shell
 * counts it and logs it; nothing undefined happens. */
#ifndef SY_LIFECYCLE_H
#define SY_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sy_life_state {
    SY_LS_NONE,          /* not consumed yet */
    SY_LS_NEW,           /* consumed, not decoded */
    SY_LS_ROUTING,       /* decoded: the store and the working map are asked */
    SY_LS_WAITING_KEY,   /* another message with its key is in work (a follower) */
    SY_LS_RECHECK,       /* timer: the first copy of this very message is still publishing */
    SY_LS_READY,         /* running: a model is chosen and the call prepared */
    SY_LS_QUEUED,        /* waiting for an engine slot (for good while stopping) */
    SY_LS_PACED,         /* waiting for room under its account's rate limits */
    SY_LS_BACKOFF,       /* timer: a retry's delay, or every model cooling down */
    SY_LS_INTENT_STAGED, /* request built, IN_FLIGHT staged: launched after the group commit */
    SY_LS_CALL_OUT,      /* the provider call is in flight (an embedding job: its group's,
                            embed.h; a batch tier's: a batch carries it, batchio.h) */
    SY_LS_PUBLISH_STAGED,/* result (or stored answer) staged: produced after the group commit */
    SY_LS_MIRRORING,     /* PUBLISHING record on the changelog: the result after its ack */
    SY_LS_PRODUCING,     /* result (and its dead letter) out: waiting for deliveries */
    SY_LS_DEAD_LETTER,   /* an undecodable job or unknown task: only its dead letter is out */
    SY_LS_TXN_HELD,      /* --transactions: all acknowledged, waiting for the commit */
    SY_LS_DONE,          /* freed */
    SY_LS_COUNT
} sy_life_state;

typedef enum sy_life_event {
    SY_EV_CONSUMED,         /* taken from a tier topic */
    SY_EV_BAD_JOB,          /* undecodable, or its task unknown */
    SY_EV_DECODED,
    SY_EV_ANSWERED_BEFORE,  /* store: this very message's result is on the output topic */
    SY_EV_REROUTED,         /* a copy the scheduler routed again of a job answered or in work */
    SY_EV_FIRST_COPY_OUT,   /* store: PUBLISHING, and its first copy still waits for the broker */
    SY_EV_REPLAY,           /* store: redelivered message answered from its stored result */
    SY_EV_DEDUP,            /* store (or the leader): resubmitted key answered, deduplicated */
    SY_EV_STORED_UNREADABLE,/* a stored result cannot be read: the job runs again */
    SY_EV_KEY_IN_WORK,      /* another message with the key is in work */
    SY_EV_NEW_KEY,          /* nothing answers it: it runs, owning its key */
    SY_EV_NOT_RUNNABLE,     /* prompt does not render, or no model's context fits */
    SY_EV_EXPIRED,          /* its deadline passed before a call */
    SY_EV_NO_MODEL,         /* every model of the route cooling down or open: wait */
    SY_EV_NO_SLOT,          /* no engine slot (or stopping) */
    SY_EV_NO_PACE,          /* no room under the account's limits */
    SY_EV_SLOT,             /* an engine slot is free */
    SY_EV_PACE_ROOM,        /* room under the account's limits, reserved */
    SY_EV_BREAKER_OPENED,   /* the model's breaker opened while it waited */
    SY_EV_PREPARED,         /* request built */
    SY_EV_TIMER,            /* its timer fired */
    SY_EV_GROUP_COMMITTED,  /* the store made this turn's records durable */
    SY_EV_RESPONSE_OK,
    SY_EV_RETRIABLE,        /* failed; the route retries the same model later */
    SY_EV_RATE_LIMITED,     /* 429 (retry-after honoured); retried later */
    SY_EV_FALLBACK,         /* failed; the route moves to its next model now */
    SY_EV_PERMANENT,        /* failed; nothing left to try */
    SY_EV_TOO_LARGE_TO_KEEP,/* the result is larger than the store keeps: it fails instead */
    SY_EV_MIRRORED,         /* the changelog acknowledged PUBLISHING (or went on without it) */
    SY_EV_RESULT_DELIVERED, /* the broker acknowledged the result */
    SY_EV_RESULT_REFUSED,   /* the client or broker refused the result for good */
    SY_EV_DELIVERY_RETRIED, /* a delivery failed and its message is produced again */
    SY_EV_SETTLED,          /* every message of the job is settled */
    SY_EV_TXN_ACKED,        /* --transactions: every message acknowledged (or failed) */
    SY_EV_TXN_COMMITTED,
    SY_EV_TXN_ABORTED,      /* its messages are produced again in the next transaction */
    SY_EV_BATCH_OWNED,      /* the batch carrying it is recorded created: it owns the job
                               (its offset is released now, once; batchio.h) */
    SY_EV_REBUILT,          /* not consumed: rebuilt from its batch's record after a restart */
    SY_EV_REVOKED,          /* its partition was taken away */
    SY_EV_SHUTDOWN,         /* the worker exits with the job unfinished */
    SY_EV_COUNT
} sy_life_event;

/* What the shell does, in this order (lowest bit first). */
enum {
    SY_FX_ERROR = 1u << 0,               /* (state, event) not in the table: nothing changes */
    SY_FX_ROUTE = 1u << 1,               /* ask the store and the working map */
    SY_FX_TAKE_KEY = 1u << 2,            /* own the key in the working map */
    SY_FX_JOIN_WAITERS = 1u << 3,        /* wait behind the key's owner */
    SY_FX_BEGIN = 1u << 4,               /* render, route, then attempt */
    SY_FX_ATTEMPT = 1u << 5,             /* check deadline, model, slot, account */
    SY_FX_SEND = 1u << 6,                /* build the request (room already reserved) */
    SY_FX_SET_TIMER = 1u << 7,
    SY_FX_QUEUE_READY = 1u << 8,
    SY_FX_QUEUE_PACED = 1u << 9,
    SY_FX_STAGE_INTENT = 1u << 10,       /* IN_FLIGHT record, durable before the call (a batch
                                            job: none, its batch record is the intent) */
    SY_FX_STAGE_RESULT = 1u << 11,       /* encode the result, stage PUBLISHING */
    SY_FX_WAKE_WAITERS = 1u << 12,       /* the key's followers get the answer */
    SY_FX_DEFER = 1u << 13,              /* wait for the group commit */
    SY_FX_LAUNCH_CALL = 1u << 14,
    SY_FX_MIRROR = 1u << 15,             /* PUBLISHING to the changelog */
    SY_FX_PRODUCE_RESULT = 1u << 16,     /* the result, and a failed job's dead letter */
    SY_FX_NOTE_PUBLISHED = 1u << 17,     /* PUBLISHED in the store (and the changelog, unmarked: jobstate.c) */
    SY_FX_CLOSE_RECORD = 1u << 18,       /* PUBLISHED with no output offset */
    SY_FX_PRODUCE_DEAD_LETTER = 1u << 19,
    SY_FX_HOLD = 1u << 20,               /* wait for the transaction */
    SY_FX_RELEASE_OFFSET = 1u << 21,
    SY_FX_FREE = 1u << 22,
};
#define SY_FX_COUNT 23

/* The few facts a transition depends on, as the shell knows them. */
typedef struct sy_life_facts {
    bool mirror;     /* GROUP_COMMITTED in PUBLISH_STAGED: the changelog first */
    bool txn_failed; /* TXN_ACKED: one of its messages failed in this transaction */
    bool has_out;    /* TXN_COMMITTED: its result was acknowledged at a known offset */
} sy_life_facts;

typedef struct sy_life_step {
    sy_life_state next;
    uint32_t effects;
} sy_life_step;

/* The transition out of (state, event); facts may be NULL (all false). */
sy_life_step sy_life_next(sy_life_state state, sy_life_event ev, const sy_life_facts *facts);

const char *sy_life_state_name(sy_life_state s);
const char *sy_life_event_name(sy_life_event e);

#endif
