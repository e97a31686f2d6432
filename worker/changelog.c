/* changelog.c -- job state follows its partition to the next owner.
 *
 * A worker's LMDB store knows which jobs of its partitions were answered.
 * When a partition moves (rebalance, or a worker dies), the new owner must
 * know it too, or it would call the provider again for jobs whose results
 * are already out. So every final state is mirrored to a changelog topic,
 * "<tier topic>.changelog", into the same partition number as the input,
 * keyed by the store key, task and idempotency key (compacted on real Kafka, like a Kafka Streams
 * state store; the embedded broker cannot compact, its ring holds a few MB
 * per partition):
 *
 *   PUBLISHING  with the result, produced and acknowledged BEFORE the result
 *               itself is produced: a result on the output topic always has
 *               its record in the changelog
 *   PUBLISHED   with the result and where it landed, after the result's ack;
 *               batch tiers' jobs only. A sync tier's PUBLISHING record
 *               carries a progress mark instead (codec/progress.h): its
 *               partition's done prefix, below which every result is out,
 *               and where the result will land above
 *
 * Each value is the 8-byte id of the writing worker process, then the
 * store's record bytes.
 *
 * On assignment, before a partition is consumed, its changelog partition is
 * read to the end into the local store (a record replaces the local one
 * unless the local one is further along). A key left PUBLISHING may or may
 * not have reached the output topic: the output partitions are read from
 * after the highest offset the writing worker had noted there in the key's
 * own changelog partition (its results and that partition's mirrors land in
 * order, so an unnoted one comes after; docs/durability.md), and what is
 * found is marked PUBLISHED. Jobs whose call was in flight on the dead worker run again: as
 * after a crash, those are the only calls that can be paid twice.
 *
 * A restore is loop work, not a wait inside the rebalance callback: one
 * state machine per assignment,
 *
 *   READING_CHANGELOG --all EOF--> SCANNING_OUTPUTS --all EOF--> done
 *                                  (skipped when nothing was PUBLISHING)
 *
 * advanced a batch of records per loop turn (changelog_restore_step), its
 * readers' queues waking the loop. Meanwhile the assigned partitions stay
 * paused (flow.c holds them) and the calls of the other partitions go on;
 * when done, the restored state is committed and the partitions released.
 * Batch tiers' batch records (batchrec.h, keyed SY_BATCHREC_LOG_PREFIX...)
 * ride on the same topics: a restore stores them as they are (checked as
 * hostile bytes first) or removes them by their tombstones, and when it
 * ends the caller's hook (worker.c: batchio_restored) polls their batches
 * and rebuilds their jobs.
 * Calls changelog.c -> recover.c only (the scan
 * mirrors what it finds through the hook it is given). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"
#include "changelog.h"
#include "batchrec.h"
#include "flow.h"
#include "progress.h"
#include "recover.h"

const char *changelog_topic(worker *w, const char *tier_topic)
{
    const sy_tier *t = sy_config_tier_by_topic(w->cfg, tier_topic);
    return t ? w->changelog_topics[t->index] : NULL;
}

void changelog_init(worker *w)
{
    w->changelog_topics = sy_xcalloc(w->cfg->ntiers + 1, sizeof(char *));
    for (size_t i = 0; i < w->cfg->ntiers; i++) {
        sy_buf b;
        sy_buf_init(&b);
        sy_buf_printf(&b, "%s.changelog", w->cfg->tiers[i]->topic);
        w->changelog_topics[i] = sy_xstrdup(sy_buf_cstr(&b));
        sy_buf_free(&b);
    }
    w->owner_id = sy_hash64(&w->rng, sizeof w->rng) ^ (uint64_t)sy_now_ms();
    sy_keymap_init(&w->out_notes);
}

void changelog_free(worker *w)
{
    for (size_t i = 0; w->changelog_topics && i < w->cfg->ntiers; i++) free(w->changelog_topics[i]);
    free(w->changelog_topics);
    sy_keymap_free_with(&w->out_notes, free);
}

static void mirror(worker *w, const char *key, const sy_job_record *rec, sy_run *r, rd_kafka_headers_t *h)
{
    const char *topic = w->opt.changelog ? changelog_topic(w, rec->src_topic) : NULL;
    if (!topic) {
        if (h) rd_kafka_headers_destroy(h);
        return;
    }
    sy_buf_reset(&w->changelog_scratch);
    sy_buf_append(&w->changelog_scratch, &w->owner_id, sizeof w->owner_id);
    sy_record_append(&w->changelog_scratch, rec);
    if (r) r->pending_deliveries++;
    if (sy_kafka_produce_to(w->changelog_producer, topic, rec->src_partition, key, strlen(key),
                            w->changelog_scratch.data, w->changelog_scratch.len, h, r) != 0 &&
        r)
        r->pending_deliveries--;
}

void changelog_mirror(worker *w, const char *key, const sy_job_record *rec, sy_run *r)
{
    mirror(w, key, rec, r, NULL);
}

/* An output topic's highest acknowledged offsets, by partition: seeded
 * from the store's notes (a restarted worker's first marks carry them). */
typedef struct out_notes {
    uint32_t n;
    sy_progress_note notes[SY_PROGRESS_NOTES_MAX];
} out_notes;

static out_notes *notes_of(worker *w, const char *topic)
{
    out_notes *o = sy_keymap_get(&w->out_notes, topic);
    if (o) return o;
    o = sy_xcalloc(1, sizeof *o);
    for (int32_t p = 0; p < SY_PROGRESS_NOTES_MAX; p++) {
        int64_t off = sy_store_output_noted(w->store, topic, p);
        if (off >= 0) o->notes[o->n++] = (sy_progress_note){.partition = p, .offset = off};
    }
    sy_keymap_put(&w->out_notes, topic, o);
    return o;
}

void changelog_note_output(worker *w, const char *topic, int32_t partition, int64_t offset)
{
    if (!w->opt.changelog || partition < 0 || offset < 0) return;
    out_notes *o = notes_of(w, topic);
    for (uint32_t i = 0; i < o->n; i++)
        if (o->notes[i].partition == partition) {
            if (offset > o->notes[i].offset) o->notes[i].offset = offset;
            return;
        }
    if (o->n < SY_PROGRESS_NOTES_MAX) /* beyond: that partition is looked through from its start */
        o->notes[o->n++] = (sy_progress_note){.partition = partition, .offset = offset};
}

void changelog_mirror_marked(worker *w, const char *key, const sy_job_record *rec, sy_run *r, int64_t done)
{
    if (!w->opt.changelog) return;
    const out_notes *o = notes_of(w, rec->out_topic);
    unsigned char v[SY_PROGRESS_MAX_BYTES];
    size_t n = sy_progress_encode(done, o->notes, o->n, v);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, SY_PROGRESS_HEADER, -1, v, (ssize_t)n);
    mirror(w, key, rec, r, h);
}

/* ---- restore ---- */

int changelog_decode(const void *value, size_t len, uint64_t *owner, sy_job_record *rec)
{
    if (!value || len < sizeof *owner) return -1;
    memcpy(owner, value, sizeof *owner);
    return sy_record_decode((const char *)value + sizeof *owner, len - sizeof *owner, rec);
}

/* Who wrote a record, and into which changelog partition. The mirrors of
 * one changelog partition land in the order they were produced; those of
 * two partitions do not (each is sent on its own). */
typedef struct writer {
    uint64_t owner;
    const char *log; /* the changelog topic (the worker's string) */
    int32_t log_partition;
} writer;

/* Highest output offset each writer noted, per output partition, in the
 * PUBLISHED records of one changelog partition. */
typedef struct noted {
    writer by;
    char *topic;
    int32_t partition;
    int64_t offset;
} noted;

/* A key being restored whose result may not be out, and who wrote it.
 * marked: its record carried a progress mark (codec/progress.h), and it
 * is pending only while its input offset is not below its partition's
 * highest mark; its notes tell where its result would be. */
typedef struct pend_key {
    writer by;
    bool marked;
    bool put;           /* marked: the restore stored its record (PUBLISHED until it is
                           known pending, then PUBLISHING again) */
    int64_t src_offset;
    char *out_topic;    /* marked: where its result goes */
    uint32_t nnotes;
    sy_progress_note notes[];
} pend_key;

static void pend_free(void *p)
{
    pend_key *k = p;
    if (k) free(k->out_topic);
    free(k);
}

/* The highest progress mark read for one changelog partition. */
typedef struct done_mark {
    const char *log;
    int32_t partition;
    int64_t done;
} done_mark;

typedef enum restore_phase { READING_CHANGELOG, SCANNING_OUTPUTS } restore_phase;

typedef struct restore {
    worker *w;
    restore_phase phase;
    rd_kafka_topic_partition_list_t *inputs; /* the partitions held */
    rd_kafka_t *rk;       /* the changelog reader */
    rd_kafka_topic_partition_list_t *reading; /* its partitions; opaque set: at its end */
    int todo;             /* changelog partitions not yet at their end */
    recover_set pending;  /* keys left PUBLISHING */
    recover_scan *scan;   /* SCANNING_OUTPUTS */
    sy_keymap owner_of;   /* key -> pend_key (malloc'd), for pending keys */
    sy_keymap marked;     /* key -> pend_key (malloc'd): marked keys not yet known out */
    size_t marked_kept;   /* their count after the last prune */
    done_mark *dones;
    size_t ndones;
    noted *notes;
    size_t nnotes;
    size_t applied, read;
    size_t batches, bad_batches; /* batch records restored, refused */
    int64_t t0_us, deadline_us;
    struct restore *next;
} restore;

static bool same_writer(const writer *a, const writer *b)
{
    return a->owner == b->owner && a->log == b->log && a->log_partition == b->log_partition;
}

static void note(restore *st, const writer *by, const sy_job_record *rec)
{
    for (size_t i = 0; i < st->nnotes; i++) {
        noted *n = &st->notes[i];
        if (same_writer(&n->by, by) && n->partition == rec->out_partition && !strcmp(n->topic, rec->out_topic)) {
            if (rec->out_offset > n->offset) n->offset = rec->out_offset;
            return;
        }
    }
    st->notes = sy_xrealloc(st->notes, (st->nnotes + 1) * sizeof *st->notes);
    st->notes[st->nnotes++] = (noted){.by = *by, .topic = sy_xstrdup(rec->out_topic),
                                      .partition = rec->out_partition, .offset = rec->out_offset};
}

/* Is the local record further along than this one? */
static bool local_is_newer(worker *w, const char *key, const sy_job_record *rec)
{
    sy_job_record local;
    if (!sy_store_get(w->store, key, &local, &w->record_scratch)) return false;
    return local.state > rec->state || (local.state == rec->state && local.updated_ms > rec->updated_ms);
}

/* A batch tier's batch record (batchrec.h): stored under its changelog
 * key, or removed by its tombstone. Hostile bytes: a record that does not
 * decode, or claims jobs of another partition, is counted and skipped. */
static void apply_batch(restore *st, const rd_kafka_message_t *m, const char *key)
{
    if (!m->payload) {
        sy_store_batch_del(st->w->store, key);
        return;
    }
    sy_batchrec_view v;
    uint64_t owner;
    if (m->len < sizeof owner ||
        sy_batchrec_decode((const char *)m->payload + sizeof owner, m->len - sizeof owner, &v) != 0) {
        if (st->bad_batches++ < 10)
            sy_warn("changelog: unreadable batch record at %s/%d/%" PRId64 "; skipped",
                    rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        return;
    }
    int fits = sy_batchrec_of_partition(&v.rec, m->partition);
    sy_batchrec_view_free(&v);
    if (!fits) {
        if (st->bad_batches++ < 10)
            sy_warn("changelog: batch record at %s/%d/%" PRId64 " carries jobs of another partition; skipped",
                    rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        return;
    }
    if (sy_store_batch_put(st->w->store, key, (const char *)m->payload + sizeof owner, m->len - sizeof owner) == 0)
        st->batches++;
}

/* The record's progress mark, when it carries one that reads. */
static bool progress_of(const rd_kafka_message_t *m, sy_progress *pr)
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    return rd_kafka_message_headers(m, &h) == 0 && rd_kafka_header_get_last(h, SY_PROGRESS_HEADER, &v, &n) == 0 &&
           sy_progress_decode(v, n, pr) == 0;
}

static int64_t *done_of(restore *st, const char *log, int32_t partition)
{
    for (size_t i = 0; i < st->ndones; i++)
        if (st->dones[i].partition == partition && st->dones[i].log == log) return &st->dones[i].done;
    st->dones = sy_xrealloc(st->dones, (st->ndones + 1) * sizeof *st->dones);
    st->dones[st->ndones] = (done_mark){.log = log, .partition = partition, .done = -1};
    return &st->dones[st->ndones++].done;
}

/* Marked keys whose input offset is now below their partition's mark:
 * their results are out, their records stay PUBLISHED. */
static void prune_marked(restore *st)
{
    for (size_t i = 0; i < st->marked.cap; i++) {
        const char *key = sy_keymap_key_at(&st->marked, i);
        const pend_key *k = key ? st->marked.slots[i].value : NULL;
        if (k && k->src_offset < *done_of(st, k->by.log, k->by.log_partition))
            pend_free(sy_keymap_del(&st->marked, key));
    }
    st->marked_kept = st->marked.count;
}

/* Drops the key's marked candidate; true when the restore had stored its
 * record as PUBLISHED before it was known out: a later record of the key
 * replaces that, whatever its state. */
static bool forget_marked(restore *st, const char *key)
{
    pend_key *k = sy_keymap_del(&st->marked, key);
    bool put = k && k->put;
    pend_free(k);
    return put;
}

/* A marked PUBLISHING record: stored as PUBLISHED (its out offset
 * unknown), and kept as a candidate while its input offset is not below
 * its partition's highest mark read so far. A local record that is
 * further along wins, as for any record. */
static void apply_marked(restore *st, const char *key, sy_job_record *rec, const writer *by,
                         const sy_progress *pr)
{
    worker *w = st->w;
    free(sy_keymap_del(&st->pending.publishing, key));
    pend_free(sy_keymap_del(&st->owner_of, key));
    bool ours = forget_marked(st, key); /* the store holds what an earlier record put */
    int64_t *done = done_of(st, by->log, by->log_partition);
    if (pr->done > *done) *done = pr->done;
    sy_job_record local;
    bool have = !ours && sy_store_get(w->store, key, &local, &w->record_scratch);
    if (have && local.state == SY_STATE_PUBLISHED) return;
    bool put = !(have && local.state == SY_STATE_PUBLISHING && local.updated_ms > rec->updated_ms);
    if (put) {
        rec->state = SY_STATE_PUBLISHED;
        rec->out_partition = -1;
        rec->out_offset = -1;
        sy_store_put(w->store, key, rec);
        st->applied++;
    }
    if (rec->src_offset < *done) return;
    pend_key *k = sy_xmalloc(sizeof *k + pr->nnotes * sizeof *pr->notes);
    *k = (pend_key){.by = *by, .marked = true, .put = put, .src_offset = rec->src_offset,
                    .out_topic = sy_xstrdup(rec->out_topic), .nnotes = pr->nnotes};
    memcpy(k->notes, pr->notes, pr->nnotes * sizeof *pr->notes);
    sy_keymap_put(&st->marked, key, k);
    if (st->marked.count > 2 * st->marked_kept + 4096) prune_marked(st);
}

/* The changelog is read: marked keys still not below their partition's
 * mark are pending (PUBLISHING again), as unmarked PUBLISHING keys are. */
static void settle_marked(restore *st)
{
    worker *w = st->w;
    prune_marked(st);
    for (size_t i = 0; i < st->marked.cap; i++) {
        const char *key = sy_keymap_key_at(&st->marked, i);
        if (!key) continue;
        pend_key *k = st->marked.slots[i].value;
        sy_job_record rec;
        if (sy_store_get(w->store, key, &rec, &w->record_scratch)) {
            if (k->put && rec.state == SY_STATE_PUBLISHED) {
                rec.state = SY_STATE_PUBLISHING;
                sy_store_put(w->store, key, &rec);
            }
            if (rec.state == SY_STATE_PUBLISHING) {
                recover_want(&st->pending, key, &rec);
                sy_keymap_put(&st->owner_of, key, k);
                st->marked.slots[i].value = NULL; /* owner_of has it */
            }
        }
        pend_free(sy_keymap_del(&st->marked, key));
    }
}

static void apply(restore *st, const rd_kafka_message_t *m)
{
    char key[1024];
    sy_job_record rec;
    uint64_t owner;
    st->read++;
    if (m->key && sy_batchrec_is_log_key(m->key, m->key_len)) {
        int32_t part;
        uint32_t idx, count;
        size_t base;
        if (m->key_len > SY_BATCHREC_LOG_KEY_MAX || memchr(m->key, '\0', m->key_len) ||
            sy_batchrec_log_key_parse(m->key, m->key_len, &part, &idx, &count, &base) != 0 ||
            part != m->partition) { /* not a record's key (or part), or another partition's */
            if (st->bad_batches++ < 10) /* the store could not hold the key */
                sy_warn("changelog: batch record with an unusable key at %s/%d/%" PRId64 "; skipped",
                        rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
            return;
        }
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        apply_batch(st, m, key);
        return;
    }
    if (!m->key || m->key_len == 0 || m->key_len >= sizeof key || m->len < sizeof owner) return;
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    if (changelog_decode(m->payload, m->len, &owner, &rec) != 0) {
        sy_warn("changelog: unreadable record for key '%s' at %s/%d/%" PRId64 "; skipped", key,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        return;
    }
    writer by = {.owner = owner, .log = changelog_topic(st->w, rec.src_topic), .log_partition = m->partition};
    if (by.log && strcmp(by.log, rd_kafka_topic_name(m->rkt))) by.log = NULL; /* another tier's record */
    sy_progress pr;
    if (rec.state == SY_STATE_PUBLISHING && by.log && rec.src_partition == m->partition && progress_of(m, &pr)) {
        apply_marked(st, key, &rec, &by, &pr);
        return;
    }
    bool ours = forget_marked(st, key); /* this later record of the key decides */
    if (rec.state == SY_STATE_PUBLISHED) {
        note(st, &by, &rec);
        pend_free(sy_keymap_del(&st->owner_of, key));
        free(sy_keymap_del(&st->pending.publishing, key));
    } else if (rec.state == SY_STATE_PUBLISHING) {
        recover_want(&st->pending, key, &rec);
        pend_free(sy_keymap_del(&st->owner_of, key));
        pend_key *o = sy_xcalloc(1, sizeof *o);
        o->by = by;
        sy_keymap_put(&st->owner_of, key, o);
    }
    if (!ours && local_is_newer(st->w, key, &rec)) return;
    sy_store_put(st->w->store, key, &rec);
    st->applied++;
}

/* Where to look for the pending keys' results in one output partition:
 * after the lowest of their writers' highest notes there, each in the
 * key's own changelog partition (or from the start when its writer noted
 * nothing there). A PUBLISHED record of another changelog partition may
 * have landed before the key's own, lost in the crash: its result, with a
 * lower offset, would be missed (docs/durability.md). */
static int64_t scan_start(void *ctx, const char *topic, int32_t partition)
{
    restore *st = ctx;
    int64_t from = INT64_MAX;
    for (size_t i = 0; i < st->pending.publishing.cap; i++) {
        const char *key = sy_keymap_key_at(&st->pending.publishing, i);
        if (!key) continue;
        const pend_key *k = sy_keymap_get(&st->owner_of, key);
        if (k && k->marked) { /* after its own notes; not in another topic */
            if (!strcmp(k->out_topic, topic)) {
                int64_t after = sy_progress_scan_from(k->notes, k->nnotes, partition);
                if (after < from) from = after;
            }
            continue;
        }
        const writer *by = k ? &k->by : NULL;
        int64_t after = 0;
        for (size_t j = 0; by && j < st->nnotes; j++) {
            noted *n = &st->notes[j];
            if (same_writer(&n->by, by) && n->partition == partition && !strcmp(n->topic, topic))
                after = n->offset + 1;
        }
        if (after < from) from = after;
    }
    return from == INT64_MAX ? 0 : from;
}

enum { RESTORE_BATCH = 500 }; /* records applied per loop turn, at most */

/* The changelog partitions of the held input partitions, from their
 * start; their ends are known from their EOF events (no blocking
 * watermark query). */
static int start_reader(restore *st)
{
    worker *w = st->w;
    char err[512];
    sy_kafka_opts o = w->kafka;
    if (o.nprops < SY_MAX_PROPS) o.props[o.nprops++] = "enable.partition.eof=true";
    st->rk = sy_kafka_consumer(&o, "switchyard-restore", NULL, NULL, err, sizeof err);
    if (!st->rk) {
        sy_error("changelog: %s", err);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(st->rk);
    rd_kafka_queue_io_event_enable(q, w->wake_fd[1], "r", 1);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(st->inputs->cnt);
    for (int i = 0; i < st->inputs->cnt; i++) {
        const char *topic = changelog_topic(w, st->inputs->elems[i].topic);
        if (topic)
            rd_kafka_topic_partition_list_add(l, topic, st->inputs->elems[i].partition)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    st->todo = l->cnt;
    rd_kafka_assign(st->rk, l);
    st->reading = l;
    return 0;
}

/* Apply what the changelog reader has; true when every partition is read. */
static bool read_some(restore *st, bool *more)
{
    int n = 0;
    for (; st->todo > 0 && n < RESTORE_BATCH; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(st->rk, 0);
        if (!m) return false;
        if (!m->err) apply(st, m);
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) { /* the first EOF of each counts */
            rd_kafka_topic_partition_t *p =
                rd_kafka_topic_partition_list_find(st->reading, rd_kafka_topic_name(m->rkt), m->partition);
            if (p && !p->opaque) {
                p->opaque = st;
                st->todo--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (n == RESTORE_BATCH) *more = true;
    return st->todo <= 0;
}

static void close_reader(restore *st)
{
    if (st->reading) rd_kafka_topic_partition_list_destroy(st->reading);
    st->reading = NULL;
    if (!st->rk) return;
    sy_reaper_close(&st->w->reaper, st->rk); /* closing waits on the network */
    st->rk = NULL;
}

static void restore_free(restore *st)
{
    close_reader(st);
    if (st->scan) recover_scan_end(st->scan);
    sy_keymap_free_with(&st->owner_of, pend_free);
    sy_keymap_free_with(&st->marked, pend_free);
    free(st->dones);
    recover_set_free(&st->pending);
    for (size_t i = 0; i < st->nnotes; i++) free(st->notes[i].topic);
    free(st->notes);
    rd_kafka_topic_partition_list_destroy(st->inputs);
    free(st);
}

void changelog_restore_start(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    if (!w->opt.changelog || parts->cnt == 0) return;
    restore *st = sy_xcalloc(1, sizeof *st);
    *st = (restore){.w = w, .phase = READING_CHANGELOG, .inputs = rd_kafka_topic_partition_list_copy(parts),
                    .pending = {.scan_from = scan_start, .found = changelog_mirror},
                    .t0_us = sy_mono_us(), .deadline_us = sy_mono_us() + 60 * 1000000LL};
    st->pending.ctx = st;
    sy_keymap_init(&st->pending.publishing);
    sy_keymap_init(&st->owner_of);
    sy_keymap_init(&st->marked);
    if (start_reader(st) != 0) { /* as before: the partitions run with what the store has */
        restore_free(st);
        return;
    }
    sy_flow_hold(w, parts, st);
    st->next = w->restoring;
    w->restoring = st;
}

/* One step of one restore; true when it is done. *more: it stopped at its
 * batch limit with records waiting. */
static bool advance(restore *st, bool *more)
{
    worker *w = st->w;
    if (st->phase == READING_CHANGELOG) {
        bool timed_out = sy_mono_us() >= st->deadline_us;
        if (!read_some(st, more) && !timed_out) return false;
        if (st->todo > 0) sy_warn("changelog: restore timed out with %d partition(s) unread", st->todo);
        close_reader(st);
        settle_marked(st);
        if (!st->pending.publishing.count) return true;
        st->phase = SCANNING_OUTPUTS;
        st->scan = recover_scan_start(w, &st->pending, w->wake_fd[1]);
    }
    return recover_scan_step(st->scan, 0);
}

static void finish(restore *st)
{
    size_t pending = st->pending.publishing.count, found = 0;
    if (st->scan) {
        found = recover_scan_end(st->scan);
        st->scan = NULL;
    }
    sy_info("changelog: restored %zu of %zu record(s) for %d partition(s) in %" PRId64 " ms; "
            "%zu result(s) were being published, %zu of them found on the output topics",
            st->applied, st->read, st->inputs->cnt, (sy_mono_us() - st->t0_us) / 1000,
            pending + found, found);
    if (st->batches || st->bad_batches)
        sy_info("changelog: %zu batch record(s) restored, %zu unreadable skipped", st->batches, st->bad_batches);
}

int changelog_restore_step(worker *w, void (*restored)(worker *w, const rd_kafka_topic_partition_list_t *parts))
{
    bool more = false;
    for (restore **at = &w->restoring; *at;) {
        restore *st = *at;
        if (!advance(st, &more)) {
            at = &st->next;
            continue;
        }
        *at = st->next;
        finish(st);
        /* the restored state is durable before a job of these partitions is taken */
        if (sy_store_commit(w->store) != 0) {
            sy_error("changelog: cannot store the restored state; stopping");
            sy_werr_set(&w->fatal, SY_WERR_FATAL, 1, "changelog: cannot store the restored state");
            restore_free(st);
            return -1;
        }
        if (restored) restored(w, st->inputs); /* before a job of these partitions is taken */
        sy_flow_release(w, st);
        restore_free(st);
    }
    return more ? 1 : 0;
}

bool changelog_restoring(const worker *w)
{
    return w->restoring != NULL;
}

void changelog_restore_cancel(worker *w)
{
    while (w->restoring) {
        restore *st = w->restoring;
        w->restoring = st->next;
        restore_free(st);
    }
}
