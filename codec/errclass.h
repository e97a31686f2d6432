/* errclass.h -- the error classes every layer uses to talk about failures.
 *
 * Codec layer: a class is part of the wire contract (a failed result's
 * error.class, a dead letter's switchyard.error.class header), and the
 * worker decides retries and fallbacks by it. */
#ifndef SY_ERRCLASS_H
#define SY_ERRCLASS_H

#include <stdbool.h>

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
    SY_ERR_OUTPUT_INVALID,   /* the answer does not validate against the task's
                                output schema or label set (jschema.h): retried */
    SY_ERR_BUDGET_EXCEEDED,  /* a budget of one of its tags is spent (config/budget.h) */
    SY_ERR_TLS,              /* the provider's certificate is not trusted: not retried */
    SY_ERR_COUNT
} sy_err_class;

const char *sy_err_class_name(sy_err_class c); /* "rate_limited", ... */
bool sy_err_retryable(sy_err_class c);

#endif
