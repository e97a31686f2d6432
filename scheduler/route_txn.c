/* route_txn.c -- `switchyard scheduler --transactions`: routing in Kafka
 * transactions.
 *
 * Without the option the scheduler is at-least-once: it commits a jobs-topic
 * offset after the tier message is acknowledged, so a crash in between
 * routes some jobs again, and the worker releases those copies by their
 * origin (origin.h). With it, on a real Kafka, the tier messages (and dead
 * letters) of each commit interval and the jobs-topic offsets they complete
 * commit in one transaction: consume, produce, send_offsets_to_transaction,
 * commit_transaction. A crash aborts the open transaction (the next
 * incarnation, with the same transactional.id, fences it), so workers,
 * which read tier topics read_committed (librdkafka's default), never see
 * a job routed twice.
 *
 *   producer  transactional.id "switchyard-scheduler-<group>-<host name>":
 *             stable across restarts of one scheduler, distinct between
 *             hosts; two schedulers on one host need -X transactional.id=...
 *   commit    every 100 ms, on a revoke and at shutdown: flush, send the
 *             done prefix of the offsets, commit, begin the next
 *   abort     a delivery failed with an error that may pass, or the commit
 *             failed abortably: abort, forget the offsets in work and seek
 *             the consumer back to the committed offsets, so the aborted
 *             jobs are routed again in the next transaction; 5 aborts in a
 *             row stop the process
 *   stop      a fatal error (fenced: another scheduler took the id), or a
 *             delivery refused for good by the broker (not authorised on a
 *             topic, over the topic's max.message.bytes): a transaction
 *             cannot commit past a refused message, and routing it again
 *             would be refused again, so the scheduler stops with the reason
 *             (nothing is lost: offsets move only with committed
 *             transactions). The error is returned (s->fatal), not exited
 *             on: the router stops without committing and the command
 *             exits 1. Refusals by the client itself (over
 *             message.max.bytes) happen before anything joins the
 *             transaction and are dead-lettered as without the option.
 *
 * The embedded broker accepts transactions without enforcing them (aborted
 * messages stay visible, send_offsets_to_transaction commits no offsets, so
 * a restarted scheduler routes the jobs topic from its start again and the
 * worker releases the copies by origin): there the mode only shows that it
 * runs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "route_txn.h"
#include "util.h"

#define TXN_TIMEOUT_MS 30000
#define MAX_ABORTS_IN_ROW 5

struct sched_txn {
    char id[512];
    bool failed;         /* a delivery failed: the open transaction must abort */
    int aborts_in_row;
    uint64_t committed, aborted;
};

/* A fatal error: log it, note it, return -1. */
static int stop(scheduler *s, rd_kafka_error_t *e, const char *what)
{
    sy_error("transactions: %s failed%s: %s; stopping (offsets move only with committed "
             "transactions: a restart routes what is left)", what,
             rd_kafka_error_is_fatal(e) ? " fatally (fenced: another scheduler took this "
                                          "transactional.id?)" : "",
             rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    s->fatal = true;
    return -1;
}

rd_kafka_t *sched_txn_producer(scheduler *s,
                               void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                               char *err, size_t errlen)
{
    char host[256] = "host", idprop[600];
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "host");
    snprintf(idprop, sizeof idprop, "transactional.id=switchyard-scheduler-%s-%s", s->group, host);
    sched_txn *t = sy_xcalloc(1, sizeof *t);
    rd_kafka_t *rk = sy_kafka_txn_producer(s->kafka, idprop, dr_cb, s, t->id, sizeof t->id, err,
                                           errlen);
    if (!rk) {
        free(t);
        return NULL;
    }
    s->txn = t;
    sy_info("transactions on: transactional.id %s", t->id);
    return rk;
}

void sched_txn_on_failure(scheduler *s, const rd_kafka_message_t *m)
{
    if (!sy_kafka_err_retriable(m->err)) {
        sy_error("transactions: %s refused a message for good (%s); stopping: a transaction "
                 "cannot commit past it and routing it again would be refused again (fix the "
                 "topic's permissions or limits, or run without --transactions)",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        s->fatal = true;
        return;
    }
    sy_warn("transactions: delivery to %s failed (%s); the transaction will be aborted and its "
            "jobs routed again", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    s->txn->failed = true;
}

static int begin(scheduler *s)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->producer);
    return e ? stop(s, e, "begin_transaction") : 0;
}

/* After an abort: forget the offsets in work and read again from the
 * committed ones. */
static int rewind_consumer(scheduler *s)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(s->consumer, &a) != 0 || !a) return 0;
    if (a->cnt == 0) { /* no partition to read again (seeking none is an error) */
        rd_kafka_topic_partition_list_destroy(a);
        return 0;
    }
    for (int i = 0; i < a->cnt; i++) sy_offsets_revoke(s->offsets, a->elems[i].topic, a->elems[i].partition);
    rd_kafka_resp_err_t ce = rd_kafka_committed(s->consumer, a, TXN_TIMEOUT_MS);
    for (int i = 0; i < a->cnt; i++)
        if (ce || a->elems[i].offset < 0) a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(s->consumer, a, TXN_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(a);
    return e ? stop(s, e, "seek after an abort") : 0;
}

static int abort_and_rewind(scheduler *s, rd_kafka_error_t *why)
{
    sched_txn *t = s->txn;
    sy_warn("transactions: %s; aborting, the jobs of this transaction are routed again",
            rd_kafka_error_string(why));
    if (++t->aborts_in_row > MAX_ABORTS_IN_ROW) return stop(s, why, "the transaction, again,");
    rd_kafka_error_destroy(why);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(s->producer, TXN_TIMEOUT_MS);
    if (e) return stop(s, e, "abort_transaction");
    t->aborted++;
    t->failed = false;
    sy_offsets_untake(s->offsets);
    if (rewind_consumer(s) != 0) return -1;
    return begin(s);
}

int sched_txn_commit(scheduler *s)
{
    sched_txn *t = s->txn;
    if (s->fatal) return -1;
    rd_kafka_flush(s->producer, TXN_TIMEOUT_MS); /* acknowledged: their offsets join */
    if (s->fatal) return -1; /* a delivery was refused for good meanwhile */
    rd_kafka_topic_partition_list_t *l = sy_offsets_take(s->offsets);
    if (!l && !t->failed) return 0; /* nothing done since the last commit */
    rd_kafka_error_t *e = NULL;
    if (t->failed) e = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "a delivery failed");
    if (!e) {
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(s->consumer);
        e = rd_kafka_send_offsets_to_transaction(s->producer, l, gm, TXN_TIMEOUT_MS);
        rd_kafka_consumer_group_metadata_destroy(gm);
    }
    if (!e) e = rd_kafka_commit_transaction(s->producer, TXN_TIMEOUT_MS);
    if (l) rd_kafka_topic_partition_list_destroy(l);
    if (e && rd_kafka_error_is_fatal(e)) return stop(s, e, "commit");
    if (e) return abort_and_rewind(s, e);
    t->committed++;
    t->aborts_in_row = 0;
    return begin(s);
}

void sched_txn_free(scheduler *s)
{
    if (!s->txn) return;
    sy_info("transactions: %" PRIu64 " committed, %" PRIu64 " aborted (transactional.id %s)",
            s->txn->committed, s->txn->aborted, s->txn->id);
    free(s->txn);
    s->txn = NULL;
}
