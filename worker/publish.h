/* publish.h -- the end of a job's path: its result and dead letters on
 * Kafka (publish.c). Called by run.c only, as effects of the job's state
 * machine (lifecycle.h); nothing here calls back: what happened is
 * returned. */
#ifndef SY_PUBLISH_H
#define SY_PUBLISH_H

#include "worker.h"

/* STAGE_RESULT: encode the run's result (from r->last) and stage its
 * PUBLISHING record. 0, or 1 when an ok result is larger than the store
 * keeps (nothing staged: publish_too_large, then stage again). */
int publish_stage_result(sy_run *r);
/* The run's outcome becomes response_too_large, saying why. */
void publish_too_large(sy_run *r);
/* A stored result (rec), restamped for this run: the same message again
 * (replay) or a resubmitted key (dedup). 0, or -1 when it is unreadable. */
int publish_restamp(sy_run *r, const sy_job_record *rec, sy_answer answer);
/* PRODUCE_RESULT: the result, then a freshly failed job's dead letter.
 * Returns 0; or the client's error when it refused the result for good
 * (the caller reports RESULT_REFUSED; no dead letter went out); or
 * RD_KAFKA_RESP_ERR__FATAL with the reason in *e (nothing went out: the
 * producer is dead, the store keeps the result for the next owner). */
int publish_produce_result(sy_run *r, sy_werr *e);
/* PRODUCE_DEAD_LETTER: one dead letter of the run (pending_deliveries
 * counts it when it went out). */
void publish_dead_letter(sy_run *r, sy_err_class c, const char *why);
/* The reason a refused result's dead letter gives. */
void publish_refused_why(const sy_run *r, int err, char *why, size_t len);
/* CLOSE_RECORD: PUBLISHED with no output offset (the job's own record
 * only), so neither a redelivery nor a restart tries again. */
void publish_close_record(sy_run *r);
/* NOTE_PUBLISHED: the result is on the output topic at partition/offset. */
void publish_note_published(sy_run *r, int32_t partition, int64_t offset);
/* MIRROR: PUBLISHING to the changelog; true when its ack is awaited. */
bool publish_mirror(sy_run *r);
/* Is m this run's own result (not a deduplicated answer)? */
bool publish_is_result(const sy_run *r, const rd_kafka_message_t *m);
/* A failed delivery, produced again while its error may pass (at most
 * SY_PRODUCE_RETRIES times per run). True when it is in flight again. */
bool publish_produce_again(sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m);

/* What takes the place of a message refused for good, or failed past its
 * retries. */
typedef enum publish_substitute_kind {
    SY_SUB_NONE,      /* settled without one (a changelog record: logged) */
    SY_SUB_IN_FLIGHT, /* a truncated dead letter is out in its place */
    SY_SUB_RESULT,    /* it is the run's result: RESULT_REFUSED */
} publish_substitute_kind;
publish_substitute_kind publish_substitute(worker *w, sy_run *r, rd_kafka_t *rk,
                                           const rd_kafka_message_t *m);

#endif
