/* signals.c -- SIGINT and SIGTERM ask a command to stop, SIGHUP to reload
 * its pipelines (see signals.h).
 *
 * The handler only writes the flag of base/stop.h, or, on the second signal,
 * calls _exit (async-signal-safe): what to do about a stop is the loop's
 * decision, made outside the handler. */
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_stop_signal(int sig)
{
    if (sy_stop_requested) _exit(128 + sig);
    sy_stop_requested = 1;
}

static void on_reload_signal(int sig)
{
    (void)sig;
    sy_reload_requested = 1;
}

void sy_install_reload_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_reload_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

void sy_install_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
