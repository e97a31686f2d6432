/* werr.h -- the error a worker module returns instead of ending the process.
 *
 * Modeled on librdkafka's error objects: a module that cannot go on says
 * what happened and how bad it is, and the caller decides. Below cli/ no
 * module calls exit() or abort(): a fatal error travels up to the worker's
 * run function (sy_worker_run), which stops the loop and returns it; the
 * command (cli/worker_cmd.c) logs nothing more and picks the exit code.
 *
 *   RETRIABLE  the same operation may succeed if done again later
 *   ABORTABLE  the current unit of work (a Kafka transaction) must be
 *              aborted; the worker goes on after that
 *   FATAL      the worker cannot go on without risking its guarantees
 *              (state not durable, a fenced producer): it stops, and the
 *              unfinished jobs are redone by the next start
 *
 * The first fatal error is kept (sy_werr_set does not overwrite one), so a
 * cascade of failures reports its cause. */
#ifndef SY_WERR_H
#define SY_WERR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum sy_werr_kind {
    SY_WERR_NONE = 0,
    SY_WERR_RETRIABLE,
    SY_WERR_ABORTABLE,
    SY_WERR_FATAL,
} sy_werr_kind;

typedef struct sy_werr {
    sy_werr_kind kind;
    int exit_code; /* what the command should exit with (FATAL: 1 unless said) */
    char msg[512]; /* already logged where it happened; for the report */
} sy_werr;

/* Record an error, unless a fatal one is already recorded. */
static inline void sy_werr_set(sy_werr *e, sy_werr_kind kind, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void sy_werr_set(sy_werr *e, sy_werr_kind kind, int exit_code, const char *fmt, ...)
{
    if (!e || e->kind == SY_WERR_FATAL) return;
    va_list ap;
    va_start(ap, fmt);
    e->kind = kind;
    e->exit_code = exit_code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static inline bool sy_werr_is_fatal(const sy_werr *e)
{
    return e && e->kind == SY_WERR_FATAL;
}

#endif
