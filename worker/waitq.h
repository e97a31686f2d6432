/* waitq.h -- jobs waiting for capacity: fair between tasks, by priority
 * within a task.
 *
 * A job waits when all connection slots are taken or its provider account
 * has no room under its rate limits. Who goes next matters when a big batch
 * of one task sits in front of a few urgent jobs of another: plain FIFO
 * would make the urgent ones wait for the whole batch.
 *
 * Each task has a lane. Within a lane jobs leave by priority, then age (a
 * binary heap on (priority, arrival)). Between lanes the queue is weighted
 * fair: every lane has a virtual time that grows by 1/share each time it
 * is served, and the non-empty lane with the lowest virtual time goes next,
 * so over any busy stretch lanes are served in proportion to their shares
 * and none starves. A lane that was idle joins at the current virtual time
 * (it cannot bank credit while it had nothing to send).
 *
 * A job may carry a deadline: whatever it waits for (an account paused by
 * a provider for a day, say), it is taken out once its deadline has passed
 * (sy_waitq_take_expired), so the worker can expire it on time. */
#ifndef SY_WAITQ_H
#define SY_WAITQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct sy_waiter {
    int priority;  /* higher first */
    uint64_t seq;  /* arrival order */
    int64_t deadline; /* 0 = none */
    void *item;
} sy_waiter;

typedef struct sy_lane {
    sy_waiter *heap;
    size_t n, cap;
    double share;
    double vtime;
} sy_lane;

typedef struct sy_waitq {
    sy_lane *lanes;
    size_t nlanes;
    size_t n;       /* waiting in all lanes */
    double vnow;    /* virtual time of the last lane served */
    uint64_t seq;
    int64_t first_deadline; /* earliest deadline pushed since the last sweep (0: none) */
} sy_waitq;

/* shares[i] > 0 is lane i's weight (NULL: all 1). */
void sy_waitq_init(sy_waitq *q, size_t nlanes, const double *shares);
void sy_waitq_free(sy_waitq *q);
void sy_waitq_push(sy_waitq *q, size_t lane, int priority, void *item);
/* The same, for an item that expires after `deadline` (0: never; any clock,
 * the one sy_waitq_take_expired is given). */
void sy_waitq_push_until(sy_waitq *q, size_t lane, int priority, int64_t deadline, void *item);
/* When to sweep next: the earliest deadline among the items (possibly one
 * already taken out, so a sweep may find nothing), 0 when none has one. */
int64_t sy_waitq_next_deadline(const sy_waitq *q);
/* Take out every item whose deadline is before `now`: returns how many,
 * and the items in *out (malloc'd, the caller frees; NULL when none). The
 * others keep their order. */
size_t sy_waitq_take_expired(sy_waitq *q, int64_t now, void ***out);
/* The next item (NULL when empty), without or with taking it. */
void *sy_waitq_peek(const sy_waitq *q);
void *sy_waitq_pop(sy_waitq *q);

#endif
