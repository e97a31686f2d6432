/* timers.h -- jobs waiting for a moment: retries after backoff.
 *
 * A binary min-heap keyed by due time. A waiting job holds no HTTP
 * connection and blocks nothing: it is just an entry here until it is due.
 * Each item remembers its heap position (through the pos pointer it gives),
 * so cancelling one is O(log n). */
#ifndef SY_TIMERS_H
#define SY_TIMERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sy_timer_entry {
    int64_t due_us;
    void *item;
    size_t *pos; /* item's slot that tracks its heap index */
} sy_timer_entry;

typedef struct sy_timers {
    sy_timer_entry *heap;
    size_t n, cap;
} sy_timers;

void sy_timers_init(sy_timers *t);
void sy_timers_free(sy_timers *t);
void sy_timers_add(sy_timers *t, int64_t due_us, void *item, size_t *pos);
void sy_timers_cancel(sy_timers *t, size_t *pos);
/* Pop the earliest item if it is due at `now_us`, else NULL. */
void *sy_timers_pop_due(sy_timers *t, int64_t now_us);
/* Microseconds until the earliest is due (0 if due), or -1 when empty. */
int64_t sy_timers_wait_us(const sy_timers *t, int64_t now_us);

#define SY_TIMER_NONE ((size_t)-1)

#endif
