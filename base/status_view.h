/* status_view.h -- one frame of `switchyard status` (cli/status.c): the
 * state of running workers and schedulers, drawn from two readings of
 * each one's /metrics page (base/promparse.h) taken dt seconds apart.
 * Rates (results per second, cost per second) are the counters' deltas
 * over dt; a counter that went down (a restart) counts from zero.
 *
 * Everything on a page comes from outside: each label value is escaped
 * (sy_escape_ctl: no ESC, CR, LF) and cut to its column before it is
 * written, and at most STATUS_ROWS rows are listed per table.
 *
 * Base layer (base/), pure: no I/O, no terminal control codes (the caller
 * clears the screen between frames when it refreshes). */
#ifndef SY_STATUS_VIEW_H
#define SY_STATUS_VIEW_H

#include "buf.h"
#include "promparse.h"

#define SY_STATUS_ROWS 40

typedef struct sy_status_src {
    const char *url;            /* as the operator gave it */
    const sy_promp_page *prev;  /* NULL: no earlier reading (no rates) */
    const sy_promp_page *cur;   /* NULL: unreachable, see error */
    const char *error;          /* why cur is NULL */
    double dt_s;                /* seconds between prev and cur */
} sy_status_src;

/* Append the frame for n sources to out. */
void sy_status_frame(sy_buf *out, const sy_status_src *src, size_t n);

#endif
