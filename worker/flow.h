/* flow.h -- what flow.c offers: pausing the intake over --max-jobs or a partition's
 * window (bounded memory), and holding partitions whose state is being
 * restored */
#ifndef SY_FLOW_H
#define SY_FLOW_H

#include "worker.h"

void sy_flow_check(worker *w);                                  /* each turn */
/* a job was taken (h: its offset) */
void sy_flow_taken(worker *w, const char *topic, int32_t partition, sy_offset_handle h);
void sy_flow_pause_all(worker *w);                              /* shutting down */
void sy_flow_assigned(worker *w, rd_kafka_topic_partition_list_t *parts);
void sy_flow_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts);
/* Keep these partitions paused until sy_flow_release(w, tag). */
void sy_flow_hold(worker *w, const rd_kafka_topic_partition_list_t *parts, const void *tag);
void sy_flow_release(worker *w, const void *tag);
void sy_flow_free(sy_flow *f);

#endif
