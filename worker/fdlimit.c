/* fdlimit.c -- see fdlimit.h. Runs once at worker start, before Kafka and
 * the HTTP engine open anything. */
#include "fdlimit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

long sy_fd_need(long engine_fds, int brokers)
{
    return engine_fds + (long)(brokers > 0 ? brokers : 1) * SY_FD_PER_BROKER + SY_FD_SPARE;
}

sy_fd_verdict sy_fd_decide(long need, unsigned long long soft, unsigned long long hard,
                           unsigned long long *raise_to)
{
    unsigned long long n = need > 0 ? (unsigned long long)need : 0;
    if (soft >= n) return SY_FD_ENOUGH;
    if (hard < n) return SY_FD_REFUSE;
    *raise_to = n; /* just what is needed: the rest stays for whoever raises later */
    return SY_FD_RAISE;
}

int sy_fd_count_brokers(const char *bootstrap)
{
    int n = 1;
    for (const char *p = bootstrap; p && *p; p++) n += *p == ',';
    return n;
}

int sy_fd_ensure(long need, int max_inflight, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0; /* cannot tell: carry on */
    unsigned long long soft = rl.rlim_cur, hard = rl.rlim_max, to = 0;
    switch (sy_fd_decide(need, soft, hard, &to)) {
    case SY_FD_ENOUGH:
        return 0;
    case SY_FD_RAISE:
        rl.rlim_cur = (rlim_t)to;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            sy_info("raised the open-files limit from %llu to %llu (--max-inflight %d needs ~%ld)",
                    soft, to, max_inflight, need);
            return 0;
        }
        snprintf(err, errlen, "cannot raise the open-files limit from %llu to %llu: %s", soft, to,
                 strerror(errno));
        return -1;
    case SY_FD_REFUSE:
        break;
    }
    snprintf(err, errlen,
             "--max-inflight %d needs about %ld open files (HTTP connections, Kafka, spares) "
             "but the limit is %llu (hard %llu): raise it (ulimit -n %ld, or LimitNOFILE= / "
             "--ulimit nofile=) or lower --max-inflight",
             max_inflight, need, soft, hard, need);
    return -1;
}
