/* flow.c -- flow control of the intake: how much of a backlog the worker
 * holds, whatever the size of the backlog.
 *
 * Two limits, checked as jobs are taken (step 1 of the loop in worker.c):
 *   --max-jobs                jobs held in total, in flight or waiting
 *   --max-jobs-per-partition  a partition's window: offsets taken since its
 *                             oldest unfinished job. Jobs done above that
 *                             job count too: their offsets cannot be
 *                             committed yet, so they are held (in the
 *                             offsets ring) until it finishes.
 * Over a limit the consumer pauses -- every assigned partition, or just the
 * one over its window -- and resumes below 3/4 of the limit, so it does not
 * flap. A slow or stuck job then holds back only its own partition.
 *
 * A paused partition's prefetched messages are dropped by librdkafka, which
 * fetches again from the next offset on resume; the consumer is polled
 * every turn, paused or not, so the group never thinks the worker is dead
 * (max.poll.interval.ms). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"

static int find(const sy_flow *f, const char *topic, int32_t partition)
{
    for (int i = 0; i < f->n; i++)
        if (f->parts[i].partition == partition && !strcmp(f->parts[i].topic, topic)) return i;
    return -1;
}

/* Pause or resume one partition with the consumer. */
static void apply(worker *w, const char *topic, int32_t partition, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    if (pause) rd_kafka_pause_partitions(w->consumer, l);
    else rd_kafka_resume_partitions(w->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void drop(sy_flow *f, int i)
{
    free(f->parts[i].topic);
    f->parts[i] = f->parts[--f->n];
}

/* All assigned partitions but those paused on their own window. */
static void set_all_paused(worker *w, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->consumer, &parts) || !parts) return;
    for (int i = parts->cnt - 1; i >= 0; i--)
        if (find(&w->flow, parts->elems[i].topic, parts->elems[i].partition) >= 0)
            rd_kafka_topic_partition_list_del_by_idx(parts, i);
    if (pause) rd_kafka_pause_partitions(w->consumer, parts);
    else rd_kafka_resume_partitions(w->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    w->flow.all_paused = pause;
}

void sy_flow_pause_all(worker *w)
{
    set_all_paused(w, true);
}

void sy_flow_check(worker *w)
{
    sy_flow *f = &w->flow;
    if (!f->all_paused && w->held >= w->opt.max_jobs) set_all_paused(w, true);
    else if (f->all_paused && w->held < w->opt.max_jobs * 3 / 4)
        set_all_paused(w, false);
    size_t low = (size_t)w->opt.max_jobs_per_partition * 3 / 4;
    for (int i = f->n - 1; i >= 0; i--) {
        sy_flow_part *p = &f->parts[i];
        if (sy_offsets_window(w->offsets, p->topic, p->partition) >= low) continue;
        sy_debug("flow: %s [%d] resumed", p->topic, (int)p->partition);
        if (!f->all_paused) apply(w, p->topic, p->partition, false);
        f->resumes++;
        drop(f, i);
    }
}

void sy_flow_taken(worker *w, const char *topic, int32_t partition, sy_offset_handle h)
{
    sy_flow *f = &w->flow;
    size_t window = sy_offsets_window_of(w->offsets, h);
    if (window < (size_t)w->opt.max_jobs_per_partition || find(f, topic, partition) >= 0) return;
    sy_debug("flow: %s [%d] paused, %zu offsets since its oldest unfinished job", topic,
             (int)partition, window);
    apply(w, topic, partition, true);
    f->parts = sy_xrealloc(f->parts, (size_t)(f->n + 1) * sizeof *f->parts);
    f->parts[f->n++] = (sy_flow_part){sy_xstrdup(topic), partition};
    f->pauses++;
}

/* librdkafka keeps a partition's pause across a revoke: one paused on its
 * window, revoked and assigned back would never be resumed. So every
 * assigned partition is set explicitly: paused if all are, else running. */
void sy_flow_assigned(worker *w, rd_kafka_topic_partition_list_t *parts)
{
    if (w->flow.all_paused) rd_kafka_pause_partitions(w->consumer, parts);
    else rd_kafka_resume_partitions(w->consumer, parts);
}

void sy_flow_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int at = find(&w->flow, parts->elems[i].topic, parts->elems[i].partition);
        if (at >= 0) drop(&w->flow, at);
    }
}

void sy_flow_free(sy_flow *f)
{
    while (f->n) drop(f, f->n - 1);
    free(f->parts);
}
