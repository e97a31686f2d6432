/* signals.h -- how a command is asked to stop: SIGINT and SIGTERM.
 *
 * Top layer (cli/). The long-running commands (broker, scheduler, worker,
 * results --follow, demo) install these handlers before their loop; the
 * layers below only read the flag they set (base/stop.h). */
#ifndef SY_CLI_SIGNALS_H
#define SY_CLI_SIGNALS_H

#include "stop.h"

/* The first SIGINT or SIGTERM sets sy_stop_requested (the command stops
 * cleanly); a second one ends the process at once with 128 + the signal
 * (an operator who does not want to wait for the drain). SIGPIPE is
 * ignored: a closed socket or pipe is an error return, not a death. */
void sy_install_stop_signals(void);
/* SIGHUP sets sy_reload_requested (stop.h): the scheduler and the worker
 * load their pipelines again (config/cfgreload.h). */
void sy_install_reload_signal(void);

#endif
