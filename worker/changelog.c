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
 *   PUBLISHED   with the result and where it landed, after the result's ack
 *
 * Each value is the 8-byte id of the writing worker process, then the
 * store's record bytes.
 *
 * On assignment, before a partition is consumed, its changelog partition is
 * read to the end into the local store (a record replaces the local one
 * unless the local one is further along). A key left PUBLISHING may or may
 * not have reached the output topic: the output partitions are read from
 * after the highest offset the writing worker had noted there (its results
 * land in order, so an unnoted one comes after), and what is found is marked
 * PUBLISHED. Jobs whose call was in flight on the dead worker run again: as
 * after a crash, those are the only calls that can be paid twice. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"

const char *changelog_topic(worker *w, const char *tier_topic)
{
    const sy_tier *t = sy_config_tier_by_topic(&w->cfg, tier_topic);
    return t ? w->changelog_topics[t->index] : NULL;
}

void changelog_init(worker *w)
{
    w->changelog_topics = sy_xcalloc(w->cfg.ntiers + 1, sizeof(char *));
    for (size_t i = 0; i < w->cfg.ntiers; i++) {
        sy_buf b;
        sy_buf_init(&b);
        sy_buf_printf(&b, "%s.changelog", w->cfg.tiers[i]->topic);
        w->changelog_topics[i] = sy_xstrdup(sy_buf_cstr(&b));
        sy_buf_free(&b);
    }
    w->owner_id = sy_hash64(&w->rng, sizeof w->rng) ^ (uint64_t)sy_now_ms();
}

void changelog_free(worker *w)
{
    for (size_t i = 0; w->changelog_topics && i < w->cfg.ntiers; i++) free(w->changelog_topics[i]);
    free(w->changelog_topics);
}

void changelog_mirror(worker *w, const char *key, const sy_job_record *rec, sy_run *r)
{
    const char *topic = w->opt.changelog ? changelog_topic(w, rec->src_topic) : NULL;
    if (!topic) return;
    sy_buf_reset(&w->changelog_scratch);
    sy_buf_append(&w->changelog_scratch, &w->owner_id, sizeof w->owner_id);
    sy_buf enc;
    sy_buf_init(&enc);
    sy_record_encode(&enc, rec);
    sy_buf_append(&w->changelog_scratch, enc.data, enc.len);
    sy_buf_free(&enc);
    if (r) r->pending_deliveries++;
    if (sy_kafka_produce_to(w->changelog_producer, topic, rec->src_partition, key, strlen(key),
                            w->changelog_scratch.data, w->changelog_scratch.len, NULL, r) != 0 &&
        r)
        r->pending_deliveries--;
}

/* ---- restore ---- */

int changelog_decode(const void *value, size_t len, uint64_t *owner, sy_job_record *rec)
{
    if (!value || len < sizeof *owner) return -1;
    memcpy(owner, value, sizeof *owner);
    return sy_record_decode((const char *)value + sizeof *owner, len - sizeof *owner, rec);
}

/* Highest output offset each writer noted, per output partition. */
typedef struct noted {
    uint64_t owner;
    char *topic;
    int32_t partition;
    int64_t offset;
} noted;

typedef struct restore {
    worker *w;
    recover_set pending;  /* keys left PUBLISHING */
    sy_keymap owner_of;   /* key -> writer id (malloc'd), for pending keys */
    noted *notes;
    size_t nnotes;
    size_t applied, read;
} restore;

static void note(restore *st, uint64_t owner, const sy_job_record *rec)
{
    for (size_t i = 0; i < st->nnotes; i++) {
        noted *n = &st->notes[i];
        if (n->owner == owner && n->partition == rec->out_partition && !strcmp(n->topic, rec->out_topic)) {
            if (rec->out_offset > n->offset) n->offset = rec->out_offset;
            return;
        }
    }
    st->notes = sy_xrealloc(st->notes, (st->nnotes + 1) * sizeof *st->notes);
    st->notes[st->nnotes++] = (noted){.owner = owner, .topic = sy_xstrdup(rec->out_topic),
                                      .partition = rec->out_partition, .offset = rec->out_offset};
}

/* Is the local record further along than this one? */
static bool local_is_newer(worker *w, const char *key, const sy_job_record *rec)
{
    sy_job_record local;
    if (!sy_store_get(w->store, key, &local, &w->record_scratch)) return false;
    return local.state > rec->state || (local.state == rec->state && local.updated_ms > rec->updated_ms);
}

static void apply(restore *st, const rd_kafka_message_t *m)
{
    char key[1024];
    sy_job_record rec;
    uint64_t owner;
    st->read++;
    if (!m->key || m->key_len == 0 || m->key_len >= sizeof key || m->len < sizeof owner) return;
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    if (changelog_decode(m->payload, m->len, &owner, &rec) != 0) {
        sy_warn("changelog: unreadable record for key '%s' at %s/%d/%" PRId64 "; skipped", key,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        return;
    }
    if (rec.state == SY_STATE_PUBLISHED) {
        note(st, owner, &rec);
        free(sy_keymap_del(&st->owner_of, key));
        free(sy_keymap_del(&st->pending.publishing, key));
    } else if (rec.state == SY_STATE_PUBLISHING) {
        recover_want(&st->pending, key, &rec);
        free(sy_keymap_del(&st->owner_of, key));
        uint64_t *o = sy_xmalloc(sizeof *o);
        *o = owner;
        sy_keymap_put(&st->owner_of, key, o);
    }
    if (local_is_newer(st->w, key, &rec)) return;
    sy_store_put(st->w->store, key, &rec);
    st->applied++;
}

/* Where to look for the pending keys' results in one output partition:
 * after the lowest of their writers' highest notes there (or from the
 * start when a writer noted nothing there). */
static int64_t scan_start(void *ctx, const char *topic, int32_t partition)
{
    restore *st = ctx;
    int64_t from = INT64_MAX;
    for (size_t i = 0; i < st->pending.publishing.cap; i++) {
        const char *key = st->pending.publishing.slots[i].key;
        if (!key) continue;
        uint64_t *owner = sy_keymap_get(&st->owner_of, key);
        int64_t after = 0;
        for (size_t j = 0; owner && j < st->nnotes; j++) {
            noted *n = &st->notes[j];
            if (n->owner == *owner && n->partition == partition && !strcmp(n->topic, topic))
                after = n->offset + 1;
        }
        if (after < from) from = after;
    }
    return from == INT64_MAX ? 0 : from;
}

/* Read the changelog partitions of these input partitions to their ends. */
static void read_changelogs(restore *st, const rd_kafka_topic_partition_list_t *parts)
{
    worker *w = st->w;
    char err[512];
    rd_kafka_t *rk = sy_kafka_consumer(&w->kafka, "switchyard-restore", NULL, NULL, err, sizeof err);
    if (!rk) {
        sy_error("changelog: %s", err);
        return;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    int64_t *ends = sy_xcalloc((size_t)parts->cnt + 1, sizeof *ends);
    int todo = 0;
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = changelog_topic(w, parts->elems[i].topic);
        int64_t lo, hi;
        if (!topic || rd_kafka_query_watermark_offsets(rk, topic, parts->elems[i].partition, &lo,
                                                       &hi, 10000) || hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(l, topic, parts->elems[i].partition)->offset = lo;
        ends[l->cnt - 1] = hi;
        todo++;
    }
    rd_kafka_assign(rk, l);
    int64_t deadline = sy_mono_us() + 60 * 1000000LL;
    while (todo > 0 && sy_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) {
            apply(st, m);
            for (int i = 0; i < l->cnt; i++)
                if (l->elems[i].partition == m->partition && ends[i] > 0 && m->offset + 1 >= ends[i] &&
                    !strcmp(l->elems[i].topic, rd_kafka_topic_name(m->rkt))) {
                    ends[i] = 0;
                    todo--;
                }
        }
        rd_kafka_message_destroy(m);
    }
    if (todo > 0) sy_warn("changelog: restore timed out with %d partition(s) unread", todo);
    free(ends);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

void changelog_restore(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    if (!w->opt.changelog || parts->cnt == 0) return;
    int64_t t0 = sy_mono_us();
    restore st = {.w = w, .pending = {.scan_from = scan_start}};
    st.pending.ctx = &st;
    sy_keymap_init(&st.pending.publishing);
    sy_keymap_init(&st.owner_of);
    read_changelogs(&st, parts);
    size_t pending = st.pending.publishing.count, found = pending ? recover_scan(w, &st.pending) : 0;
    if (sy_store_commit(w->store) != 0) {
        sy_error("changelog: cannot store the restored state; stopping");
        exit(1);
    }
    sy_info("changelog: restored %zu of %zu record(s) for %d partition(s) in %" PRId64 " ms; "
            "%zu result(s) were being published, %zu of them found on the output topics",
            st.applied, st.read, parts->cnt, (sy_mono_us() - t0) / 1000, pending, found);
    sy_keymap_free_with(&st.owner_of, free);
    recover_set_free(&st.pending);
    for (size_t i = 0; i < st.nnotes; i++) free(st.notes[i].topic);
    free(st.notes);
}
