/* stop.h -- the process's stop request.
 *
 * Base layer. The flag is set only by the signal handlers the commands
 * install (cli/signals.c: the first SIGINT or SIGTERM); the loops below
 * (scheduler, worker, the long-running subcommands) read it once per turn and
 * then stop cleanly: finish or hand back what is in work, flush, commit. No
 * code below cli/ installs a handler or ends the process on a signal. */
#ifndef SY_STOP_H
#define SY_STOP_H

#include <signal.h>

extern volatile sig_atomic_t sy_stop_requested;

/* Set by SIGHUP (cli/signals.c): the scheduler and the worker load their
 * pipelines again (config/cfgreload.h) and clear it. */
extern volatile sig_atomic_t sy_reload_requested;

#endif
