/* result.h -- the result of a job, as published on the task's output topic.
 *
 * Codec layer. Format per pipeline task: msgpack (default) or JSON; both
 * carry the same map, documented in schemas/result.schema.json. The error
 * classes a failed result names are errclass.h's; answering again from a
 * stored result is result_restamp.h; any msgpack to JSON is msgpack_json.h. */
#ifndef SY_RESULT_H
#define SY_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errclass.h"
#include "job.h"

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
    const float *embedding;   /* an embedding task's vector (NULL: none), in the
                                 result as `embedding`: msgpack float32s, JSON numbers */
    size_t nembedding;
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
    const char *batch_id;     /* the provider batch that carried it (batch tiers); NULL: none, key left out */
} sy_result;

/* Encode in the given format (appends to out). */
void sy_result_encode(const sy_result *r, sy_format fmt, sy_buf *out);

#endif
