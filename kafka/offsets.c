/* offsets.c -- see offsets.h. Each partition's FIFO is a power-of-two ring
 * indexed by sequence number, so marking done and advancing the prefix are
 * O(1) and no memory is allocated per job once the ring has grown. */
#include "offsets.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    int64_t offset;
    bool done;
} slot;

typedef struct part_state {
    char *topic;
    int32_t partition;
    slot *ring;
    uint64_t mask;      /* ring size - 1 */
    uint64_t head;      /* first seq not yet done */
    uint64_t tail;      /* next seq to hand out */
    int64_t next;       /* committable position: offset after the done prefix */
    int64_t committed;  /* last position we committed */
} part_state;

struct sy_offsets {
    part_state *parts;
    size_t nparts;
    size_t pending;
};

sy_offsets *sy_offsets_new(void)
{
    return sy_xcalloc(1, sizeof(sy_offsets));
}

void sy_offsets_free(sy_offsets *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->nparts; i++) {
        free(o->parts[i].topic);
        free(o->parts[i].ring);
    }
    free(o->parts);
    free(o);
}

static uint32_t find_part(sy_offsets *o, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < o->nparts; i++)
        if (o->parts[i].partition == partition && !strcmp(o->parts[i].topic, topic))
            return (uint32_t)i;
    o->parts = sy_xrealloc(o->parts, (o->nparts + 1) * sizeof(part_state));
    part_state *p = &o->parts[o->nparts];
    memset(p, 0, sizeof *p);
    p->topic = sy_xstrdup(topic);
    p->partition = partition;
    p->mask = 63;
    p->ring = sy_xcalloc(64, sizeof(slot));
    p->next = p->committed = -1;
    return (uint32_t)o->nparts++;
}

static void grow_ring(part_state *p)
{
    uint64_t size = (p->mask + 1) * 2;
    slot *ring = sy_xcalloc(size, sizeof(slot));
    for (uint64_t s = p->head; s < p->tail; s++) ring[s & (size - 1)] = p->ring[s & p->mask];
    free(p->ring);
    p->ring = ring;
    p->mask = size - 1;
}

sy_offset_handle sy_offsets_track(sy_offsets *o, const char *topic, int32_t partition,
                                  int64_t offset)
{
    uint32_t i = find_part(o, topic, partition);
    part_state *p = &o->parts[i];
    if (p->tail - p->head > p->mask) grow_ring(p);
    slot *s = &p->ring[p->tail & p->mask];
    s->offset = offset;
    s->done = false;
    o->pending++;
    return (sy_offset_handle){.part = i, .seq = p->tail++};
}

void sy_offsets_done(sy_offsets *o, sy_offset_handle h)
{
    if (h.part >= o->nparts) return;
    part_state *p = &o->parts[h.part];
    if (h.seq < p->head || h.seq >= p->tail) return; /* revoked meanwhile */
    slot *s = &p->ring[h.seq & p->mask];
    if (s->done) return;
    s->done = true;
    o->pending--;
    while (p->head < p->tail && p->ring[p->head & p->mask].done) {
        p->next = p->ring[p->head & p->mask].offset + 1;
        p->head++;
    }
}

static const part_state *lookup(const sy_offsets *o, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < o->nparts; i++)
        if (o->parts[i].partition == partition && !strcmp(o->parts[i].topic, topic))
            return &o->parts[i];
    return NULL;
}

size_t sy_offsets_window_of(const sy_offsets *o, sy_offset_handle h)
{
    if (h.part >= o->nparts) return 0;
    return (size_t)(o->parts[h.part].tail - o->parts[h.part].head);
}

size_t sy_offsets_window(const sy_offsets *o, const char *topic, int32_t partition)
{
    const part_state *p = lookup(o, topic, partition);
    return p ? (size_t)(p->tail - p->head) : 0;
}

int64_t sy_offsets_done_below(const sy_offsets *o, sy_offset_handle h)
{
    return h.part < o->nparts ? o->parts[h.part].next : -1;
}

size_t sy_offsets_pending_total(const sy_offsets *o)
{
    return o->pending;
}

size_t sy_offsets_unfinished(const sy_offsets *o, const char *topic, int32_t partition)
{
    const part_state *p = lookup(o, topic, partition);
    size_t n = 0;
    for (uint64_t s = p ? p->head : 0; p && s < p->tail; s++) n += !p->ring[s & p->mask].done;
    return n;
}

rd_kafka_topic_partition_list_t *sy_offsets_take(sy_offsets *o)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < o->nparts; i++) {
        part_state *p = &o->parts[i];
        if (p->next < 0 || p->next == p->committed) continue;
        if (!l) l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->next;
        p->committed = p->next;
    }
    return l;
}

void sy_offsets_untake(sy_offsets *o)
{
    for (size_t i = 0; i < o->nparts; i++) o->parts[i].committed = -1;
}

/* rd_kafka_commit(..., sync) waits for the group coordinator without a
 * limit: with the broker gone, a stopping worker never exited. So the
 * answer is awaited on a queue of our own, for at most timeout_ms. */
static rd_kafka_resp_err_t commit_waiting(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l,
                                          int timeout_ms)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(rk, l, q, NULL, NULL);
    int64_t until = sy_mono_us() + (int64_t)timeout_ms * 1000;
    if (!e) e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    while (e == RD_KAFKA_RESP_ERR__TIMED_OUT && sy_mono_us() < until) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT)
            e = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (ev) rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return e;
}

int sy_offsets_commit(sy_offsets *o, rd_kafka_t *consumer, bool async)
{
    rd_kafka_topic_partition_list_t *l = sy_offsets_take(o);
    if (!l) return 0;
    int n = l->cnt;
    rd_kafka_resp_err_t e = async ? rd_kafka_commit(consumer, l, 1)
                                  : commit_waiting(consumer, l, SY_OFFSETS_SYNC_MS);
    rd_kafka_topic_partition_list_destroy(l);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        sy_warn("offset commit failed: %s", rd_kafka_err2str(e));
        return async ? n : -1;
    }
    return n;
}

void sy_offsets_revoke(sy_offsets *o, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < o->nparts; i++) {
        part_state *p = &o->parts[i];
        if (p->partition != partition || strcmp(p->topic, topic)) continue;
        for (uint64_t s = p->head; s < p->tail; s++)
            if (!p->ring[s & p->mask].done) o->pending--;
        p->head = p->tail;
        p->next = p->committed = -1;
    }
}
