/* jobstate.h -- a job's record (store.h) as its run knows it: staged in
 * the store for the next group commit, and mirrored to the changelog.
 * Used by run.c (IN_FLIGHT) and publish.c (PUBLISHING, PUBLISHED); which
 * record a job has at each step is told once, in lifecycle.h. */
#ifndef SY_JOBSTATE_H
#define SY_JOBSTATE_H

#include "worker.h"

/* 0, or -1 when the record is too large for the store (nothing staged). */
int jobstate_put(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset);
/* The same record, mirrored to the changelog (its delivery counted on the
 * run: pending_deliveries). A sync job's PUBLISHING record carries a
 * progress mark, and its PUBLISHED record is then not mirrored
 * (docs/durability.md, "State follows partitions"). */
void jobstate_mirror(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset);

#endif
