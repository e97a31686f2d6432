/* state.c -- `switchyard state`: look into a worker's LMDB store.
 *
 * For operators after an incident (and for the tests): how many keys the
 * store holds, and which jobs were left unfinished: IN_FLIGHT (a call may
 * have been in flight when the worker stopped: the only calls that can be
 * paid twice) and PUBLISHING (the result was known; it is published from
 * the store, never by a second call). Read-only use of the environment;
 * run it while the worker is stopped or running (LMDB readers do not block
 * the writer). Text from the store is escaped before it is printed. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"
#include "../worker/store.h"

static const char usage[] =
    "Usage: switchyard state --state-dir DIR [--unfinished]\n"
    "Print how many idempotency keys a worker's store holds and how many jobs it left\n"
    "unfinished; with --unfinished, one line per unfinished job:\n"
    "  <state> <key> attempts=<n> model=<alias> source=<topic>/<partition>/<offset> task=<task>\n";

typedef struct tally {
    bool list;
    size_t in_flight, publishing;
} tally;

static void each(void *ctx, const char *key, const sy_job_record *rec)
{
    tally *t = ctx;
    if (rec->state == SY_STATE_IN_FLIGHT) t->in_flight++;
    else t->publishing++;
    size_t task_len;
    const char *idem = sy_store_key_split(key, &task_len);
    if (!t->list) return;
    /* keys, topics and models come from Kafka records (the changelog
     * included): escaped before they reach a terminal */
    char k[1024], task[1024], model[512], topic[1024];
    sy_escape_ctl(k, sizeof k, idem, strlen(idem));
    sy_escape_ctl(task, sizeof task, key, task_len);
    const char *m = rec->model && *rec->model ? rec->model : "-";
    sy_escape_ctl(model, sizeof model, m, strlen(m));
    sy_escape_ctl(topic, sizeof topic, rec->src_topic, strlen(rec->src_topic));
    printf("%s %s attempts=%u model=%s source=%s/%d/%" PRId64 " task=%s\n", sy_job_state_name(rec->state),
           k, rec->attempts, model, topic, (int)rec->src_partition, rec->src_offset, task);
}

int cmd_state(int argc, char **argv)
{
    const char *dir = NULL;
    tally t = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--unfinished")) t.list = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "switchyard state: unknown argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "switchyard state: --state-dir is required\n%s", usage);
        return 2;
    }
    char err[512];
    sy_store *s = sy_store_open(dir, 4096, err, sizeof err);
    if (!s) {
        fprintf(stderr, "switchyard state: %s\n", err);
        return 1;
    }
    sy_store_each_unfinished(s, each, &t);
    fprintf(t.list ? stderr : stdout, "%zu key(s); unfinished: %zu in flight, %zu publishing\n",
            sy_store_count(s), t.in_flight, t.publishing);
    sy_store_close(s);
    return 0;
}
