/* provider.h -- provider modules: one chat call in a provider's format.
 *
 * The engine (worker/engine.c) owns the HTTP transfer; a provider module
 * only turns a prompt into a request (URL, headers, JSON body) and a
 * response (status, headers, body) into an outcome: the output text and
 * usage, or an error class the routing code can act on (retry, fall back,
 * give up), plus what the provider said about pacing (retry-after,
 * rate-limit headers).
 *
 * A module is one table, as nginx's protocol modules are: a kind
 * descriptor (sy_provider_kind, common/pipeline.h) that the config layer
 * reads -- the name written after `kind:`, the default base URL, whether a
 * key is required, the extra keys it accepts under `options:` -- whose
 * `ops` point to its functions here (sy_provider_ops): the auth header
 * form, build the request, read the answer, read the rate-limit headers,
 * classify an error. Which kinds exist is written once, in the list
 * sy_provider_kinds (kinds.c); the loader is handed that list by its caller
 * (cli/), so the config layer depends on no adapter, and check, the schema
 * test (tests/unit/test_providers.c) and the fake provider's test walk the
 * same list. The descriptor sits in the config layer and the functions
 * here because the loader runs where no adapter is linked (and must not
 * depend on one); joining them by a pointer rather than by a second table
 * keyed by name or index means there is nothing to keep in step.
 *
 * Adding a provider: one file (e.g. mistral.c) defining
 *   static const sy_provider_ops ops = {.auth_name, .auth_prefix, .build,
 *                                       .limits, .read_answer, .classify};
 *   const sy_provider_kind sy_mistral = {.name = "mistral", ...,
 *                                        .ops = &ops};
 * and one line in kinds.c: &sy_mistral in the list (plus its declaration
 * there). The schema test then asks for the kind's entry in
 * schemas/pipeline.schema.json, and pipelines/README.md describes it.
 *
 * Modules are pure functions over buffers: no I/O, no globals, so they are
 * unit-tested directly. The API key goes only into the request headers,
 * and only here (sy_provider_build writes its line from the module's auth
 * form); nothing sy_provider_parse returns (messages included) ever
 * contains it. */
#ifndef SY_PROVIDER_H
#define SY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "jscan.h"
#include "job.h"
#include "pipeline.h"
#include "result.h"
#include "util.h"

/* One rendered prompt, ready to send. */
typedef struct sy_call {
    const sy_model *model;
    const char *system;       /* may be NULL */
    const sy_msg *messages;   /* chat turns, without the system prompt */
    size_t nmessages;
    int max_tokens;
    double temperature;
    bool want_json;           /* task parses JSON: ask for a JSON object where supported */
    const sy_task_params *params; /* response_format, seed, top_p, stop; NULL: none */
} sy_call;

/* The request an adapter builds. Header lines are "Name: value" strings
 * packed one after another, NUL-separated, in `headers` (count in nheaders);
 * the engine hands them to libcurl. */
typedef struct sy_request {
    sy_buf url;
    sy_buf headers;
    int nheaders;
    sy_buf body;
    /* Transport, from the provider (sy_provider_build): */
    bool http1_only;      /* never HTTP/2 */
    const char *ca_file;  /* certificates to trust; NULL: the system's */
    const char *lane;     /* the provider's name when it bounds its connections or streams, else NULL */
    int max_connections, max_streams; /* its bounds; 0: the engine's default (engine.h) */
    bool get;      /* GET without a body (the batch API's polls and downloads); else POST */
    bool body_only; /* only the body is wanted (a batch tier's job: its body goes into the
                     * batch's input file): sy_request_add_header adds nothing */
} sy_request;

/* Rate-limit facts read from response headers; -1 = header absent. */
typedef struct sy_ratelimit_info {
    int64_t limit_requests, remaining_requests, reset_requests_ms;
    int64_t limit_tokens, remaining_tokens, reset_tokens_ms;
} sy_ratelimit_info;

/* What came back. */
typedef struct sy_outcome {
    sy_err_class error;       /* SY_ERR_NONE on success */
    int http_status;
    char *output;             /* malloc'd text on success */
    int64_t tokens_in, tokens_out;
    sy_usage_detail usage;    /* cached / cache-write / reasoning parts; estimated */
    char message[256];        /* error message for the result / dead letter */
    int64_t retry_after_ms;   /* server-directed delay, -1 if none */
    int should_retry;         /* x-should-retry: 1 true, 0 false, -1 absent */
    sy_ratelimit_info rl;
} sy_outcome;

void sy_request_init(sy_request *r);
void sy_request_reset(sy_request *r);
void sy_request_free(sy_request *r);
/* A header line; one with a control character (CR, LF, ...) is dropped. */
void sy_request_add_header(sy_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* X-Switchyard-Job: the job's idempotency key, percent-encoded (all but
 * letters, digits and -._~), so that no byte of a job reaches the provider
 * raw in a header; cut after 256 bytes of key. */
void sy_request_add_job_header(sy_request *r, const char *key);
/* The provider's transport on a request (http1_only, ca_file, its lane's
 * bounds: engine.h): every call to p carries it, the batch API's too. */
void sy_request_transport(sy_request *req, const sy_provider *p);

/* Build the request for this call against the model's provider: the key's
 * header (when the provider has a key), then the module's URL, headers and
 * body. */
void sy_provider_build(const sy_call *call, sy_request *req);

/* Interpret a finished HTTP exchange. `headers` holds the raw response header
 * block ("Name: value\r\n" lines, as libcurl delivers them). A transport
 * failure is reported by the engine itself (timeout / connection). */
void sy_provider_parse(const sy_provider *p, int http_status, const char *headers,
                       size_t headers_len, const char *body, size_t body_len,
                       sy_outcome *out);
/* The same for a batch output line's answer (worker/batch.h): no headers,
 * and a body that sy_batch_match_line checked whole already, so a 2xx body
 * is read without being checked again (never pass any other body: it is
 * trusted to be checked JSON). */
void sy_provider_parse_checked(const sy_provider *p, int http_status, const char *body, size_t body_len,
                               sy_outcome *out);
void sy_outcome_free(sy_outcome *o);

/* An answer without usage (usage.estimated set by the module) gets its
 * counts estimated here (estimate.c): input from the request body's bytes,
 * output from the answer's, so that its cost is never a silent 0. */
void sy_outcome_estimate(sy_outcome *o, size_t request_body_bytes);

/* What a provider says is bounded before anything acts on it:
 *   waits (retry-after, retry-after-ms, rate-limit resets) at a day (the
 *     longest window a provider counts in, a daily quota): a retry-after of
 *     1e12 or a reset of 99999999h would otherwise stop an account for
 *     ever; jobs with a deadline expire on time whatever the wait (run.c);
 *   rate-limit counts (limit, remaining) at 10^12;
 *   usage token counts to 0..10^9 per call (no model's context comes near),
 *     so sums, costs and the pacing arithmetic never overflow and a cost is
 *     never negative. */
#define SY_PROVIDER_MAX_WAIT_MS (24LL * 3600 * 1000)
#define SY_PROVIDER_MAX_COUNT 1000000000000LL
#define SY_MAX_USAGE_TOKENS 1000000000LL

/* Helpers shared by the adapters (providers/common.c). */
int64_t sy_parse_go_duration_ms(const char *s);   /* "6m0s" -> 360000; -1 bad */
int64_t sy_parse_retry_after_ms(const char *retry_after_ms, const char *retry_after,
                                int64_t now_ms); /* -1 absent/bad (NaN, negative) */
/* The lines of a response's header block, found in one pass so that the
 * dozen lookups a response needs (retry hints, rate limits) do not each
 * scan the block again. Only the last block counts (after a redirect or a
 * 100 Continue); lines past SY_MAX_HEADERS are ignored. */
#define SY_MAX_HEADERS 64
typedef struct sy_headers {
    struct { const char *name, *value; size_t nlen, vlen; } line[SY_MAX_HEADERS];
    int n;
} sy_headers;
void sy_headers_index(sy_headers *h, const char *block, size_t len);
/* Header `name` (case-insensitive; the last occurrence wins): copies its
 * trimmed value into val (NUL-terminated) and returns 1, or 0 if absent. */
int sy_headers_find(const sy_headers *h, const char *name, char *val, size_t vallen);

/* ---- the module table ---- */

struct sy_embed_call; /* embeddings.h */

typedef struct sy_provider_ops {
    /* The key's header: "<auth_name>: <auth_prefix>KEY" ("Authorization",
     * "Bearer "); written by sy_provider_build, never by the module. */
    const char *auth_name, *auth_prefix;
    /* URL, the kind's own headers (not the key's) and the JSON body. */
    void (*build)(const sy_call *call, sy_request *req);
    /* Rate-limit headers into rl (fields absent stay -1). */
    void (*limits)(const sy_headers *h, sy_ratelimit_info *rl);
    /* A 2xx answer, already checked to be one whole JSON object: output,
     * usage, refusal (or sy_outcome_malformed). */
    void (*read_answer)(sy_jspan root, sy_outcome *out);
    /* A failed call: HTTP status and the error body's type, code and
     * message (any may be NULL) -> error class. */
    sy_err_class (*classify)(int status, const char *type, const char *code, const char *message);
    /* The embeddings request (embeddings.h); NULL: the kind has none. */
    void (*build_embeddings)(const struct sy_embed_call *call, sy_request *req);
} sy_provider_ops;

/* The kinds of the product, NULL-terminated (kinds.c): the one list. */
extern const sy_provider_kind *const sy_provider_kinds[];
/* The kind named name in the list, or NULL. */
const sy_provider_kind *sy_provider_kind_named(const char *name);

#endif
