/* fdlimit.h -- enough file descriptors for the worker, checked at start.
 *
 * A worker with --max-inflight N holds up to about N sockets to the
 * providers (more with idle connections kept for several hosts), a few per
 * Kafka broker for each of its clients, and some spares (LMDB, pipes,
 * epoll). If RLIMIT_NOFILE is lower, calls fail one by one with "Couldn't
 * connect" long after start, on jobs that have nothing wrong with them. So
 * the worker compares its estimate with the limit before it connects:
 * below it, it raises the soft limit as far as the hard limit allows, and
 * if even that is too low it refuses to start, naming the numbers. */
#ifndef SY_FDLIMIT_H
#define SY_FDLIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define SY_FD_PER_BROKER 3 /* connections to one broker, over the worker's Kafka clients */
#define SY_FD_SPARE 64     /* LMDB, pipes, the restore consumer, logs, ... */

/* Descriptors the worker may need: engine sockets (sy_engine_max_fds),
 * brokers and spares. */
long sy_fd_need(long engine_fds, int brokers);

typedef enum sy_fd_verdict {
    SY_FD_ENOUGH, /* the soft limit covers the need */
    SY_FD_RAISE,  /* raise the soft limit to *raise_to (<= hard) */
    SY_FD_REFUSE, /* even the hard limit is too low */
} sy_fd_verdict;

/* The decision (pure): limits as getrlimit gives them (RLIM_INFINITY as a
 * huge value). */
sy_fd_verdict sy_fd_decide(long need, unsigned long long soft, unsigned long long hard,
                           unsigned long long *raise_to);

/* Apply it to this process: 0 when there are enough descriptors (raising
 * the soft limit if needed, logged), -1 with the reason in err. */
int sy_fd_ensure(long need, int max_inflight, char *err, size_t errlen);

/* Brokers named in a bootstrap list "host:port,host:port" (at least 1). */
int sy_fd_count_brokers(const char *bootstrap);

#endif
