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
 * A third reason to pause: a partition just assigned is held while its
 * state is restored from the changelog (changelog.c), so that none of its
 * jobs is taken before the store knows what was answered. Holds are
 * tagged by their restore; a revoke drops the partition's holds.
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
#include "flow.h"

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

static bool held(const sy_flow *f, const char *topic, int32_t partition)
{
    for (int i = 0; i < f->nholds; i++)
        if (f->holds[i].partition == partition && !strcmp(f->holds[i].topic, topic)) return true;
    return false;
}

/* All assigned partitions but those paused on their own window (and, to
 * resume, but those held). */
static void set_all_paused(worker *w, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->consumer, &parts) || !parts) return;
    for (int i = parts->cnt - 1; i >= 0; i--)
        if (find(&w->flow, parts->elems[i].topic, parts->elems[i].partition) >= 0 ||
            (!pause && held(&w->flow, parts->elems[i].topic, parts->elems[i].partition)))
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
        if (!f->all_paused && !held(f, p->topic, p->partition)) apply(w, p->topic, p->partition, false);
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
    for (int i = 0; i < parts->cnt; i++)
        apply(w, parts->elems[i].topic, parts->elems[i].partition,
              w->flow.all_paused || held(&w->flow, parts->elems[i].topic, parts->elems[i].partition));
}

static void drop_hold(sy_flow *f, int i)
{
    free(f->holds[i].topic);
    f->holds[i] = f->holds[--f->nholds];
}

void sy_flow_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int at = find(&w->flow, parts->elems[i].topic, parts->elems[i].partition);
        if (at >= 0) drop(&w->flow, at);
        for (int h = w->flow.nholds - 1; h >= 0; h--)
            if (w->flow.holds[h].partition == parts->elems[i].partition &&
                !strcmp(w->flow.holds[h].topic, parts->elems[i].topic))
                drop_hold(&w->flow, h);
    }
}

void sy_flow_hold(worker *w, const rd_kafka_topic_partition_list_t *parts, const void *tag)
{
    sy_flow *f = &w->flow;
    f->holds = sy_xrealloc(f->holds, (size_t)(f->nholds + parts->cnt) * sizeof *f->holds);
    for (int i = 0; i < parts->cnt; i++) {
        f->holds[f->nholds++] = (sy_flow_hold_t){sy_xstrdup(parts->elems[i].topic), parts->elems[i].partition, tag};
        apply(w, parts->elems[i].topic, parts->elems[i].partition, true);
    }
}

/* The partitions held by tag run again, unless something else keeps them
 * paused (all paused, their own window, another hold). */
void sy_flow_release(worker *w, const void *tag)
{
    sy_flow *f = &w->flow;
    for (int h = f->nholds - 1; h >= 0; h--) {
        if (f->holds[h].tag != tag) continue;
        char *topic = f->holds[h].topic;
        int32_t partition = f->holds[h].partition;
        f->holds[h] = f->holds[--f->nholds];
        if (!f->all_paused && !held(f, topic, partition) && find(f, topic, partition) < 0)
            apply(w, topic, partition, false);
        free(topic);
    }
}

void sy_flow_free(sy_flow *f)
{
    while (f->n) drop(f, f->n - 1);
    free(f->parts);
    while (f->nholds) drop_hold(f, f->nholds - 1);
    free(f->holds);
}
