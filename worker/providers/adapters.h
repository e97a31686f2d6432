/* adapters.h -- what the provider modules (openai.c, anthropic.c,
 * azure.c) share: from common.c header and JSON readers, the request
 * body's turns and members (through a provider's parameter mapping), the
 * provider-independent reading of error statuses; from openai.c the
 * OpenAI body and answer, which azure.c speaks too. The modules are
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
/* Write the array of chat turns (the value of "messages", shared JSON
 * shape), led by a system turn when system is not NULL. */
void sy_write_turns(sy_buf *b, const char *system, const sy_msg *msgs, size_t n);
/* A request body's top-level members, written through the provider's
 * parameter mapping (options drop_params, rename_params): sy_body_key
 * writes the member's name (renamed) and returns true, or returns false
 * (write nothing) when the parameter is dropped. */
typedef struct sy_body {
    sy_buf *b;
    const char *drop, *rename; /* option texts, NULL when not given */
    bool first;
} sy_body;
void sy_body_open(sy_body *w, sy_buf *b, const sy_provider *p);
bool sy_body_key(sy_body *w, const char *name);
void sy_body_close(sy_body *w);
/* The two mapping options, for a kind's options table. */
#define SY_PARAM_MAPPING_OPTIONS                                 \
    {.key = "drop_params", .type = SY_OPTION_PARAM_LIST},        \
    {.key = "rename_params", .type = SY_OPTION_PARAM_MAP}
/* The embeddings batching options (embed.c reads them), for the kinds
 * that serve embeddings: inputs and input bytes per request, and how long
 * a request waits for more inputs. */
#define SY_EMBED_OPTIONS                                                                   \
    {.key = "max_inputs_per_request", .type = SY_OPTION_INT, .min = 1, .max = 2048},        \
    {.key = "max_input_bytes_per_request", .type = SY_OPTION_INT, .min = 1024,             \
     .max = 64 << 20},                                                                     \
    {.key = "embed_window_ms", .type = SY_OPTION_INT, .min = 0, .max = 1000}
/* The OpenAI chat completions body (openai.c), shared by the kinds that
 * speak it: model (unless with_model is false: Azure's deployment picks
 * it), messages, the max-tokens member, temperature and the task's
 * parameters. */
void sy_openai_body(const sy_call *call, sy_request *req, const char *max_tokens_field,
                    bool with_model);
/* Read an OpenAI-shaped answer (openai.c): output, usage with cached and
 * reasoning parts, refusal and content filter. */
void sy_openai_read_answer(sy_jspan root, sy_outcome *out);
/* A JSON array of these strings (stop sequences). */
void sy_write_strings(sy_buf *b, char *const *s, size_t n);
/* A string value as a new malloc'd text (NULL if not a string). */
char *sy_js_strdup(sy_jspan v);
/* The key's header line, in the module's auth form (when p has a key), and
 * the provider's transport (sy_request_transport): sy_provider_build's and
 * the embeddings'. */
void sy_request_add_key(sy_request *req, const sy_provider *p);
/* sy_provider_parse with another reader of the 2xx answer than the
 * module's read_answer (NULL: that one), e.g. the embeddings reader. */
typedef void (*sy_answer_reader)(sy_jspan root, sy_outcome *out, void *ctx);
void sy_provider_parse_with(const sy_provider *p, sy_answer_reader read, void *ctx, int status,
                            const char *headers, size_t hlen, const char *body, size_t blen,
                            sy_outcome *out);
/* Mark the outcome malformed, saying what was wrong. */
void sy_outcome_malformed(sy_outcome *out, const char *what);

#endif
