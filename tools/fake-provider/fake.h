/* fake.h -- what the files of the fake provider share.
 *
 * The fake provider is a test double for the OpenAI and Anthropic HTTP APIs:
 * one thread, one epoll loop, simulated latency by timers. The pieces:
 *   main.c    options, process setup, stats line on exit
 *   http.c    sockets, connections, HTTP/1.1 parsing, the event loop
 *   tls.c     TLS under a connection (--tls-cert), ALPN
 *   h2.c      HTTP/2 over a TLS connection whose ALPN chose h2
 *   timers.c  the min-heap of responses waiting for their simulated latency
 *   api.c     routing, the two providers' handlers, bodies, headers, errors
 *   batch.c   files, batches and message batches (in memory)
 *   reply.c   a reply's init and reset (api.c and batch.c fill replies)
 *   answer.c  what the "model" says: prompt, deterministic reply, tokens
 *   faults.c  magic markers in the prompt, seeded PRNG, random failures
 *   limits.c  per-key rate-limit windows and per-prompt failure counters
 *   record.c  counters (/stats, exit line) and the call log
 * Names start with fp_ ("fake provider"). */
#ifndef FP_FAKE_H
#define FP_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

/* ---- configuration (main.c fills it, everyone reads it) ---- */

typedef struct fp_config {
    const char *host;
    int port;
    const char *port_file;
    int64_t latency_ms, jitter_ms;
    double error_rate, overload_rate, rate_limit_rate, hang_rate;
    double malformed_rate, timeout_rate;
    int64_t rpm, tpm;          /* 0 = no limit enforced */
    int64_t window_ms;
    const char *call_log;
    uint64_t seed;
    const char *tls_cert, *tls_key; /* both or neither: TLS on every connection */
    int h2;                  /* offer h2 by ALPN (default on) */
    int64_t batch_ms;          /* a batch's processing time */
    int64_t batch_expire_after; /* lines after the first N expire; -1 = none */
    int batch_hostile;         /* duplicate, unknown and non-JSON output lines */
    int64_t batch_call_ms;     /* delay of each answer of the batch APIs (files, batches) */
    int64_t list_page;         /* batches per listing page at most (0: as asked) */
} fp_config;

extern fp_config fp_cfg;

/* ---- one parsed HTTP request, as http.c hands it to api.c ---- */

typedef struct fp_slice {
    const char *p; /* NULL = absent */
    size_t n;
} fp_slice;

typedef struct fp_request {
    fp_slice method, path, body;
    fp_slice authorization, api_key, azure_key, anthropic_version, job;
} fp_request;

/* FP_API_AZURE: OpenAI's bodies at Azure's deployment URLs, with its key
 * header, api-version and error and rate-limit forms. */
typedef enum fp_api { FP_API_OTHER, FP_API_OPENAI, FP_API_ANTHROPIC, FP_API_AZURE } fp_api;

/* What api.c answers. http.c owns the status line, content-length and
 * connection headers; everything else is here. */
typedef struct fp_reply {
    int status;             /* HTTP status; 0 = hang (never answer) */
    const char *content_type;
    sy_buf headers;         /* extra "name: value\r\n" lines */
    sy_buf body;
    int64_t delay_ms;       /* simulated latency */
    fp_api api;
    sy_buf call;            /* call-log fields after ts_ms ("\"api\":...}\n"), or empty */
} fp_reply;

/* reply.c */
void fp_reply_init(fp_reply *r);
void fp_reply_reset(fp_reply *r);

/* api.c */
void fp_api_handle(const fp_request *rq, fp_reply *rp);
/* One synchronous provider call (checks, markers, faults, answer) into rp,
 * which is reset first; batch.c runs each batch line through it. */
void fp_api_call(fp_api api, const fp_request *rq, fp_reply *rp);

/* One synchronous call, as fp_api_call makes it. */
typedef void fp_call_fn(fp_api api, const fp_request *rq, fp_reply *rp);

/* batch.c: runs each batch line through `call` (main.c gives it
 * fp_api_call; batch.c sits below api.c and calls nothing of it). */
void fp_batch_init(fp_call_fn *call);
/* batch.c: 1 if `path` (query cut off) is a batch endpoint, answered in rp. */
int fp_batch_handle(const fp_request *rq, fp_slice path, fp_reply *rp);

/* http.c: bind and listen (fp_cfg.port is then the real port), then serve
 * until SIGINT/SIGTERM. Both return 0, or -1 after printing why. */
int fp_listen(void);
int fp_serve(void);

/* ---- timers.c: responses waiting for their time ---- */

struct fp_conn;
typedef struct fp_pending {
    int64_t due_us;
    uint64_t seq;
    struct fp_conn *conn;   /* NULL once the client has gone */
    struct fp_stream *stream; /* HTTP/2: its stream (h2.c); NULL under HTTP/1.1 */
    int status;
    int close_after;
    size_t resp_len, call_len;
    char bytes[];           /* response, then call-log tail */
} fp_pending;

void fp_timers_push(fp_pending *p);
fp_pending *fp_timers_pop_due(int64_t now_us);
int64_t fp_timers_next_due_us(void); /* INT64_MAX if none */
size_t fp_timers_count(void);

/* ---- answer.c: the deterministic model ---- */

typedef struct fp_prompt {
    sy_buf user;            /* U: text of the last user message */
    sy_buf system;          /* system prompt text */
    int64_t prompt_tokens;
    int64_t max_tokens;     /* 0 = not given */
    int want_json;          /* response_format asked for JSON */
} fp_prompt;

typedef struct fp_answer {
    sy_buf text;
    int64_t completion_tokens;
    int truncated;          /* cut at max_tokens */
} fp_answer;

void fp_prompt_init(fp_prompt *p);
void fp_prompt_free(fp_prompt *p);
/* Read the request body; returns NULL or a message for a 400. */
const char *fp_prompt_read(fp_api api, json_t *root, fp_prompt *p);
/* size > 0 ([[size:N]]): the answer is "ECHO " padded with 'x' to N bytes. */
void fp_answer_compute(const fp_prompt *p, int64_t size, fp_answer *a);
size_t fp_utf8_cut(const char *s, size_t n, size_t max);

/* ---- embed.c: the embeddings API ---- */

/* Read an embeddings body: the inputs joined by newlines into p->user (for
 * the markers), their tokens; NULL or a message for a 400. */
const char *fp_embed_read(fp_api api, json_t *root, fp_prompt *p);
/* The answer: a deterministic vector per input (embed.c says how). */
void fp_embed_body(json_t *root, int no_usage, int64_t tokens_in, sy_buf *b);

/* ---- faults.c: markers and random failures ---- */

typedef struct fp_markers {
    int status;             /* [[status:NNN]], 0 = none */
    int64_t fail_first;     /* [[fail-first:N]], -1 = none */
    int64_t bad_json_first; /* [[bad-json-first:N]], -1 = none */
    fp_slice fail_model;    /* [[fail-model:NAME]] */
    int hang, malformed;
    int64_t latency_ms;     /* [[latency:MS]], -1 = none */
    int64_t size;           /* [[size:N]]: answer of N bytes, 0 = none */
    fp_slice retry_after;   /* [[retry-after:V]]: 429 with retry-after: V as given */
    fp_slice reset;         /* [[reset:V]]: requests remaining 0, reset V as given */
    int echo_key;           /* [[echo-key:401]] / [[echo-key:200]]: repeat the key, 0 = none */
    int no_usage;           /* [[no-usage]]: a success without `usage` */
    int64_t cached;         /* [[cached:N]]: N prompt tokens (at most all) from the cache */
} fp_markers;

typedef enum fp_fault {
    FP_FAULT_NONE, FP_FAULT_ERROR, FP_FAULT_OVERLOAD, FP_FAULT_RATE_LIMIT,
    FP_FAULT_HANG, FP_FAULT_MALFORMED
} fp_fault;

void fp_markers_parse(const char *u, size_t n, fp_markers *m);
void fp_rand_seed(uint64_t seed);
uint64_t fp_rand_u64(void);
int64_t fp_latency_draw(void);   /* latency-ms + uniform [0, jitter-ms] */
fp_fault fp_fault_draw(void);    /* one draw against the --*-rate options */

/* ---- limits.c ---- */

typedef struct fp_window {
    int64_t limit_requests, limit_tokens;   /* per minute, as advertised */
    int64_t window_requests, window_tokens; /* what one window allows */
    int64_t remaining_requests, remaining_tokens;
    int64_t reset_ms;       /* until the window ends */
    int over_requests, over_tokens; /* this request was refused */
} fp_window;

/* Charge one request of `tokens` to the key's window (unless over). */
void fp_limits_take(uint64_t key_hash, int64_t tokens, int64_t now_ms, fp_window *w);
/* Count one more request for a [[fail-first:N]] prompt; returns the count. */
int64_t fp_fail_first_count(uint64_t prompt_hash);

/* ---- record.c: counters and the call log ---- */

void fp_record_open(const char *call_log_path);
void fp_record_request(fp_api api);
void fp_record_answer(int status, const char *call, size_t call_len);
void fp_record_connection(int delta);
void fp_record_tls_connection(void);  /* a TLS handshake completed */
void fp_record_h2_connection(void);   /* ... and ALPN chose h2 */
void fp_record_h2_stream(int open);   /* a request stream opened: `open` on its connection now */
void fp_record_stats_json(sy_buf *b);
void fp_record_summary(void);

#endif
