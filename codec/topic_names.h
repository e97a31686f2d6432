/* topic_names.h -- the default names of the data path's two fixed topics.
 *
 * Codec layer: part of the contract with what runs outside switchyard
 * (producers submit jobs to the jobs topic; operators read the dead-letter
 * topic). Every command's --jobs-topic / --dlq-topic defaults to these, and
 * the pipeline loader refuses a tier or output topic of either name. Tier and
 * output topics are named by the pipeline (config/pipeline.h). */
#ifndef SY_TOPIC_NAMES_H
#define SY_TOPIC_NAMES_H

#define SY_TOPIC_JOBS "switchyard.jobs"
#define SY_TOPIC_DLQ "switchyard.dlq"
#define SY_TOPIC_SPEND "switchyard.spend" /* budgets: each worker's spend (worker/spend.h) */

#endif
