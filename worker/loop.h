/* loop.h -- the worker's one event loop (in the spirit of Redis's ae.c).
 *
 * One loop owns the epoll set. Whatever the worker waits for registers
 * here with a callback:
 *   fds      the HTTP engine's sockets (engine.c, as libcurl asks for
 *            them) and the wake pipe that the Kafka clients' queues write
 *            to when they have events (worker.c)
 *   timers   monotonic, one-shot, embedded in their owner (no allocation;
 *            cancel is O(log n), on the timers.c heap): libcurl's
 *            timeouts, the jobs' retries, the periodic purge and report
 *   hook     one before-sleep function, run each turn just before the
 *            wait: the worker's group commit (store commit, then the
 *            launches and produces that waited for it, then the offset
 *            commit). It returns how long the loop may sleep.
 *
 * sy_loop_turn is one turn: hook, wait (bounded by the earliest timer, the
 * hook's answer and the caller's), fd callbacks, due timers. Callbacks may
 * add, change or remove fds and timers, their own included.
 * Single-threaded: nothing here is safe to call from another thread. */
#ifndef SY_LOOP_H
#define SY_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "werr.h"

#define SY_LOOP_READ 1u
#define SY_LOOP_WRITE 2u
#define SY_LOOP_ERROR 4u /* given to callbacks only: error or hang-up */

typedef struct sy_loop sy_loop;

/* fd is ready for `ready` (SY_LOOP_READ | SY_LOOP_WRITE | SY_LOOP_ERROR). */
typedef void (*sy_loop_fd_fn)(void *ctx, int fd, unsigned ready);
typedef void (*sy_loop_timer_fn)(void *ctx);
/* Before the wait: returns the longest the loop may sleep, in ms (-1: no
 * bound of its own). */
typedef int (*sy_loop_hook_fn)(void *ctx);

typedef struct sy_loop_timer {
    sy_loop_timer_fn fn;
    void *ctx;
    size_t pos; /* in the loop's heap; SY_TIMER_NONE when not armed */
} sy_loop_timer;

/* NULL on failure (err says why, as a fatal error). */
sy_loop *sy_loop_new(sy_werr *err);
void sy_loop_free(sy_loop *l);

/* Watch fd for `events` (SY_LOOP_READ/WRITE), replacing a previous
 * registration of the same fd. 0, or -1 (errno). */
int sy_loop_watch(sy_loop *l, int fd, unsigned events, sy_loop_fd_fn fn, void *ctx);
/* Stop watching fd (no-op if it was not watched). */
void sy_loop_unwatch(sy_loop *l, int fd);

void sy_loop_timer_init(sy_loop_timer *t, sy_loop_timer_fn fn, void *ctx);
/* Arm (or move) t to fire at monotonic time due_us (util.h sy_mono_us). */
void sy_loop_timer_at(sy_loop *l, sy_loop_timer *t, int64_t due_us);
void sy_loop_timer_cancel(sy_loop *l, sy_loop_timer *t);
bool sy_loop_timer_armed(const sy_loop_timer *t);

void sy_loop_set_hook(sy_loop *l, sy_loop_hook_fn fn, void *ctx);

/* One turn; waits at most max_wait_ms (0: do not wait). Returns the number
 * of fd and timer callbacks run. */
int sy_loop_turn(sy_loop *l, int max_wait_ms);

#endif
