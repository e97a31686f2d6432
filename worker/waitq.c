/* waitq.c -- see waitq.h. */
#include "waitq.h"
#include "util.h"

#include <stdlib.h>

void sy_waitq_init(sy_waitq *q, size_t nlanes, const double *shares)
{
    q->lanes = sy_xcalloc(nlanes ? nlanes : 1, sizeof *q->lanes);
    q->nlanes = nlanes;
    q->n = 0;
    q->first_deadline = 0;
    q->vnow = 0;
    q->seq = 0;
    for (size_t i = 0; i < nlanes; i++) q->lanes[i].share = shares && shares[i] > 0 ? shares[i] : 1;
}

void sy_waitq_free(sy_waitq *q)
{
    for (size_t i = 0; i < q->nlanes; i++) free(q->lanes[i].heap);
    free(q->lanes);
    q->lanes = NULL;
    q->nlanes = q->n = 0;
}

static int before(const sy_waiter *a, const sy_waiter *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static void swap(sy_waiter *a, sy_waiter *b)
{
    sy_waiter t = *a;
    *a = *b;
    *b = t;
}

void sy_waitq_push(sy_waitq *q, size_t lane, int priority, void *item)
{
    sy_waitq_push_until(q, lane, priority, 0, item);
}

void sy_waitq_push_until(sy_waitq *q, size_t lane, int priority, int64_t deadline, void *item)
{
    sy_lane *l = &q->lanes[lane < q->nlanes ? lane : 0];
    if (l->n == 0 && l->vtime < q->vnow) l->vtime = q->vnow; /* no credit for idle time */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->heap = sy_xrealloc(l->heap, l->cap * sizeof *l->heap);
    }
    size_t i = l->n++;
    l->heap[i] = (sy_waiter){.priority = priority, .seq = q->seq++, .deadline = deadline, .item = item};
    if (deadline && (!q->first_deadline || deadline < q->first_deadline)) q->first_deadline = deadline;
    while (i > 0 && before(&l->heap[i], &l->heap[(i - 1) / 2])) {
        swap(&l->heap[i], &l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    q->n++;
}

static sy_lane *next_lane(const sy_waitq *q)
{
    sy_lane *best = NULL;
    for (size_t i = 0; i < q->nlanes; i++) {
        sy_lane *l = &q->lanes[i];
        if (l->n && (!best || l->vtime < best->vtime)) best = l;
    }
    return best;
}

void *sy_waitq_peek(const sy_waitq *q)
{
    sy_lane *l = q->n ? next_lane(q) : NULL;
    return l ? l->heap[0].item : NULL;
}

static void sift_down(sy_lane *l, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n) return;
        if (c + 1 < l->n && before(&l->heap[c + 1], &l->heap[c])) c++;
        if (!before(&l->heap[c], &l->heap[i])) return;
        swap(&l->heap[c], &l->heap[i]);
        i = c;
    }
}

void *sy_waitq_pop(sy_waitq *q)
{
    sy_lane *l = q->n ? next_lane(q) : NULL;
    if (!l) return NULL;
    void *item = l->heap[0].item;
    l->heap[0] = l->heap[--l->n];
    sift_down(l, 0);
    q->vnow = l->vtime;
    l->vtime += 1.0 / l->share;
    q->n--;
    return item;
}

int64_t sy_waitq_next_deadline(const sy_waitq *q)
{
    return q->n ? q->first_deadline : 0;
}

size_t sy_waitq_take_expired(sy_waitq *q, int64_t now, void ***out)
{
    *out = NULL;
    if (!q->n || !q->first_deadline || now <= q->first_deadline) return 0;
    size_t taken = 0, cap = 0;
    int64_t first = 0;
    for (size_t li = 0; li < q->nlanes; li++) {
        sy_lane *l = &q->lanes[li];
        size_t keep = 0;
        for (size_t i = 0; i < l->n; i++) {
            sy_waiter w = l->heap[i];
            if (w.deadline && w.deadline < now) {
                if (taken == cap) *out = sy_xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
                (*out)[taken++] = w.item;
                continue;
            }
            if (w.deadline && (!first || w.deadline < first)) first = w.deadline;
            l->heap[keep++] = w;
        }
        if (keep == l->n) continue;
        l->n = keep;
        for (size_t i = keep / 2; i-- > 0;) sift_down(l, i); /* a heap again */
    }
    q->n -= taken;
    q->first_deadline = first;
    return taken;
}
