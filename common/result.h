/* result.h -- the result of a job, as published on the task's output topic,
 * and the error classes every layer uses to talk about failures.
 *
 * Format per pipeline task: msgpack (default) or JSON; both carry the same
 * map, documented in schemas/result.schema.json. */
#ifndef SY_RESULT_H
#define SY_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "job.h"

typedef enum sy_err_class {
    SY_ERR_NONE = 0,
    SY_ERR_RATE_LIMITED,     /* 429 rate_limit_exceeded / rate_limit_error */
    SY_ERR_OVERLOADED,       /* 529, 503 */
    SY_ERR_SERVER,           /* other 5xx, 408, 409 */
    SY_ERR_TIMEOUT,          /* no answer within the attempt timeout */
    SY_ERR_CONNECTION,       /* connect/reset/DNS failures */
    SY_ERR_MALFORMED,        /* provider answered 2xx with a body we cannot read */
    SY_ERR_BAD_REQUEST,      /* 400, 413, 422: never retried */
    SY_ERR_AUTH,             /* 401, 403 */
    SY_ERR_NOT_FOUND,        /* 404 (unknown model) */
    SY_ERR_QUOTA,            /* insufficient_quota, 402 billing */
    SY_ERR_CONTEXT_WINDOW,   /* prompt does not fit the model */
    SY_ERR_REFUSED,          /* content filter / refusal */
    SY_ERR_INVALID_JOB,      /* malformed job (decode failed) */
    SY_ERR_UNKNOWN_TASK,     /* task not in any pipeline */
    SY_ERR_RENDER,           /* template variable missing */
    SY_ERR_OUTPUT_PARSE,     /* task wants JSON, model answered something else */
    SY_ERR_EXPIRED,          /* job deadline passed */
    SY_ERR_CIRCUIT_OPEN,     /* attempt skipped: the model's breaker is open */
    SY_ERR_ACCOUNT_COOLDOWN, /* attempt skipped: the account is cooling down */
    SY_ERR_UNPUBLISHABLE,    /* the Kafka client refused the result (too large, ...) */
    SY_ERR_RESPONSE_TOO_LARGE, /* answer over --max-answer-bytes / --max-header-bytes,
                                  or too large for the state store: not retried */
    SY_ERR_UNROUTABLE,       /* the Kafka client refused the job on its tier topic */
    SY_ERR_COUNT
} sy_err_class;

const char *sy_err_class_name(sy_err_class c); /* "rate_limited", ... */
bool sy_err_retryable(sy_err_class c);

/* Result format of an output topic. */
typedef enum sy_format { SY_FORMAT_MSGPACK = 0, SY_FORMAT_JSON = 1 } sy_format;

/* What the usage says beyond the input and output counts (each a part of
 * them), and whether the counts were estimated locally because the answer
 * carried no usage (worker/providers/estimate.c says how). In the result
 * as tokens.cached_in, cache_write_in, reasoning_out (when not 0) and
 * tokens.estimated (when true). */
typedef struct sy_usage_detail {
    int64_t cached_in;      /* of tokens_in: read from the provider's prompt cache */
    int64_t cache_write_in; /* of tokens_in: written to it (Anthropic) */
    int64_t reasoning_out;  /* of tokens_out: reasoning tokens */
    bool estimated;         /* counted locally: no usage in the answer */
} sy_usage_detail;

/* Add b's counts to a (held at INT64_MAX / 4), estimated if either was. */
void sy_usage_detail_add(sy_usage_detail *a, const sy_usage_detail *b);

/* One attempt of a job, as the result records it. */
typedef struct sy_attempt_note {
    const char *model;    /* alias */
    sy_err_class error;   /* SY_ERR_NONE: answered; CIRCUIT_OPEN/ACCOUNT_COOLDOWN: not sent */
    int http_status;      /* 0 when none */
    int64_t latency_ms;
} sy_attempt_note;

typedef struct sy_result {
    const char *job_id;
    const char *task;
    const char *idempotency_key;
    bool ok;                  /* status: "ok" | "failed" */
    bool deduplicated;        /* answered from the idempotency store */
    const char *output;       /* model's text (NULL when failed) */
    const char *output_json;  /* the text itself when the task parses JSON and
                                 it parsed; embedded as a value, not a string */
    const char *provider;     /* provider name from the pipeline */
    const char *model;        /* model alias that answered (or last tried) */
    const char *model_name;   /* provider's model name */
    const char *tier;
    const char *prompt_id;
    int prompt_version;
    int attempts;
    int64_t tokens_in;
    int64_t tokens_out;
    sy_usage_detail usage;    /* parts of tokens_in/out, estimated or not */
    double cost_usd;
    int64_t latency_ms;       /* first attempt sent -> final answer */
    sy_err_class error_class; /* when failed */
    const char *error_message;
    int http_status;          /* last HTTP status, 0 if none */
    const char *strategy;     /* the tier's, and why the first model was chosen */
    const char *route_reason;
    const sy_attempt_note *history; /* every attempt in order (the first ones if many) */
    size_t nhistory;
    const sy_kv *metadata;    /* echoed from the job */
    size_t nmetadata;
    int64_t finished_ms;      /* unix ms */
} sy_result;

/* Encode in the given format (appends to out). */
void sy_result_encode(const sy_result *r, sy_format fmt, sy_buf *out);

/* Convert any msgpack object (such as an encoded result) to one line of JSON;
 * returns -1 on malformed msgpack. Used by `switchyard results`. */
int sy_msgpack_to_json(const void *data, size_t len, sy_buf *out);

/* Re-encode a stored (msgpack) result for publishing again: with job_id
 * replaced (when not NULL) and, when dedup, `deduplicated: true`; in the
 * given format (appends to out). Returns -1 if the stored bytes are not a
 * msgpack map. See result_restamp.c. */
/* Is the stored (msgpack) result one of task `task`? false when unreadable. */
bool sy_result_task_is(const void *stored, size_t len, const char *task);
int sy_result_restamp(const void *stored, size_t len, const char *job_id, bool dedup,
                      sy_format fmt, sy_buf *out);

#endif
