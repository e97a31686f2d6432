/* spend.h -- budgets in a running worker: the spend topic read and written,
 * and the two hooks run.c calls (a check before each attempt, the cost
 * after each answer).
 *
 * The rules and the ledger are budget_rules.h (pure); here is the I/O:
 * at start the spend topic (SY_TOPIC_SPEND, compacted) is read to its end
 * before any job is taken, then polled every loop turn; each cost is added
 * to this worker's share and its new share produced at once. The bound on
 * overshoot: a worker checks before every attempt, so past the limit it
 * starts nothing more; what it had in flight then still lands (one
 * in-flight window per worker), and so does what other workers started
 * before its newest share reached them (a produce and a fetch: at most one
 * more window each when calls end together).
 * docs/durability.md, "Budgets". Worker layer. */
#ifndef SY_SPEND_H
#define SY_SPEND_H

#include <stddef.h>

#include "budget_rules.h"
#include "kafka.h"
#include "pipeline.h"

#define SY_SPEND_HOLD_MS 1000 /* a held job looks again this often */

typedef struct sy_spend sy_spend;

/* Read the spend topic to its end (at most wait_ms) and be ready to count.
 * NULL with a reason in err when Kafka or the topic cannot be read. */
sy_spend *sy_spend_open(const sy_kafka_opts *k, const sy_config *cfg, const char *topic, int wait_ms,
                        char *err, size_t errlen);
/* The consumer's queue (to wake the loop on new records). */
rd_kafka_queue_t *sy_spend_queue(sy_spend *s);
/* Take the records that arrived, serve the producer; never blocks. */
void sy_spend_poll(sy_spend *s);
/* The budget that stops this job now (spent), or NULL. */
const sy_budget *sy_spend_check(const sy_spend *s, const sy_job *job);
/* One answer of this job cost usd: count it in every budget the job falls
 * under, and publish the new shares. */
void sy_spend_add(sy_spend *s, const sy_job *job, double usd);
/* Flush the shares (a few seconds at most) and close. NULL is fine. */
void sy_spend_close(sy_spend *s);

/* The pipelines were reloaded (worker/reload.h): the budgets are the same
 * ones (config/cfgreload.h refuses a reload that adds or removes one). */
void sy_spend_set_config(sy_spend *s, const sy_config *cfg);

#endif
