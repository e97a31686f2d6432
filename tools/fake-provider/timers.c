/* timers.c -- responses waiting out their simulated latency.
 *
 * Latency is never simulated by sleeping: a response is built when its
 * request arrives and parked here, in a binary min-heap ordered by due time
 * (then arrival order, so equal due times answer first-come first-served).
 * The event loop sleeps in epoll_wait until the earliest one is due. */
#include "fake.h"
#include "util.h"

#include <stdint.h>

static fp_pending **heap;
static size_t heap_len, heap_cap;

static int earlier(const fp_pending *a, const fp_pending *b)
{
    return a->due_us != b->due_us ? a->due_us < b->due_us : a->seq < b->seq;
}

static void swap(size_t i, size_t j)
{
    fp_pending *t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
}

static void sift_up(size_t i)
{
    while (i > 0 && earlier(heap[i], heap[(i - 1) / 2])) {
        swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_len && earlier(heap[l], heap[m])) m = l;
        if (r < heap_len && earlier(heap[r], heap[m])) m = r;
        if (m == i) return;
        swap(i, m);
        i = m;
    }
}

void fp_timers_push(fp_pending *p)
{
    static uint64_t seq;
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1024;
        heap = sy_xrealloc(heap, heap_cap * sizeof *heap);
    }
    p->seq = seq++;
    heap[heap_len] = p;
    sift_up(heap_len++);
}

fp_pending *fp_timers_pop_due(int64_t now_us)
{
    if (heap_len == 0 || heap[0]->due_us > now_us) return NULL;
    fp_pending *p = heap[0];
    heap[0] = heap[--heap_len];
    sift_down(0);
    return p;
}

int64_t fp_timers_next_due_us(void)
{
    return heap_len ? heap[0]->due_us : INT64_MAX;
}

size_t fp_timers_count(void)
{
    return heap_len;
}
