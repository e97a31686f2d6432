/* timers.c -- see timers.h. */
#include "timers.h"
#include "util.h"

#include <stdlib.h>

void sy_timers_init(sy_timers *t)
{
    t->heap = NULL;
    t->n = t->cap = 0;
}

void sy_timers_free(sy_timers *t)
{
    free(t->heap);
    sy_timers_init(t);
}

static void place(sy_timers *t, size_t i, sy_timer_entry e)
{
    t->heap[i] = e;
    *e.pos = i;
}

static void sift_up(sy_timers *t, size_t i)
{
    sy_timer_entry e = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (t->heap[parent].due_us <= e.due_us) break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, e);
}

static void sift_down(sy_timers *t, size_t i)
{
    sy_timer_entry e = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n) break;
        if (c + 1 < t->n && t->heap[c + 1].due_us < t->heap[c].due_us) c++;
        if (e.due_us <= t->heap[c].due_us) break;
        place(t, i, t->heap[c]);
        i = c;
    }
    place(t, i, e);
}

void sy_timers_add(sy_timers *t, int64_t due_us, void *item, size_t *pos)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->heap = sy_xrealloc(t->heap, t->cap * sizeof(sy_timer_entry));
    }
    t->heap[t->n] = (sy_timer_entry){.due_us = due_us, .item = item, .pos = pos};
    *pos = t->n;
    sift_up(t, t->n++);
}

static void remove_at(sy_timers *t, size_t i)
{
    *t->heap[i].pos = SY_TIMER_NONE;
    t->n--;
    if (i == t->n) return;
    place(t, i, t->heap[t->n]);
    sift_down(t, i);
    sift_up(t, i); /* the moved entry goes down, or up, or stays */
}

void sy_timers_cancel(sy_timers *t, size_t *pos)
{
    if (*pos != SY_TIMER_NONE && *pos < t->n) remove_at(t, *pos);
}

void *sy_timers_pop_due(sy_timers *t, int64_t now_us)
{
    if (t->n == 0 || t->heap[0].due_us > now_us) return NULL;
    void *item = t->heap[0].item;
    remove_at(t, 0);
    return item;
}

int64_t sy_timers_wait_us(const sy_timers *t, int64_t now_us)
{
    if (t->n == 0) return -1;
    int64_t d = t->heap[0].due_us - now_us;
    return d > 0 ? d : 0;
}
