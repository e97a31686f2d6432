/* adapters.h -- what the provider modules (openai.c, anthropic.c) share
 * from common.c: header and JSON readers, the request body's turns, and
 * the provider-independent reading of error statuses. The modules are
 * reached only through their tables (provider.h, kinds.c), never by name. */
#ifndef SY_ADAPTERS_H
#define SY_ADAPTERS_H

#include "jscan.h"
#include "provider.h"

/* A usage token count: an integer held to 0..SY_MAX_USAGE_TOKENS (any
 * number of digits), 0 for a negative, a fraction, an exponent or no
 * number at all. */
int64_t sy_usage_tokens(sy_jspan v);
/* Header value as a non-negative integer (held at SY_PROVIDER_MAX_COUNT),
 * -1 when absent or not a number. */
int64_t sy_header_int(const sy_headers *h, const char *name);
/* Reset times in ms from now, -1 when absent or malformed. */
int64_t sy_reset_from_rfc3339(const sy_headers *h, const char *name);
int64_t sy_reset_from_go(const sy_headers *h, const char *name);
/* The names of a provider's rate-limit headers, and how its resets read. */
typedef struct {
    const char *limit_requests, *remaining_requests, *reset_requests;
    const char *limit_tokens, *remaining_tokens, *reset_tokens;
    int64_t (*reset_ms)(const sy_headers *h, const char *name);
} sy_limit_headers;
void sy_read_limits(const sy_headers *h, const sy_limit_headers *names, sy_ratelimit_info *rl);
/* HTTP status and the provider's error type/code/message -> error class,
 * as the OpenAI and Anthropic SDKs read them (a module's .classify). */
sy_err_class sy_status_class(int status, const char *type, const char *code, const char *message);
/* Write the "messages" array of chat turns (shared JSON shape), led by a
 * system turn when system is not NULL. */
void sy_write_turns(sy_buf *b, const char *system, const sy_msg *msgs, size_t n);
/* A string value as a new malloc'd text (NULL if not a string). */
char *sy_js_strdup(sy_jspan v);
/* Mark the outcome malformed, saying what was wrong. */
void sy_outcome_malformed(sy_outcome *out, const char *what);

#endif
