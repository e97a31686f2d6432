/* store.c -- see store.h.
 *
 * Three LMDB databases in one environment:
 *   jobs        idempotency key -> PUBLISHED record (fixed header, then src
 *               topic, model, out topic and result bytes)
 *   pending     sequence number -> key and record, for records IN_FLIGHT or
 *               PUBLISHING; start-up reads only these, however many keys
 *               are kept
 *   outputs     "topic/partition" -> highest acknowledged offset noted
 *   batches     a batch tier's batch key -> its record (batchrec.h), while
 *               the batch may still answer
 * One write transaction is kept open while changes are staged; commit
 * makes them durable with a single fsync (LMDB's default durability).
 * A write LMDB refuses fails the store (fail_store): commits return -1 and
 * the worker stops with a fatal error it returns; nothing here exits.
 *
 * Why two places for a record: what a commit costs is the pages it dirties
 * (each written out and synced), and keys are random. Written by key, a
 * job's three states would dirty three random pages of a large tree in
 * three commits. Unfinished records instead take a sequence number when
 * their job starts, so the jobs started together share a few pages at the
 * end of a small tree, and are updated and removed there together; the
 * record reaches the keyed tree once, as PUBLISHED. A key's newest record
 * is its pending one if it has one (the map `seq_of`, rebuilt from
 * `pending` at open), else its record in jobs. */
#include "store.h"
#include "keymap.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sy_store {
    MDB_env *env;
    MDB_dbi jobs, pending, outputs, batches;
    MDB_txn *txn;      /* open write transaction, or NULL */
    MDB_txn *rtxn;     /* reusable read transaction (reset when idle) */
    int failed;        /* a write failed (LMDB's code): see fail_store */
    sy_buf enc;        /* record encoding scratch */
    sy_buf pend;       /* pending value scratch */
    sy_buf purge_from; /* where the incremental purge resumes */
    sy_keymap noted;   /* "topic/partition" -> noted_out *: outputs, as stored or to be */
    sy_buf dirty_outputs; /* keys of those noted since the last commit (NUL-separated) */
    sy_keymap seq_of;  /* key -> uint64_t *: its record's place in pending */
    uint64_t next_seq;
    sy_buf journal;    /* the open transaction's writes, to apply again (stage) */
    size_t max_record; /* largest record value kept: an eighth of the map asked for */
    uint64_t commits;  /* transactions committed (sy_store_commits) */
};

typedef struct rec_head {
    uint8_t version, state, ok, flags; /* flags: REC_NO_CALL_OUT (0 in older records) */
    uint16_t src_topic_len, model_len, out_topic_len;
    uint32_t attempts, result_len;
    int32_t src_partition, out_partition;
    int64_t src_offset, updated_ms, expires_ms, out_offset;
} rec_head;
#define REC_NO_CALL_OUT 1

#define MAX_TASK_IN_KEY 200 /* a longer task name is cut and its hash appended */

static MDB_val val_of(const void *p, size_t n)
{
    return (MDB_val){.mv_size = n, .mv_data = (void *)p};
}

static MDB_val key_of(const char *key)
{
    return val_of(key, strlen(key));
}

static int fail(const char *what, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    return -1;
}

/* ---- pending records: sequence number -> key length, key, record ---- */

_Static_assert(sizeof(void *) >= sizeof(uint64_t), "sequence numbers are kept in map values");

static MDB_val seq_key(uint64_t seq, unsigned char b[8])
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(seq >> (56 - 8 * i)); /* big-endian: sorts */
    return val_of(b, 8);
}

static uint64_t seq_of_key(MDB_val k)
{
    uint64_t seq = 0;
    for (size_t i = 0; i < 8 && i < k.mv_size; i++) seq = seq << 8 | ((unsigned char *)k.mv_data)[i];
    return seq;
}

/* A pending value's key and record bytes, or -1 when malformed. */
static int pending_parts(MDB_val v, MDB_val *key, MDB_val *rec)
{
    uint16_t klen;
    if (v.mv_size < sizeof klen) return -1;
    memcpy(&klen, v.mv_data, sizeof klen);
    if (v.mv_size < sizeof klen + klen) return -1;
    *key = val_of((char *)v.mv_data + sizeof klen, klen);
    *rec = val_of((char *)v.mv_data + sizeof klen + klen, v.mv_size - sizeof klen - klen);
    return 0;
}

/* A pending value: key length, key, record bytes (in s->pend). */
static MDB_val pending_value(sy_store *s, MDB_val key, const sy_buf *rec)
{
    uint16_t klen = (uint16_t)key.mv_size;
    sy_buf_reset(&s->pend);
    sy_buf_append(&s->pend, &klen, sizeof klen);
    sy_buf_append(&s->pend, key.mv_data, klen);
    sy_buf_append(&s->pend, rec->data, rec->len);
    return val_of(s->pend.data, s->pend.len);
}

/* Rebuild the map of pending keys; the next sequence number follows the last. */
static int load_pending(sy_store *s)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc || (rc = mdb_cursor_open(txn, s->pending, &c))) {
        if (!rc) mdb_txn_abort(txn);
        return rc;
    }
    s->next_seq = 1;
    sy_buf key;
    sy_buf_init(&key);
    MDB_val k, v, kpart, rec;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t seq = seq_of_key(k);
        s->next_seq = seq + 1;
        if (pending_parts(v, &kpart, &rec)) continue;
        sy_buf_reset(&key);
        sy_buf_append(&key, kpart.mv_data, kpart.mv_size);
        sy_keymap_put(&s->seq_of, sy_buf_cstr(&key), (void *)(uintptr_t)seq);
    }
    sy_buf_free(&key);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int open_dbs(sy_store *s, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return fail("begin", rc, err, errlen);
    if ((rc = mdb_dbi_open(txn, "jobs", MDB_CREATE, &s->jobs)) ||
        (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &s->pending)) ||
        (rc = mdb_dbi_open(txn, "outputs", MDB_CREATE, &s->outputs)) ||
        (rc = mdb_dbi_open(txn, "batches", MDB_CREATE, &s->batches))) {
        mdb_txn_abort(txn);
        return fail("open databases", rc, err, errlen);
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail("commit", rc, err, errlen) : 0;
}

/* A write that failed (not a full map: that one grows) fails the store:
 * the turn's staged writes are gone, so nothing more is staged and the
 * next commit returns -1; the worker stops (a fatal error, returned) before
 * anything that depended on them goes out. The store is the record of
 * truth: the worker never runs on without it. */
static void fail_store(sy_store *s, const char *what, int rc)
{
    if (s->failed) return;
    sy_error("store: %s: %s", what, mdb_strerror(rc));
    s->failed = rc;
    if (s->txn) mdb_txn_abort(s->txn);
    s->txn = NULL;
}

static MDB_txn *write_txn(sy_store *s)
{
    if (!s->txn && !s->failed) {
        int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
        if (rc) {
            s->txn = NULL;
            fail_store(s, "cannot begin a write transaction", rc);
        }
    }
    return s->txn;
}

/* ---- staged writes ----
 *
 * LMDB ends a write transaction that runs out of map (MDB_MAP_FULL, in a
 * put or in the commit): it can only be aborted, losing the turn's other
 * staged writes. So each write is also noted in a journal, cleared at each
 * commit; on a full map the map is grown (doubled) and the journal applied
 * to a new transaction, and the write (or the commit) done again. Growing
 * the map only delays the end when a single record could fill it: records
 * over max_record are refused (sy_store_put returns -1) before any write,
 * and the job ends with an error instead. */

enum { OP_PUT = 1, OP_DEL = 2 };
enum { DB_JOBS, DB_PENDING, DB_OUTPUTS, DB_BATCHES };

typedef struct op_head {
    uint8_t op, db;
    uint32_t klen, vlen;
} op_head;

static MDB_dbi dbi_of(const sy_store *s, int db)
{
    return db == DB_JOBS ? s->jobs : db == DB_PENDING ? s->pending : db == DB_BATCHES ? s->batches : s->outputs;
}

static int apply_op(sy_store *s, MDB_txn *txn, int op, int db, MDB_val *k, MDB_val *v)
{
    int rc = op == OP_PUT ? mdb_put(txn, dbi_of(s, db), k, v, 0) : mdb_del(txn, dbi_of(s, db), k, NULL);
    return op == OP_DEL && rc == MDB_NOTFOUND ? 0 : rc;
}

/* A new write transaction holding the journal's writes again. */
static int replay(sy_store *s)
{
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
    for (size_t at = 0; !rc && at < s->journal.len;) {
        op_head h;
        memcpy(&h, s->journal.data + at, sizeof h);
        at += sizeof h;
        MDB_val k = val_of(s->journal.data + at, h.klen), v = val_of(s->journal.data + at + h.klen, h.vlen);
        at += (size_t)h.klen + h.vlen;
        rc = apply_op(s, s->txn, h.op, h.db, &k, &v);
    }
    if (rc && s->txn) mdb_txn_abort(s->txn);
    if (rc) s->txn = NULL;
    return rc;
}

static int grow(sy_store *s, const char *why)
{
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    size_t to = info.me_mapsize * 2;
    int rc = mdb_env_set_mapsize(s->env, to);
    if (rc) sy_error("store: cannot grow the map to %zu KB: %s", to >> 10, mdb_strerror(rc));
    else sy_warn("store: the map %s; grown to %zu KB", why, to >> 10);
    return rc;
}

/* Grow the map ahead when what is written reaches three quarters of it,
 * so that a full map (and its replay) stays rare. */
static void keep_headroom(sy_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st)) return;
    if ((size_t)(info.me_last_pgno + 1) * st.ms_psize > info.me_mapsize / 4 * 3) grow(s, "is three quarters full");
}

/* After a full map ended the transaction (already aborted or failed):
 * grow the map and stage the journal again. */
static int recover_full_map(sy_store *s)
{
    s->txn = NULL;
    int rc = grow(s, "was full");
    return rc ? rc : replay(s);
}

/* Stage one write (v NULL for a delete). */
static void stage(sy_store *s, int op, int db, MDB_val *k, MDB_val *v)
{
    MDB_val none = {0};
    if (!v) v = &none;
    if (!write_txn(s)) return; /* failed: nothing more is staged */
    int rc = apply_op(s, s->txn, op, db, k, v);
    for (int tries = 0; rc == MDB_MAP_FULL && tries < 16; tries++) {
        mdb_txn_abort(s->txn);
        if (!(rc = recover_full_map(s))) rc = apply_op(s, s->txn, op, db, k, v);
    }
    if (rc) {
        fail_store(s, "write failed", rc);
        return;
    }
    op_head h = {.op = (uint8_t)op, .db = (uint8_t)db, .klen = (uint32_t)k->mv_size, .vlen = (uint32_t)v->mv_size};
    sy_buf_append(&s->journal, &h, sizeof h);
    sy_buf_append(&s->journal, k->mv_data, k->mv_size);
    if (v->mv_size) sy_buf_append(&s->journal, v->mv_data, v->mv_size);
}

sy_store *sy_store_open(const char *dir, size_t map_mb, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    sy_store *s = sy_xcalloc(1, sizeof *s);
    int rc = mdb_env_create(&s->env);
    if (!rc) rc = mdb_env_set_maxdbs(s->env, 4);
    if (!rc) rc = mdb_env_set_mapsize(s->env, map_mb * 1024 * 1024);
    if (!rc) rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (rc || open_dbs(s, err, errlen) != 0 || (rc = load_pending(s))) {
        if (rc) fail(dir, rc, err, errlen);
        sy_keymap_free(&s->seq_of);
        sy_buf_free(&s->pend);
        sy_buf_free(&s->enc);
        mdb_env_close(s->env);
        free(s);
        return NULL;
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info); /* map_mb 0: LMDB's default size */
    s->max_record = (map_mb ? map_mb * 1024 * 1024 : info.me_mapsize) / 8;
    keep_headroom(s); /* a map filled before (or asked smaller than its data) */
    return s;
}

void sy_store_set_fsync(sy_store *s, bool on)
{
    mdb_env_set_flags(s->env, MDB_NOSYNC, on ? 0 : 1);
}

void sy_store_close(sy_store *s)
{
    if (!s) return;
    if (s->txn || s->dirty_outputs.len) sy_store_commit(s);
    if (s->rtxn) mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    sy_buf_free(&s->enc);
    sy_buf_free(&s->journal);
    sy_buf_free(&s->dirty_outputs);
    sy_buf_free(&s->purge_from);
    sy_keymap_free_with(&s->noted, free);
    sy_keymap_free(&s->seq_of);
    sy_buf_free(&s->pend);
    free(s);
}

/* The transaction to read through: the open write one, or a read one. */
static MDB_txn *read_txn(sy_store *s)
{
    if (s->txn) return s->txn;
    if (!s->rtxn) {
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn)) return NULL;
    } else if (mdb_txn_renew(s->rtxn)) {
        return NULL;
    }
    return s->rtxn;
}

static void read_done(sy_store *s, MDB_txn *txn)
{
    if (txn == s->rtxn) mdb_txn_reset(s->rtxn);
}

void sy_record_append(sy_buf *b, const sy_job_record *r)
{
    const char *st = r->src_topic ? r->src_topic : "", *m = r->model ? r->model : "";
    const char *ot = r->out_topic ? r->out_topic : "";
    bool origin = r->origin && *r->origin; /* version 2: the origin follows the result */
    size_t olen = origin ? strlen(r->origin) + 1 : 0;
    rec_head h;
    memset(&h, 0, sizeof h); /* its padding too: no stack bytes in the store or on Kafka */
    h.version = origin ? 2 : 1;
    h.state = (uint8_t)r->state;
    h.ok = r->ok;
    h.flags = r->no_call_out ? REC_NO_CALL_OUT : 0;
    h.src_topic_len = (uint16_t)strlen(st);
    h.model_len = (uint16_t)strlen(m);
    h.out_topic_len = (uint16_t)strlen(ot);
    h.attempts = r->attempts;
    h.result_len = (uint32_t)r->result_len;
    h.src_partition = r->src_partition;
    h.out_partition = r->out_partition;
    h.src_offset = r->src_offset;
    h.updated_ms = r->updated_ms;
    h.expires_ms = r->expires_ms;
    h.out_offset = r->out_offset;
    sy_buf_reserve(b, sizeof h + h.src_topic_len + h.model_len + h.out_topic_len + 3u + r->result_len + olen);
    sy_buf_append(b, &h, sizeof h);
    sy_buf_append(b, st, h.src_topic_len + 1u);
    sy_buf_append(b, m, h.model_len + 1u);
    sy_buf_append(b, ot, h.out_topic_len + 1u);
    if (r->result_len) sy_buf_append(b, r->result, r->result_len);
    if (origin) sy_buf_append(b, r->origin, olen);
}

void sy_record_encode(sy_buf *b, const sy_job_record *r)
{
    sy_buf_reset(b);
    sy_record_append(b, r);
}

int sy_record_decode(const void *data, size_t len, sy_job_record *r)
{
    rec_head h;
    if (len < sizeof h) return -1;
    memcpy(&h, data, sizeof h);
    size_t need = sizeof h + h.src_topic_len + h.model_len + h.out_topic_len + 3u + h.result_len;
    const char *p = (const char *)data + sizeof h, *origin = NULL;
    if (h.version == 2 && len > need && len - need <= SY_RECORD_ORIGIN_MAX) {
        origin = (const char *)data + need; /* one string, ending the record */
        if (memchr(origin, '\0', len - need) != (const void *)((const char *)data + len - 1)) return -1;
        need = len;
    }
    if ((h.version != 1 && !origin) || len != need || h.state > SY_STATE_PUBLISHED) return -1;
    if (p[h.src_topic_len] || p[h.src_topic_len + 1 + h.model_len] ||
        p[h.src_topic_len + h.model_len + 2 + h.out_topic_len])
        return -1; /* strings must end where the head says */
    *r = (sy_job_record){
        .state = h.state, .ok = h.ok, .no_call_out = (h.flags & REC_NO_CALL_OUT) != 0,
        .attempts = h.attempts, .src_partition = h.src_partition,
        .src_offset = h.src_offset, .updated_ms = h.updated_ms, .expires_ms = h.expires_ms,
        .out_partition = h.out_partition, .out_offset = h.out_offset,
    };
    r->src_topic = p;
    p += h.src_topic_len + 1;
    r->model = p;
    p += h.model_len + 1;
    r->out_topic = p;
    p += h.out_topic_len + 1;
    r->result = h.result_len ? p : NULL;
    r->result_len = h.result_len;
    r->origin = origin;
    return 0;
}

static uint64_t pending_seq(const sy_store *s, const char *key)
{
    return (uint64_t)(uintptr_t)sy_keymap_get(&s->seq_of, key);
}

/* The key's newest record bytes: its pending one, else its one in jobs. */
static int newest(sy_store *s, MDB_txn *txn, const char *key, MDB_val *rec)
{
    uint64_t seq = pending_seq(s, key);
    if (seq) {
        unsigned char kb[8];
        MDB_val k = seq_key(seq, kb), v, kpart;
        if (mdb_get(txn, s->pending, &k, &v) == 0 && pending_parts(v, &kpart, rec) == 0) return 1;
    }
    MDB_val k = key_of(key);
    return mdb_get(txn, s->jobs, &k, rec) == 0;
}

int sy_store_get(sy_store *s, const char *key, sy_job_record *rec, sy_buf *storage)
{
    MDB_txn *txn = read_txn(s);
    if (!txn) return 0;
    MDB_val v;
    int found = newest(s, txn, key, &v);
    if (found) {
        sy_buf_reset(storage);
        sy_buf_append(storage, v.mv_data, v.mv_size);
    }
    read_done(s, txn);
    if (found && sy_record_decode(storage->data, storage->len, rec) != 0) {
        sy_warn("store: record of key '%s' is corrupt; ignoring it", key);
        return 0;
    }
    return found;
}

static bool unfinished(sy_job_state st)
{
    return st == SY_STATE_IN_FLIGHT || st == SY_STATE_PUBLISHING;
}

int sy_store_put(sy_store *s, const char *key, const sy_job_record *rec)
{
    sy_record_encode(&s->enc, rec);
    if (s->enc.len > s->max_record) return -1;
    MDB_val k = key_of(key), v = val_of(s->enc.data, s->enc.len);
    uint64_t seq = pending_seq(s, key);
    unsigned char kb[8];
    if (unfinished(rec->state)) {
        if (k.mv_size > UINT16_MAX) {
            fail_store(s, "key too long", MDB_BAD_VALSIZE);
            return -1;
        }
        if (!seq) {
            seq = s->next_seq++;
            sy_keymap_put(&s->seq_of, key, (void *)(uintptr_t)seq);
        }
        MDB_val sk = seq_key(seq, kb), pv = pending_value(s, k, &s->enc);
        stage(s, OP_PUT, DB_PENDING, &sk, &pv);
    } else {
        stage(s, OP_PUT, DB_JOBS, &k, &v);
        if (seq) {
            MDB_val sk = seq_key(seq, kb);
            stage(s, OP_DEL, DB_PENDING, &sk, NULL);
            sy_keymap_del(&s->seq_of, key);
        }
    }
    return 0;
}

void sy_store_del(sy_store *s, const char *key)
{
    MDB_val k = key_of(key);
    uint64_t seq = pending_seq(s, key);
    if (seq) {
        unsigned char kb[8];
        MDB_val sk = seq_key(seq, kb);
        stage(s, OP_DEL, DB_PENDING, &sk, NULL);
        sy_keymap_del(&s->seq_of, key);
    }
    stage(s, OP_DEL, DB_JOBS, &k, NULL);
}

static MDB_val output_key(char *buf, size_t len, const char *topic, int32_t partition)
{
    /* "topic/partition", the topic cut to fit len (>= 2 * SY_I64_CHARS);
     * no printf: this runs once a result */
    size_t n = strnlen(topic, len - SY_I64_CHARS - 2);
    memcpy(buf, topic, n);
    buf[n++] = '/';
    n += sy_fmt_i64(buf + n, partition);
    buf[n] = '\0';
    return val_of(buf, n);
}

typedef struct noted_out {
    int64_t off;
    bool dirty; /* changed since the last commit: written then (flush_outputs) */
} noted_out;

/* The highest output offset noted for a partition, read from the store
 * once and then kept in memory (only this process writes it): noting one
 * per result costs a hash lookup, not a read transaction. */
static noted_out *noted_output(sy_store *s, const char *topic, int32_t partition, char *kb, size_t kblen)
{
    MDB_val key = output_key(kb, kblen, topic, partition);
    noted_out *o = sy_keymap_get(&s->noted, kb);
    if (o) return o;
    o = sy_xcalloc(1, sizeof *o);
    o->off = -1;
    MDB_txn *txn = read_txn(s);
    MDB_val v;
    if (txn && mdb_get(txn, s->outputs, &key, &v) == 0 && v.mv_size == sizeof o->off)
        memcpy(&o->off, v.mv_data, sizeof o->off);
    if (txn) read_done(s, txn);
    sy_keymap_put(&s->noted, kb, o);
    return o;
}

/* Noted in memory; written once per partition at the commit (a put per
 * result cost an LMDB write and a journal copy a job), so it is durable
 * with the same group commit as before. */
void sy_store_note_output(sy_store *s, const char *topic, int32_t partition, int64_t offset)
{
    char kb[300];
    noted_out *o = noted_output(s, topic, partition, kb, sizeof kb);
    if (offset <= o->off) return;
    o->off = offset;
    if (!o->dirty) sy_buf_append(&s->dirty_outputs, kb, strlen(kb) + 1);
    o->dirty = true;
}

int64_t sy_store_output_noted(sy_store *s, const char *topic, int32_t partition)
{
    char kb[300];
    return noted_output(s, topic, partition, kb, sizeof kb)->off;
}

/* The outputs noted since the last commit, staged into the transaction
 * about to commit. */
static void flush_outputs(sy_store *s)
{
    for (size_t at = 0; at < s->dirty_outputs.len;) {
        const char *kb = s->dirty_outputs.data + at;
        size_t n = strlen(kb);
        noted_out *o = sy_keymap_get(&s->noted, kb);
        if (o && o->dirty) {
            MDB_val k = val_of(kb, n), v = val_of(&o->off, sizeof o->off);
            o->dirty = false;
            stage(s, OP_PUT, DB_OUTPUTS, &k, &v);
        }
        at += n + 1;
    }
    sy_buf_reset(&s->dirty_outputs);
}

int sy_store_commit(sy_store *s)
{
    if (!s->failed) flush_outputs(s);
    if (s->failed) {
        sy_buf_reset(&s->journal);
        sy_error("store: a write failed before this commit (%s)", mdb_strerror(s->failed));
        return -1;
    }
    if (!s->txn) return 0;
    int rc = mdb_txn_commit(s->txn); /* the transaction ends either way */
    for (int tries = 0; rc == MDB_MAP_FULL && tries < 16; tries++)
        if (!(rc = recover_full_map(s))) rc = mdb_txn_commit(s->txn);
    s->txn = NULL;
    sy_buf_reset(&s->journal);
    if (rc) {
        sy_error("store: commit failed: %s", mdb_strerror(rc));
        return -1;
    }
    s->commits++;
    keep_headroom(s);
    return 0;
}

bool sy_store_staged(const sy_store *s)
{
    return s->txn || s->dirty_outputs.len;
}

uint64_t sy_store_commits(const sy_store *s)
{
    return s->commits;
}

size_t sy_store_each_unfinished(sy_store *s,
                                void (*fn)(void *ctx, const char *key, const sy_job_record *rec),
                                void *ctx)
{
    MDB_txn *txn = read_txn(s);
    MDB_cursor *c;
    if (!txn || mdb_cursor_open(txn, s->pending, &c)) return 0;
    size_t n = 0;
    sy_buf key, storage;
    sy_buf_init(&key);
    sy_buf_init(&storage);
    MDB_val k, v, kpart, rec;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (pending_parts(v, &kpart, &rec)) continue;
        sy_buf_reset(&key);
        sy_buf_append(&key, kpart.mv_data, kpart.mv_size);
        sy_buf_reset(&storage);
        sy_buf_append(&storage, rec.mv_data, rec.mv_size);
        sy_job_record r;
        if (sy_record_decode(storage.data, storage.len, &r) == 0 && unfinished(r.state)) {
            fn(ctx, sy_buf_cstr(&key), &r);
            n++;
        }
    }
    mdb_cursor_close(c);
    read_done(s, txn);
    sy_buf_free(&key);
    sy_buf_free(&storage);
    return n;
}

/* ---- batch records ---- */

int sy_store_batch_put(sy_store *s, const char *key, const void *data, size_t len)
{
    if (len > s->max_record) return -1;
    MDB_val k = key_of(key), v = val_of(data, len);
    stage(s, OP_PUT, DB_BATCHES, &k, &v);
    return 0;
}

void sy_store_batch_del(sy_store *s, const char *key)
{
    MDB_val k = key_of(key);
    stage(s, OP_DEL, DB_BATCHES, &k, NULL);
}

size_t sy_store_each_batch(sy_store *s, void (*fn)(void *ctx, const char *key, const void *data, size_t len),
                           void *ctx)
{
    MDB_txn *txn = read_txn(s); /* the write transaction when open: staged records count */
    MDB_cursor *c;
    if (!txn) return 0;
    if (mdb_cursor_open(txn, s->batches, &c)) {
        read_done(s, txn);
        return 0;
    }
    size_t n = 0;
    sy_buf key, val;
    sy_buf_init(&key);
    sy_buf_init(&val);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        sy_buf_reset(&key);
        sy_buf_append(&key, k.mv_data, k.mv_size);
        sy_buf_reset(&val);
        sy_buf_append(&val, v.mv_data, v.mv_size);
        n++;
        fn(ctx, sy_buf_cstr(&key), val.data, val.len); /* copies: fn may stage */
    }
    mdb_cursor_close(c);
    read_done(s, txn);
    sy_buf_free(&key);
    sy_buf_free(&val);
    return n;
}

size_t sy_store_purge(sy_store *s, int64_t now_ms, size_t max)
{
    MDB_cursor *c;
    if (!write_txn(s) || mdb_cursor_open(s->txn, s->jobs, &c)) return 0;
    MDB_val k = val_of(s->purge_from.data, s->purge_from.len), v;
    int rc = s->purge_from.len ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
                               : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    size_t seen = 0, purged = 0;
    sy_buf expired; /* key length, key, ...: deleted once the cursor is closed */
    sy_buf_init(&expired);
    for (; rc == 0 && seen < max; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), seen++) {
        rec_head h;
        if (v.mv_size < sizeof h) continue;
        memcpy(&h, v.mv_data, sizeof h);
        if (h.state == SY_STATE_PUBLISHED && h.expires_ms && h.expires_ms < now_ms) {
            sy_buf_append(&expired, &k.mv_size, sizeof k.mv_size);
            sy_buf_append(&expired, k.mv_data, k.mv_size);
            purged++;
        }
    }
    sy_buf_reset(&s->purge_from); /* resume after the last key seen, or from the start */
    if (rc == 0) sy_buf_append(&s->purge_from, k.mv_data, k.mv_size);
    mdb_cursor_close(c);
    for (size_t at = 0; at < expired.len;) {
        MDB_val dk;
        memcpy(&dk.mv_size, expired.data + at, sizeof dk.mv_size);
        dk.mv_data = expired.data + at + sizeof dk.mv_size;
        at += sizeof dk.mv_size + dk.mv_size;
        stage(s, OP_DEL, DB_JOBS, &dk, NULL);
    }
    sy_buf_free(&expired);
    return purged;
}

/* Keys in jobs, and pending keys that have no record there yet. */
size_t sy_store_bytes(sy_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (!s || mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0) return 0;
    return (info.me_last_pgno + 1) * (size_t)st.ms_psize;
}

size_t sy_store_count(sy_store *s)
{
    MDB_txn *txn = read_txn(s);
    MDB_stat st = {0};
    MDB_cursor *c;
    if (!txn) return 0;
    mdb_stat(txn, s->jobs, &st);
    size_t n = st.ms_entries;
    if (mdb_cursor_open(txn, s->pending, &c) == 0) {
        MDB_val k, v, kpart, rec;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            if (pending_parts(v, &kpart, &rec) == 0 && mdb_get(txn, s->jobs, &kpart, &rec) != 0) n++;
        mdb_cursor_close(c);
    }
    read_done(s, txn);
    return n;
}

const char *sy_store_key(sy_buf *out, const char *task, const char *idempotency_key)
{
    sy_buf_reset(out);
    size_t n = strlen(task);
    if (n > MAX_TASK_IN_KEY) /* LMDB keys end at 511 bytes; job keys at 256 */
        sy_buf_printf(out, "%.*s#%016llx", MAX_TASK_IN_KEY - 17, task,
                      (unsigned long long)sy_hash64(task, n));
    else
        sy_buf_puts(out, task);
    sy_buf_putc(out, SY_STORE_KEY_SEP);
    sy_buf_puts(out, idempotency_key);
    return sy_buf_cstr(out);
}

const char *sy_store_key_split(const char *skey, size_t *task_len)
{
    const char *sep = strchr(skey, SY_STORE_KEY_SEP);
    *task_len = sep ? (size_t)(sep - skey) : 0;
    return sep ? sep + 1 : skey;
}

const char *sy_job_state_name(sy_job_state st)
{
    static const char *names[] = {"none", "in_flight", "publishing", "published"};
    return st <= SY_STATE_PUBLISHED ? names[st] : "unknown";
}
