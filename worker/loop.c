/* loop.c -- see loop.h.
 *
 * Registrations live in a table indexed by fd (as in ae.c), grown as fds
 * come; the epoll event carries only the fd. An event read in a batch for
 * an fd that an earlier callback of the same batch unwatched is skipped;
 * one whose fd number was reused in between reaches the new owner as a
 * spurious readiness, which libcurl and the wake pipe both tolerate. */
#include "loop.h"
#include "timers.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 512

typedef struct watch {
    sy_loop_fd_fn fn;
    void *ctx;
    unsigned events; /* 0: not watched */
} watch;

struct sy_loop {
    int epfd;
    watch *fds;
    size_t nfds;
    sy_timers timers; /* items: sy_loop_timer * */
    sy_loop_hook_fn hook;
    void *hook_ctx;
};

sy_loop *sy_loop_new(sy_werr *err)
{
    sy_loop *l = sy_xcalloc(1, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        sy_werr_set(err, SY_WERR_FATAL, 1, "cannot set up the event loop: %s", strerror(errno));
        free(l);
        return NULL;
    }
    sy_timers_init(&l->timers);
    return l;
}

void sy_loop_free(sy_loop *l)
{
    if (!l) return;
    close(l->epfd);
    free(l->fds);
    sy_timers_free(&l->timers);
    free(l);
}

static uint32_t epoll_events(unsigned events)
{
    return (events & SY_LOOP_READ ? EPOLLIN : 0) | (events & SY_LOOP_WRITE ? EPOLLOUT : 0);
}

int sy_loop_watch(sy_loop *l, int fd, unsigned events, sy_loop_fd_fn fn, void *ctx)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if ((size_t)fd >= l->nfds) {
        size_t n = l->nfds ? l->nfds : 64;
        while (n <= (size_t)fd) n *= 2;
        l->fds = sy_xrealloc(l->fds, n * sizeof *l->fds);
        memset(l->fds + l->nfds, 0, (n - l->nfds) * sizeof *l->fds);
        l->nfds = n;
    }
    watch *w = &l->fds[fd];
    struct epoll_event ev = {.events = epoll_events(events), .data.fd = fd};
    int op = w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0) {
        /* an fd closed and reused behind our back, or a stale mark */
        op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(l->epfd, op, fd, &ev) != 0) return -1;
    }
    *w = (watch){.fn = fn, .ctx = ctx, .events = events ? events : SY_LOOP_ERROR};
    return 0;
}

void sy_loop_unwatch(sy_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].events) return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL); /* fails harmlessly if fd was closed */
    l->fds[fd] = (watch){0};
}

void sy_loop_timer_init(sy_loop_timer *t, sy_loop_timer_fn fn, void *ctx)
{
    *t = (sy_loop_timer){.fn = fn, .ctx = ctx, .pos = SY_TIMER_NONE};
}

bool sy_loop_timer_armed(const sy_loop_timer *t)
{
    return t->pos != SY_TIMER_NONE;
}

void sy_loop_timer_cancel(sy_loop *l, sy_loop_timer *t)
{
    sy_timers_cancel(&l->timers, &t->pos);
}

void sy_loop_timer_at(sy_loop *l, sy_loop_timer *t, int64_t due_us)
{
    sy_timers_cancel(&l->timers, &t->pos);
    sy_timers_add(&l->timers, due_us, t, &t->pos);
}

void sy_loop_set_hook(sy_loop *l, sy_loop_hook_fn fn, void *ctx)
{
    l->hook = fn;
    l->hook_ctx = ctx;
}

/* The wait: the caller's bound, the hook's, the earliest timer's. */
static int wait_ms(sy_loop *l, int max_wait_ms, int hook_ms)
{
    int ms = max_wait_ms < 0 ? 0 : max_wait_ms;
    if (hook_ms >= 0 && hook_ms < ms) ms = hook_ms;
    int64_t us = sy_timers_wait_us(&l->timers, sy_mono_us());
    if (us >= 0 && us < (int64_t)ms * 1000) ms = (int)((us + 999) / 1000);
    return ms;
}

static int run_timers(sy_loop *l)
{
    int n = 0;
    int64_t now = sy_mono_us();
    sy_loop_timer *t;
    /* a timer armed again by its own callback for "now" waits for the next turn */
    for (int left = (int)l->timers.n; left > 0 && (t = sy_timers_pop_due(&l->timers, now)); left--) {
        t->fn(t->ctx);
        n++;
    }
    return n;
}

int sy_loop_turn(sy_loop *l, int max_wait_ms)
{
    int hook_ms = l->hook ? l->hook(l->hook_ctx) : -1;
    struct epoll_event ev[EVENTS_PER_WAIT];
    int n = epoll_wait(l->epfd, ev, EVENTS_PER_WAIT, wait_ms(l, max_wait_ms, hook_ms));
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if ((size_t)fd >= l->nfds || !l->fds[fd].events) continue; /* unwatched meanwhile */
        unsigned ready = (ev[i].events & (EPOLLIN | EPOLLHUP) ? SY_LOOP_READ : 0) |
                         (ev[i].events & EPOLLOUT ? SY_LOOP_WRITE : 0) |
                         (ev[i].events & (EPOLLERR | EPOLLHUP) ? SY_LOOP_ERROR : 0);
        l->fds[fd].fn(l->fds[fd].ctx, fd, ready);
        ran++;
    }
    return ran + run_timers(l);
}
