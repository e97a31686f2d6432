/* txn.c -- opt-in Kafka transactions (`switchyard worker --transactions`).
 *
 * Exactly-once results do not need this option: they rest on the worker's
 * LMDB store, on any broker (docs/durability.md), and still do with it.
 * What the option adds, on a real Kafka, is one transaction per commit interval
 * around the results and dead letters produced in it and the input offsets
 * they complete: read_committed consumers of the output topics never see a
 * result of an aborted attempt, and offsets move with their results.
 *
 *   start     the result producer gets transactional.id
 *             "switchyard-<group>-<worker id>"; the worker id is made once
 *             and kept in <state-dir>/worker-id, so a restarted worker keeps
 *             its id and fences its previous incarnation (whose open
 *             transaction the broker then aborts). init_transactions runs
 *             before recovery reads the output topics. A transaction is
 *             always open (begin_transaction is local until a produce).
 *   delivery  an acknowledged result or dead letter is kept (a copy, in
 *             case of an abort); once all of a run's messages are
 *             acknowledged its input offset counts as done, as without
 *             transactions, and the run is held here (run.c decides: the
 *             TXN_ACKED event, lifecycle.h)
 *   commit    where offsets are committed otherwise (every 100 ms, on a
 *             revoke, at shutdown): the contiguous done prefix goes to
 *             send_offsets_to_transaction with the consumer's group
 *             metadata, then commit_transaction. Only then are the runs'
 *             results noted PUBLISHED (until then they are PUBLISHING, which
 *             recovery and the changelog restore already handle): the held
 *             runs go back to run.c (TXN_COMMITTED)
 *   abort     on an abortable error: abort, then produce every kept message
 *             again, first thing in the next transaction (before its offsets
 *             are sent), so no committed offset is ahead of its result; their
 *             runs go back to run.c (TXN_ABORTED)
 *   fatal     fenced by a newer producer with this id, or another fatal
 *             error: returned (SY_TXN_FATAL); the worker stops with it and
 *             the command exits 1. The store holds every result; a restart
 *             publishes what is left.
 *
 * The changelog stays outside the transaction, on a producer of its own
 * (w->changelog_producer): its PUBLISHING record must be acknowledged and
 * readable before the result goes out, and the restore of a partition reads
 * it to its end: records in a dead worker's open transaction would hide from
 * that read until the transaction timed out. A PUBLISHING record of an
 * aborted attempt is harmless: the next owner looks for the result on the
 * output topic and, not finding it, publishes it from the store.
 *
 * The embedded broker accepts transactions without enforcing them (aborted
 * results stay visible; send_offsets_to_transaction commits no offsets, so
 * a restarted worker reads its partitions from the start and the store
 * skips what was finished): there the mode only shows that it runs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "txn.h"
#include "util.h"

#define TXN_TIMEOUT_MS 30000

typedef struct kept { /* a message of the open transaction */
    char *topic;
    int32_t partition;
    char *key; /* key then value, one allocation */
    size_t keylen, len;
    rd_kafka_headers_t *hdrs;
    void *r; /* its run */
} kept;

typedef struct ptrs { /* a growing array of opaques */
    void **v;
    size_t n, cap;
} ptrs;

struct sy_txn {
    char id[512];
    kept *msgs;
    size_t n, cap;
    ptrs held;    /* runs whose messages are all acknowledged */
    ptrs out;     /* what the last txn_commit handed back */
    bool failed;  /* a delivery failed: this transaction must abort */
    uint64_t committed, aborted;
};

/* The worker's id: made once, kept in the state directory. */
static int worker_id(const char *dir, char *out, size_t outlen)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/worker-id", dir);
    if (sy_read_first_line(path, out, outlen) == 0) return 0;
    uint64_t seed[2] = {(uint64_t)sy_now_ms(), (uint64_t)sy_mono_us() ^ (uint64_t)getpid()};
    snprintf(out, outlen, "%016" PRIx64, sy_hash64(seed, sizeof seed));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int bad = fprintf(f, "%s\n", out) < 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    return bad || rename(tmp, path) != 0 ? -1 : 0;
}

static void push(ptrs *p, void *v)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = sy_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = v;
}

rd_kafka_t *txn_producer(worker *w, const sy_kafka_opts *kafka, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                         char *err, size_t errlen)
{
    char wid[64];
    if (worker_id(w->opt.state_dir, wid, sizeof wid) != 0) {
        snprintf(err, errlen, "cannot keep the worker id in %s/worker-id: %s", w->opt.state_dir,
                 strerror(errno));
        return NULL;
    }
    char idprop[600];
    snprintf(idprop, sizeof idprop, "transactional.id=switchyard-%s-%s", w->opt.group, wid);
    sy_txn *t = sy_xcalloc(1, sizeof *t);
    rd_kafka_t *rk = sy_kafka_txn_producer(kafka, idprop, dr_cb, w, t->id,
                                           sizeof t->id, err, errlen);
    if (!rk) {
        free(t);
        return NULL;
    }
    w->txn = t;
    sy_info("transactions on: transactional.id %s", t->id);
    return rk;
}

static void keep(sy_txn *t, const rd_kafka_message_t *m)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->msgs = sy_xrealloc(t->msgs, t->cap * sizeof *t->msgs);
    }
    kept *k = &t->msgs[t->n++];
    k->topic = sy_xstrdup(rd_kafka_topic_name(m->rkt));
    k->partition = m->partition;
    k->keylen = m->key_len;
    k->len = m->len;
    k->key = sy_kafka_copy_key_value(m);
    rd_kafka_headers_t *h = NULL;
    k->hdrs = rd_kafka_message_headers(m, &h) == 0 ? rd_kafka_headers_copy(h) : NULL;
    k->r = m->_private;
}

static void free_kept(kept *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].topic);
        free(msgs[i].key);
        if (msgs[i].hdrs) rd_kafka_headers_destroy(msgs[i].hdrs);
    }
    free(msgs);
}

void txn_keep(sy_txn *t, const rd_kafka_message_t *m)
{
    keep(t, m);
    if (m->err) {
        sy_warn("transactions: delivery to %s failed (%s); the transaction will be aborted "
                "and its messages produced again", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
        t->failed = true;
    }
}

void txn_hold(sy_txn *t, void *run)
{
    push(&t->held, run);
}

/* A failed transactional call: *e says what, and whether it is fatal. */
static sy_txn_outcome failed(rd_kafka_error_t *err, const char *what, sy_werr *e)
{
    e->kind = SY_WERR_FATAL;
        e->exit_code = 1;
    snprintf(e->msg, sizeof e->msg, "transactions: %s failed%s: %s", what,
             rd_kafka_error_is_fatal(err) ? " fatally (fenced: another producer took this "
                                            "transactional.id?)" : "",
             rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
    return SY_TXN_FATAL;
}

/* The done prefix of the input offsets joins the transaction. */
static rd_kafka_error_t *send_offsets(worker *w, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(w->consumer);
    rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(w->producer, l, gm, TXN_TIMEOUT_MS);
    rd_kafka_consumer_group_metadata_destroy(gm);
    return e;
}

static rd_kafka_error_t *commit(worker *w)
{
    rd_kafka_error_t *e = rd_kafka_commit_transaction(w->producer, TXN_TIMEOUT_MS);
    for (int i = 0; e && rd_kafka_error_is_retriable(e) && i < 3; i++) {
        sy_warn("transactions: commit: %s; trying again", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        e = rd_kafka_commit_transaction(w->producer, TXN_TIMEOUT_MS);
    }
    return e;
}

/* Every kept message again, in the transaction just begun; their runs
 * (one per message) in t->out. */
static int produce_again(worker *w, sy_werr *e)
{
    sy_txn *t = w->txn;
    kept *msgs = t->msgs;
    size_t n = t->n;
    t->msgs = NULL;
    t->n = t->cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        kept *k = &msgs[i];
        push(&t->out, k->r);
        rd_kafka_headers_t *h = k->hdrs;
        k->hdrs = NULL; /* sy_kafka_produce_to owns them now */
        if (!rc && sy_kafka_produce_to(w->producer, k->topic, k->partition, k->key, k->keylen,
                                       k->key + k->keylen, k->len, h, k->r) != 0) {
            e->kind = SY_WERR_FATAL;
        e->exit_code = 1;
            snprintf(e->msg, sizeof e->msg, "transactions: cannot produce again after an abort");
            rc = -1;
        } else if (rc && h) {
            rd_kafka_headers_destroy(h);
        }
    }
    free_kept(msgs, n);
    return rc;
}

static sy_txn_outcome abort_and_redo(worker *w, rd_kafka_error_t *why, sy_werr *e)
{
    sy_txn *t = w->txn;
    sy_warn("transactions: %s; aborting", rd_kafka_error_string(why));
    rd_kafka_error_destroy(why);
    rd_kafka_error_t *err = rd_kafka_abort_transaction(w->producer, TXN_TIMEOUT_MS);
    if (err) return failed(err, "abort_transaction", e);
    rd_kafka_flush(w->producer, TXN_TIMEOUT_MS); /* reports of purged messages: kept too */
    t->aborted++;
    t->failed = false;
    t->held.n = 0; /* every held run has kept messages: produced again below */
    sy_offsets_untake(w->offsets);
    if ((err = rd_kafka_begin_transaction(w->producer))) return failed(err, "begin_transaction", e);
    sy_warn("transactions: producing %zu message(s) of the aborted transaction again", t->n);
    return produce_again(w, e) ? SY_TXN_FATAL : SY_TXN_ABORTED;
}

sy_txn_outcome txn_commit(worker *w, void ***runs, size_t *n, sy_werr *e)
{
    sy_txn *t = w->txn;
    t->out.n = 0;
    *runs = NULL;
    *n = 0;
    rd_kafka_flush(w->producer, TXN_TIMEOUT_MS); /* acknowledged: their offsets join */
    rd_kafka_topic_partition_list_t *l = sy_offsets_take(w->offsets);
    if (!l && t->n == 0 && !t->failed) return SY_TXN_IDLE; /* nothing to commit */
    rd_kafka_error_t *err = NULL;
    if (t->failed) err = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "a delivery failed");
    if (!err && l) err = send_offsets(w, l);
    if (!err) err = commit(w);
    if (l) rd_kafka_topic_partition_list_destroy(l);
    sy_txn_outcome o;
    if (err && rd_kafka_error_is_fatal(err)) o = failed(err, "commit", e);
    else if (err) o = abort_and_redo(w, err, e);
    else if ((err = rd_kafka_begin_transaction(w->producer))) o = failed(err, "begin_transaction", e);
    else {
        sy_debug("transactions: committed %zu message(s)", t->n);
        free_kept(t->msgs, t->n);
        t->msgs = NULL;
        t->n = t->cap = 0;
        ptrs held = t->held; /* handed back; the emptied out array collects the next holds */
        t->held = t->out;
        t->held.n = 0;
        t->out = held;
        t->committed++;
        o = SY_TXN_COMMITTED;
    }
    *runs = t->out.v;
    *n = t->out.n;
    return o;
}

void txn_report(const worker *w)
{
    if (!w->txn) return;
    sy_info("transactions: %" PRIu64 " committed, %" PRIu64 " aborted (transactional.id %s)",
            w->txn->committed, w->txn->aborted, w->txn->id);
}

void txn_free(worker *w)
{
    if (!w->txn) return;
    free_kept(w->txn->msgs, w->txn->n);
    free(w->txn->held.v);
    free(w->txn->out.v);
    free(w->txn);
    w->txn = NULL;
}
