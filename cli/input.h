/* input.h -- what `switchyard submit` reads: JSONL lines and CSV rows
 * (RFC 4180) turned into jobs.
 *
 * The first step of the data path, before anything reaches Kafka: each
 * JSONL line is a job object; each CSV row's columns become template
 * variables (but the id, task and metadata columns). Defaults (task,
 * idempotency key column, --metadata) are filled in, and the job is checked
 * with the decoder the scheduler uses. Accepted jobs go to `job`; a bad
 * record goes to `reject` with its FILE:LINE and why. No I/O but reading
 * the FILE given, so the readers are fuzzed directly
 * (tests/fuzz/fuzz_submit.c); submit.c does the producing. */
#ifndef SY_INPUT_H
#define SY_INPUT_H

#include <stdio.h>

#include "job.h"

typedef struct sy_input {
    const char *file;      /* name in messages and in default CSV ids */
    const char *task;      /* for records that name none (may be NULL) */
    const char *task_col;  /* CSV: the task of each row (may be NULL) */
    const char *id_col;    /* CSV: the job id ("id") */
    const char *key_col;   /* the variable used as idempotency key (may be NULL) */
    const char *meta_cols; /* CSV: comma-separated columns that go to metadata */
    const char *const *meta; /* "K=V" added to every job's metadata */
    int nmeta;
    void (*job)(void *ctx, const sy_job *job);
    void (*reject)(void *ctx, const char *where, const char *why);
    void *ctx;
} sy_input;

void sy_input_jsonl(const sy_input *in, FILE *f);
void sy_input_csv(const sy_input *in, FILE *f);

/* An OpenAI Batch API input file (openai_batch_in.c says how a request
 * line maps onto a job). The limits are the Batch API's own. */
#define SY_OPENAI_BATCH_MAX_REQUESTS 50000
#define SY_OPENAI_BATCH_MAX_BYTES (200 << 20)
#define SY_OPENAI_BATCH_MAX_LINE (1 << 20)
void sy_input_openai_batch(const sy_input *in, FILE *f);

/* A job object from any reader: defaults filled (task, key column,
 * --metadata), checked with the job decoder, handed to in->job or
 * rejected at `where`. */
struct json_t;
void sy_input_take(const sy_input *in, struct json_t *job, const char *where);

#endif
