/* recover.c -- start-up after a crash: what was the worker doing?
 *
 * The store lists the keys left unfinished:
 *   IN_FLIGHT   a call may have been in flight at the crash. It is logged
 *               (these are the only calls that can be paid twice) and the
 *               job runs again when Kafka redelivers it. An intent a clean
 *               stop marked no_call_out was only waiting: counted apart.
 *   PUBLISHING  the result was known and may or may not have reached the
 *               output topic. The output partitions are read from the
 *               highest acknowledged offset the store noted; a result found
 *               there (same key, same source message) is marked PUBLISHED
 *               and will not be published again. The others are published
 *               from the store when their job is redelivered.
 * This closes the window between the broker's acknowledgement of a result
 * and the store's note of it, without relying on Kafka transactions.
 *
 * The output scan is a step function (recover_scan_step reads what has
 * arrived and returns), so that the changelog restore after an assignment
 * runs it as loop work while calls in flight go on; at start-up, with
 * nothing in flight yet, recover_unfinished drives it to its end.
 * A result found is mirrored through the set's `found` hook (the changelog,
 * given by the caller: this file calls no other module of the shell). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"
#include "recover.h"

void recover_want(recover_set *u, const char *key, const sy_job_record *rec)
{
    char source[300];
    snprintf(source, sizeof source, "%s/%d/%lld", rec->src_topic, (int)rec->src_partition,
             (long long)rec->src_offset);
    free(sy_keymap_del(&u->publishing, key));
    sy_keymap_put(&u->publishing, key, sy_xstrdup(source));
    for (size_t i = 0; i < u->nout; i++)
        if (!strcmp(u->out_topics[i], rec->out_topic)) return;
    u->out_topics = sy_xrealloc(u->out_topics, (u->nout + 1) * sizeof(char *));
    u->out_topics[u->nout++] = sy_xstrdup(rec->out_topic);
}

void recover_set_free(recover_set *u)
{
    sy_keymap_free_with(&u->publishing, free);
    for (size_t i = 0; i < u->nout; i++) free(u->out_topics[i]);
    free(u->out_topics);
    memset(u, 0, sizeof *u);
}

static void collect(void *ctx, const char *key, const sy_job_record *rec)
{
    recover_set *u = ctx;
    if (rec->state == SY_STATE_IN_FLIGHT && rec->no_call_out) {
        u->waiting++;
        sy_debug("recovery: job was waiting at the last stop, no call out: key=%s", key);
        return;
    }
    if (rec->state == SY_STATE_IN_FLIGHT) {
        u->in_flight++;
        size_t task_len;
        const char *idem = sy_store_key_split(key, &task_len);
        sy_info("recovery: call may have been in flight at the last stop: key=%s task=%.*s attempt=%u "
                "model=%s", idem, (int)task_len, key, rec->attempts, rec->model);
        return;
    }
    recover_want(u, key, rec);
}

static bool header_is(const rd_kafka_message_t *m, const char *name, const char *want)
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n)) return false;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

/* A result found on the output topic, under store key `key`: PUBLISHED. */
static int mark_found_as(worker *w, recover_set *u, const rd_kafka_message_t *m, const char *key)
{
    char *source = sy_keymap_get(&u->publishing, key);
    if (!source || !header_is(m, "switchyard.source", source)) return 0;
    sy_job_record rec;
    if (!sy_store_get(w->store, key, &rec, &w->record_scratch)) return 0;
    rec.state = SY_STATE_PUBLISHED;
    rec.out_partition = m->partition;
    rec.out_offset = m->offset;
    sy_store_put(w->store, key, &rec);
    if (u->found) u->found(w, key, &rec, NULL); /* the next owner need not look again */
    free(sy_keymap_del(&u->publishing, key));
    return 1;
}

/* A result is keyed by its idempotency key; the store knows it under its
 * task's key (a task writing to this topic), or, from an older store,
 * under the bare key. */
static int mark_found(worker *w, recover_set *u, const rd_kafka_message_t *m)
{
    char key[1024];
    if (!m->key || m->key_len >= sizeof key) return 0;
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    if (mark_found_as(w, u, m, key)) return 1;
    const char *topic = rd_kafka_topic_name(m->rkt);
    sy_buf skey;
    sy_buf_init(&skey);
    int found = 0;
    for (size_t i = 0; !found && i < w->cfg->ntasks; i++)
        if (!strcmp(w->cfg->tasks[i]->output_topic, topic))
            found = mark_found_as(w, u, m, sy_store_key(&skey, w->cfg->tasks[i]->name, key));
    sy_buf_free(&skey);
    return found;
}

typedef struct part_end {
    const char *topic;
    int32_t partition;
    bool done; /* its EOF came */
} part_end;

/* Assign every partition of the output topics from the scan start on;
 * returns how many. Their ends are known from their EOF events (no
 * watermark query: each would be a blocking round trip); a start past the
 * end (a topic made again) falls back to the earliest offset. The one
 * metadata request per output topic is the only wait: asked of `meta`,
 * the worker's producer, whose connections are up (the scan's new
 * consumer would first connect: three round trips, not one). */
static int assign_outputs(recover_set *u, rd_kafka_t *rk, rd_kafka_t *meta, part_end *ends, int max)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    int n = 0;
    for (size_t t = 0; t < u->nout; t++) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(meta, u->out_topics[t], NULL);
        if (rd_kafka_metadata(meta, 0, rkt, &md, 10000) == 0 && md->topic_cnt == 1) {
            for (int p = 0; p < md->topics[0].partition_cnt && n < max; p++) {
                int64_t from = u->scan_from(u->ctx, u->out_topics[t], p);
                rd_kafka_topic_partition_list_add(l, u->out_topics[t], p)->offset =
                    from > 0 ? from : RD_KAFKA_OFFSET_BEGINNING;
                ends[n++] = (part_end){.topic = u->out_topics[t], .partition = p};
            }
        }
        if (md) rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return n;
}

/* m is an EOF: mark its partition read to its end; returns 1 when it was
 * not yet. */
static int part_done(part_end *ends, int parts, const rd_kafka_message_t *m)
{
    for (int i = 0; i < parts; i++)
        if (!ends[i].done && ends[i].partition == m->partition &&
            !strcmp(ends[i].topic, rd_kafka_topic_name(m->rkt))) {
            ends[i].done = true;
            return 1;
        }
    return 0;
}

/* A read_committed consumer never sees the last offsets of a partition
 * when they hold transaction markers (--transactions on a real Kafka), or
 * results of a transaction still open: the end of the partition is then
 * known from its EOF event. */
static rd_kafka_t *scan_consumer(worker *w, char *err, size_t errlen)
{
    sy_kafka_opts o = w->kafka;
    if (o.nprops < SY_MAX_PROPS) o.props[o.nprops++] = "enable.partition.eof=true";
    return sy_kafka_consumer(&o, "switchyard-recovery", NULL, NULL, err, errlen);
}

struct recover_scan {
    worker *w;
    recover_set *u;
    rd_kafka_t *rk;
    part_end *ends;
    int parts;
    size_t found, done_parts, read;
    int64_t deadline_us;
};

enum { MAX_PARTS = 1024, SCAN_BATCH = 2000 };

recover_scan *recover_scan_start(worker *w, recover_set *u, int wake_fd)
{
    char err[512];
    recover_scan *sc = sy_xcalloc(1, sizeof *sc);
    *sc = (recover_scan){.w = w, .u = u, .deadline_us = sy_mono_us() + 60 * 1000000LL};
    sc->rk = u->publishing.count ? scan_consumer(w, err, sizeof err) : NULL;
    if (u->publishing.count && !sc->rk) sy_error("recovery: %s", err);
    if (!sc->rk) return sc; /* nothing to read */
    if (wake_fd >= 0) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(sc->rk);
        rd_kafka_queue_io_event_enable(q, wake_fd, "r", 1);
        rd_kafka_queue_destroy(q);
    }
    sc->ends = sy_xcalloc(MAX_PARTS, sizeof(part_end));
    sc->parts = assign_outputs(u, sc->rk, w->producer ? w->producer : sc->rk, sc->ends, MAX_PARTS);
    return sc;
}

bool recover_scan_step(recover_scan *sc, int wait_ms)
{
    for (int n = 0; sc->done_parts < (size_t)sc->parts && n < SCAN_BATCH; n++) {
        if (sy_mono_us() >= sc->deadline_us) {
            sy_warn("recovery: output scan timed out");
            return true;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sc->rk, n ? 0 : wait_ms);
        if (!m) return false;
        if (!m->err) {
            sc->read++;
            sc->found += (size_t)mark_found(sc->w, sc->u, m);
        }
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sc->done_parts += (size_t)part_done(sc->ends, sc->parts, m);
        rd_kafka_message_destroy(m);
    }
    return sc->done_parts >= (size_t)sc->parts;
}

size_t recover_scan_end(recover_scan *sc)
{
    size_t found = sc->found;
    if (sc->rk) {
        sy_info("recovery: read %zu output message(s) in %d partition(s)", sc->read, sc->parts);
        sy_reaper_close(&sc->w->reaper, sc->rk); /* closing waits on the network */
    }
    free(sc->ends);
    free(sc);
    return found;
}

/* This worker's own results come after the output offsets it noted. */
static int64_t after_noted(void *ctx, const char *topic, int32_t partition)
{
    return sy_store_output_noted(((worker *)ctx)->store, topic, partition) + 1;
}

int recover_unfinished(worker *w, recover_found_fn found_hook)
{
    recover_set u = {.scan_from = after_noted, .ctx = w, .found = found_hook};
    sy_keymap_init(&u.publishing);
    sy_store_each_unfinished(w->store, collect, &u);
    size_t publishing = u.publishing.count, found = 0;
    if (publishing) { /* before the intake: nothing is in flight, waiting blocks nobody */
        recover_scan *sc = recover_scan_start(w, &u, -1);
        while (!recover_scan_step(sc, 200)) {
        }
        found = recover_scan_end(sc);
    }
    if (sy_store_commit(w->store) != 0) {
        recover_set_free(&u);
        return -1;
    }
    sy_info("recovery: %zu call(s) may have been in flight; %zu job(s) were waiting with no "
            "call out; %zu result(s) were being published, %zu of them found on the output "
            "topics; %zu key(s) in the store",
            u.in_flight, u.waiting, publishing, found, sy_store_count(w->store));
    recover_set_free(&u);
    return 0;
}
