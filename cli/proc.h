/* proc.h -- child processes for `switchyard demo`: start with output to a
 * log file, stop with SIGTERM (then SIGKILL after a timeout). */
#ifndef SY_CLI_PROC_H
#define SY_CLI_PROC_H

#include <sys/types.h>

/* Start argv[0] (a path) with stdout+stderr appended to log_path. -1 on error. */
pid_t proc_start(char *const argv[], const char *log_path);
/* Run to completion with stdout/stderr inherited; returns the exit status
 * (or 128+signal). */
int proc_run(char *const argv[]);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status. */
int proc_stop(pid_t pid, int timeout_ms);
/* Has it exited? (reaps it) */
int proc_exited(pid_t pid);
/* The directory holding this executable (for finding fake-provider). */
void proc_self_dir(char *out, size_t outlen);

#endif
