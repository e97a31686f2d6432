/* recover.h -- what recover.c offers: the start-up look at unfinished records, and the
 * scan of output partitions for results that may already be out (the
 * changelog restore runs the same scan as loop work). Where it sits:
 * docs/durability.md, "after a crash" */
#ifndef SY_RECOVER_H
#define SY_RECOVER_H

#include "worker.h"

/* A result found on an output topic was noted PUBLISHED: tell the changelog
 * (changelog_mirror fits; recover.c calls no other module itself). */
typedef void (*recover_found_fn)(worker *w, const char *key, const sy_job_record *rec, sy_run *r);
typedef struct recover_set {
    sy_keymap publishing; /* key -> "topic/partition/offset" of its source (malloc'd) */
    char **out_topics;    /* their output topics */
    size_t nout;
    size_t in_flight;
    size_t waiting; /* IN_FLIGHT intents a clean stop marked no_call_out */
    /* where to start reading an output partition (below its start: from the start) */
    int64_t (*scan_from)(void *ctx, const char *topic, int32_t partition);
    void *ctx;
    recover_found_fn found; /* or NULL */
} recover_set;
/* Start-up, before the intake (blocks until the scan ends): -1 when the
 * store cannot commit (fatal). */
int recover_unfinished(worker *w, recover_found_fn found);
void recover_want(recover_set *u, const char *key, const sy_job_record *rec);
/* Reading the output partitions, one step at a time; keys found there
 * become PUBLISHED. Events of its consumer write to wake_fd (-1: none). */
typedef struct recover_scan recover_scan;
recover_scan *recover_scan_start(worker *w, recover_set *u, int wake_fd);
/* Read what has arrived (waiting up to wait_ms for the first); true when
 * every partition was read to its end (or the scan timed out). */
bool recover_scan_step(recover_scan *sc, int wait_ms);
/* Ends the scan; returns how many keys were found. */
size_t recover_scan_end(recover_scan *sc);
void recover_set_free(recover_set *u);

#endif
