/* embeddings.h -- the embeddings call of the provider modules: one request
 * carrying the texts of many jobs, and the answer taken apart per job.
 *
 * Pure functions over buffers, as provider.h's: no I/O, no globals. The
 * worker's shell (worker/embed.c) decides which jobs share a request with
 * sy_embed_decide, builds it with sy_provider_build_embeddings, reads the
 * answer with sy_embed_parse and splits the usage with sy_embed_split.
 *
 *   POST {base_url}/embeddings                         (openai, openai-compatible)
 *   POST {base_url}/openai/deployments/{d}/embeddings?api-version=V   (azure-openai)
 *   {"model", "input": [text, ...], "encoding_format": "float", "dimensions"?}
 *
 * Kinds without an embeddings API (anthropic) have no build_embeddings in
 * their table; `check` refuses an embedding task routed to them. */
#ifndef SY_EMBEDDINGS_H
#define SY_EMBEDDINGS_H

#include "provider.h"

/* One request: n texts for one model. */
typedef struct sy_embed_call {
    const sy_model *model;
    const char *const *inputs;
    size_t n;
    int dimensions; /* asked of the model; 0: its own */
} sy_embed_call;

/* The key's header, then the kind's URL, headers and body. */
void sy_provider_build_embeddings(const sy_embed_call *call, sy_request *req);
/* The kinds' builders (openai.c, azure.c), reached through their tables. */
void sy_embed_body(const sy_embed_call *call, sy_request *req, bool with_model);

/* How many inputs a request carries, and how long it waits for more.
 * Defaults from OpenAI's API description: at most 2048 inputs, and
 * 300,000 tokens summed over them, which at the estimate's 4 bytes a token
 * is 1.2 MB: the byte cap is 1 MB, under it for any text the estimate
 * counts right. */
#define SY_EMBED_DEFAULT_MAX_INPUTS 2048
#define SY_EMBED_DEFAULT_MAX_BYTES (1 << 20)
#define SY_EMBED_DEFAULT_WINDOW_MS 2
typedef struct sy_embed_limits {
    size_t max_inputs, max_bytes;
    int window_ms;
} sy_embed_limits;
/* The provider's options (max_inputs_per_request,
 * max_input_bytes_per_request, embed_window_ms) or the defaults. */
sy_embed_limits sy_embed_limits_of(const sy_provider *p);

/* The answer must fit the worker's --max-answer-bytes, or every job of
 * the request fails as response_too_large: at most as many inputs as
 * vectors of `dimensions` (0: unknown, taken as 3072, the largest of
 * OpenAI's models) fit, at 32 bytes a number (OpenAI's answers are
 * pretty-printed, a float of ~20 digits a line). At least one. */
#define SY_EMBED_ANSWER_BYTES_PER_NUMBER 32
#define SY_EMBED_ASSUMED_DIMS 3072
void sy_embed_fit_answer(sy_embed_limits *l, size_t max_answer_bytes, int dimensions);

/* Where the next input of `add` bytes goes, given an open request of n
 * inputs and `bytes` bytes:
 *   JOIN        into it;
 *   FLUSH_FIRST send the open request first, then start a new one with it.
 * *full_after says the request is full once it joined (send it now). One
 * input alone always makes a request, however large (the provider judges
 * it). */
typedef enum sy_embed_decision { SY_EMBED_JOIN, SY_EMBED_FLUSH_FIRST } sy_embed_decision;
sy_embed_decision sy_embed_decide(size_t n, size_t bytes, size_t add, const sy_embed_limits *l,
                                  bool *full_after);

/* A request of n inputs refused whole (400, or an input too long: the
 * provider does not say which input): its jobs go again in requests of at
 * most the returned number of inputs, halving until the bad input is
 * alone and fails by itself while the others go through (log2 n rounds).
 * 0: not refused whole (the error is everyone's: retried as it is). */
size_t sy_embed_bisect(size_t n, sy_err_class error);

/* The answer of one request, per input (slot i is inputs[i]). */
typedef struct sy_embed_slot {
    float *vec;            /* malloc'd, dim floats; NULL when error is set */
    uint32_t dim;
    sy_err_class error;    /* SY_ERR_MALFORMED: no usable vector for this input */
    char why[96];
} sy_embed_slot;

/* Read a finished exchange of a request of n inputs (slots: n, zeroed by
 * the caller). The whole request's status, error, retry hints, rate limits
 * and usage (tokens_in: prompt_tokens, or usage.estimated when absent) go
 * to *whole, as sy_provider_parse reads them; when whole->error is NONE
 * each slot says what came for its input. A provider's answer is hostile:
 * data[].index must be an integer in [0, n) (others are ignored), an
 * index given twice fails that input, a missing index fails its input, a
 * vector must be 1..SY_EMBED_MAX_DIMS finite numbers (exactly dimensions
 * of them when dimensions > 0). */
void sy_embed_parse(const sy_provider *p, int status, const char *headers, size_t hlen,
                    const char *body, size_t blen, int dimensions, sy_embed_slot *slots, size_t n,
                    sy_outcome *whole);
void sy_embed_slots_free(sy_embed_slot *slots, size_t n);

/* Split a request's `total` tokens among its inputs in proportion to
 * their weights (estimated tokens): out[i] sums to total exactly (largest
 * remainders get the rest; equal weights when all are 0). */
void sy_embed_split(int64_t total, const int64_t *weights, size_t n, int64_t *out);

#endif
