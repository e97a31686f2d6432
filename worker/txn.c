/* txn.c -- opt-in Kafka transactions (`switchyard worker --transactions`).
 *
 * Without this option, exactly-once results rest on the worker's LMDB store
 * alone (store.h, publish.c, recover.c, changelog.c): a result is produced
 * after its PUBLISHING record is durable, an input offset is committed after
 * the acknowledgement of its result is noted. That holds on any broker, the
 * embedded one included, and it still holds with this option. What the
 * option adds, on a real Kafka, is one transaction per commit interval
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
 *             case of an abort) and its run waits here; once all of a run's
 *             messages are acknowledged its input offset counts as done, as
 *             without transactions
 *   commit    where offsets are committed otherwise (every 100 ms, on a
 *             revoke, at shutdown): the contiguous done prefix goes to
 *             send_offsets_to_transaction with the consumer's group
 *             metadata, then commit_transaction. Only then are the runs'
 *             results noted PUBLISHED (until then they are PUBLISHING, which
 *             recovery and the changelog restore already handle)
 *   abort     on an abortable error: abort, then produce every kept message
 *             again, first thing in the next transaction (before its offsets
 *             are sent), so no committed offset is ahead of its result
 *   fatal     fenced by a newer producer with this id, or another fatal
 *             error: log it and exit 1. The store holds every result; a
 *             restart publishes what is left.
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
    sy_run *r;
} kept;

struct sy_txn {
    char id[512];
    kept *msgs;
    size_t n, cap;
    sy_run *held; /* runs whose messages are all acknowledged */
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

rd_kafka_t *txn_producer(worker *w, char *err, size_t errlen)
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
    rd_kafka_t *rk = sy_kafka_txn_producer(&w->kafka, idprop, publish_on_delivery, w, t->id,
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

/* Keep an acknowledged (or failed) message of the open transaction and
 * note what it means for its run; false while the run has more to come. */
static bool kept_delivery(sy_txn *t, const rd_kafka_message_t *m, sy_run *r)
{
    keep(t, m);
    if (m->err) {
        sy_warn("transactions: delivery to %s failed (%s); the transaction will be aborted "
                "and its messages produced again", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
        t->failed = true;
    }
    if (!r) return false;
    if (m->err) r->txn_failed = true;
    else if (publish_is_result(r, m)) {
        r->txn_has_out = true;
        r->txn_out_partition = m->partition;
        r->txn_out_offset = m->offset;
    }
    return --r->pending_deliveries == 0;
}

void txn_on_delivery(worker *w, const rd_kafka_message_t *m)
{
    sy_txn *t = w->txn;
    sy_run *r = m->_private;
    if (m->err && !sy_kafka_err_retriable(m->err)) {
        /* aborting and producing it again would fail again: its substitute
         * (a truncated dead letter, or a dead letter saying why the result
         * could not go out) goes in its place, and it is not kept */
        if (publish_substitute(w, r, w->producer, m) || !r || --r->pending_deliveries > 0) return;
    } else if (!kept_delivery(t, m, r)) {
        return;
    }
    if (!r->txn_failed) sy_offsets_done(w->offsets, r->off);
    r->next_held = t->held;
    t->held = r;
}

static _Noreturn void stop(rd_kafka_error_t *e, const char *what)
{
    sy_error("transactions: %s failed%s: %s; stopping (the store keeps every result: a "
             "restart publishes what is left)", what,
             rd_kafka_error_is_fatal(e) ? " fatally (fenced: another producer took this "
                                          "transactional.id?)" : "",
             rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    exit(1);
}

static void begin(worker *w)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(w->producer);
    if (e) stop(e, "begin_transaction");
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

/* Every kept message again, in the transaction just begun. */
static void produce_again(worker *w)
{
    sy_txn *t = w->txn;
    kept *msgs = t->msgs;
    size_t n = t->n;
    t->msgs = NULL;
    t->n = t->cap = 0;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].r) msgs[i].r->txn_failed = msgs[i].r->txn_has_out = false;
    for (size_t i = 0; i < n; i++) {
        kept *k = &msgs[i];
        if (k->r) k->r->pending_deliveries++;
        rd_kafka_headers_t *h = k->hdrs;
        k->hdrs = NULL; /* sy_kafka_produce_to owns them now */
        if (sy_kafka_produce_to(w->producer, k->topic, k->partition, k->key, k->keylen,
                                k->key + k->keylen, k->len, h, k->r) != 0) {
            sy_error("transactions: cannot produce again after an abort; stopping (the store "
                     "keeps every result: a restart publishes them)");
            exit(1);
        }
    }
    free_kept(msgs, n);
}

static void abort_and_redo(worker *w, rd_kafka_error_t *why)
{
    sy_txn *t = w->txn;
    sy_warn("transactions: %s; aborting", rd_kafka_error_string(why));
    rd_kafka_error_destroy(why);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(w->producer, TXN_TIMEOUT_MS);
    if (e) stop(e, "abort_transaction");
    rd_kafka_flush(w->producer, TXN_TIMEOUT_MS); /* reports of purged messages: kept too */
    t->aborted++;
    t->failed = false;
    t->held = NULL; /* every held run has kept messages: produced again below */
    sy_offsets_untake(w->offsets);
    begin(w);
    sy_warn("transactions: producing %zu message(s) of the aborted transaction again", t->n);
    produce_again(w);
}

static void finish_committed(worker *w)
{
    sy_txn *t = w->txn;
    sy_debug("transactions: committed %zu message(s)", t->n);
    free_kept(t->msgs, t->n);
    t->msgs = NULL;
    t->n = t->cap = 0;
    sy_run *r = t->held;
    t->held = NULL;
    while (r) {
        sy_run *next = r->next_held;
        publish_committed(r);
        r = next;
    }
    t->committed++;
}

void txn_commit(worker *w)
{
    sy_txn *t = w->txn;
    rd_kafka_flush(w->producer, TXN_TIMEOUT_MS); /* acknowledged: their offsets join */
    rd_kafka_topic_partition_list_t *l = sy_offsets_take(w->offsets);
    if (!l && t->n == 0 && !t->failed) return; /* nothing to commit */
    rd_kafka_error_t *e = NULL;
    if (t->failed) e = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "a delivery failed");
    if (!e && l) e = send_offsets(w, l);
    if (!e) e = commit(w);
    if (l) rd_kafka_topic_partition_list_destroy(l);
    if (e && rd_kafka_error_is_fatal(e)) stop(e, "commit");
    if (e) {
        abort_and_redo(w, e);
        return;
    }
    begin(w);
    finish_committed(w);
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
    free(w->txn);
    w->txn = NULL;
}
