/* batch.h -- one provider batch of a `mode: batch` tier, as pure decisions.
 *
 * A batch tier's jobs do not call the provider one by one: they are
 * collected, written as one JSONL input file (custom_id = the job's
 * idempotency key), uploaded, and carried by one OpenAI batch
 * (/v1/files, /v1/batches) that is polled until it ends; its output and
 * error files are then matched back to the jobs by custom_id. This file
 * decides; the shell that does the HTTP and the store records is not here.
 * What it decides:
 *   - the batch's own state machine (below) and which effect comes next;
 *   - when a collecting batch is sent (job, byte or time limit) and whether
 *     one more line still fits;
 *   - how long to wait before the next poll (doubling, capped);
 *   - what a provider status means;
 *   - the input line of one job, and its custom_id where the provider
 *     restricts them (Anthropic: ^[a-zA-Z0-9_-]{1,64}$);
 *   - matching output lines to jobs, as hostile input: lines are bounded,
 *     unknown custom_ids and lines that do not parse are counted and
 *     ignored, a custom_id answered twice is answered once, and what no
 *     line answered is listed for a retry.
 *
 *   COLLECTING --SEND--> (upload) --UPLOADED--> UPLOADED --RECORDED--> (create)
 *        --CREATED--> CREATED --RECORDED--> POLLING --RUNNING--> POLLING
 *        POLLING --ENDED--> (download) --DOWNLOADED--> DOWNLOADED --PUBLISHED--> DONE
 *   COLLECTING (upload)/UPLOADED/CREATED/POLLING --FAILED (the whole batch: upload
 *   or create refused, failed, cancelled)--> DOWNLOADED
 *   (every job of the batch then counts as missing: retried)
 *   (Anthropic message batches have no upload: UPLOAD goes straight to
 *   UPLOADED, and the create carries the requests.)
 *   COLLECTING --ADOPTED--> POLLING: a batch this tier created before a
 *   restart, found at the provider (batchio.c): polled, never sent again
 *
 * A batch is recorded (durably) after its upload and before its create, with
 * the input file id as the client-side marker, and again once created, so a
 * restart knows which batches might exist at the provider (see
 * docs/durability.md, "Batch tiers").
 *
 * Worker layer (worker/): on config/ (the tier's sy_batch_policy). */
#ifndef SY_WORKER_BATCH_H
#define SY_WORKER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "keymap.h"
#include "pipeline.h"

typedef enum sy_batch_state {
    SY_BS_COLLECTING, /* jobs being added */
    SY_BS_UPLOADED,   /* input file at the provider: record it before create */
    SY_BS_CREATED,    /* provider batch id known: record it, then poll */
    SY_BS_POLLING,
    SY_BS_DOWNLOADED, /* output and error files read: publish each job */
    SY_BS_DONE,
    SY_BS_COUNT
} sy_batch_state;

typedef enum sy_batch_event {
    SY_BE_SEND,       /* a limit was reached: upload */
    SY_BE_UPLOADED,   /* the file id is known */
    SY_BE_RECORDED,   /* the batch record is durable */
    SY_BE_CREATED,    /* the provider batch id is known */
    SY_BE_RUNNING,    /* a poll: not ended yet */
    SY_BE_ENDED,      /* a poll: completed or expired (files to read) */
    SY_BE_FAILED,     /* a poll: failed or cancelled (no results) */
    SY_BE_DOWNLOADED,
    SY_BE_PUBLISHED,  /* every job's result is out (or handed to its retry) */
    SY_BE_ADOPTED,    /* found at the provider after a restart, its input read */
    SY_BE_COUNT
} sy_batch_event;

enum {
    SY_BX_ERROR = 1u << 0,    /* not in the table: nothing changes */
    SY_BX_UPLOAD = 1u << 1,
    SY_BX_RECORD = 1u << 2,   /* write the batch record (store + changelog) */
    SY_BX_CREATE = 1u << 3,
    SY_BX_POLL = 1u << 4,     /* arm the poll timer (sy_batch_poll_delay) */
    SY_BX_DOWNLOAD = 1u << 5,
    SY_BX_PUBLISH = 1u << 6,  /* match the lines, publish the jobs, retry the missing */
    SY_BX_FORGET = 1u << 7,   /* drop the batch record */
};

typedef struct sy_batch_step {
    sy_batch_state next;
    uint32_t effects;
} sy_batch_step;

sy_batch_step sy_batch_next(sy_batch_state s, sy_batch_event ev);
const char *sy_batch_state_name(sy_batch_state s);

/* ---- collecting ---- */

/* Whether a line of line_bytes still fits a batch holding njobs, nbytes. */
bool sy_batch_fits(const sy_batch_policy *p, int64_t njobs, int64_t nbytes, int64_t line_bytes);
/* Whether a collecting batch is sent now: a limit is reached, or
 * max_wait_ms has passed since its first job (first_ms). Never when empty. */
bool sy_batch_due(const sy_batch_policy *p, int64_t njobs, int64_t nbytes, int64_t first_ms,
                  int64_t now_ms);
/* When a collecting batch becomes due by time (INT64_MAX when empty). */
int64_t sy_batch_due_at(const sy_batch_policy *p, int64_t njobs, int64_t first_ms);
/* The bytes [*from, *to) of the input (len bytes, n lines or items, line
 * i starting at line_at[i]) that line i takes with its separator: what
 * goes when its job leaves a collecting batch (a revoke). items: the
 * comma-separated items of Anthropic's requests array, else JSONL lines. */
void sy_batch_line_span(bool items, const size_t *line_at, size_t n, size_t len, size_t i, size_t *from,
                        size_t *to);

/* Milliseconds before poll number `polls` (0 = the first after create):
 * poll_ms doubling, capped at poll_max_ms. */
int64_t sy_batch_poll_delay(const sy_batch_policy *p, int polls);

/* ---- the provider's status ---- */

typedef enum sy_batch_status {
    SY_BST_UNKNOWN,   /* anything else: polled again (never trusted as an end) */
    SY_BST_RUNNING,   /* validating, in_progress, finalizing, cancelling */
    SY_BST_ENDED,     /* completed, expired: output and error files */
    SY_BST_FAILED,    /* failed, cancelled: no results */
} sy_batch_status;

sy_batch_status sy_batch_status_of(const char *status);

/* A batch still not ended 25 h after its create (its 24 h window and an
 * hour's grace) is given up: a provider that never ends it cannot hold its
 * jobs for ever. created_ms and now_ms on one clock. */
#define SY_BATCH_GIVE_UP_MS (25LL * 3600 * 1000)
bool sy_batch_overdue(int64_t created_ms, int64_t now_ms);

/* ---- the input file ---- */

/* One JSONL line: {"custom_id":KEY,"method":"POST","url":URL,"body":BODY}\n,
 * BODY being the request JSON the adapter built (copied as is). */
void sy_batch_input_line(sy_buf *out, const char *custom_id, const char *url, const char *body,
                         size_t body_len);

/* Anthropic's request item {"custom_id":ID,"params":BODY} (no newline). */
void sy_batch_anthropic_item(sy_buf *out, const char *custom_id, const char *body, size_t body_len);
/* The custom_id of an idempotency key for Anthropic: the key itself when
 * it is 1-64 of [A-Za-z0-9_-], else "h" and 32 hex digits of two hashes
 * of it. out has room for SY_BATCH_ID_MAX bytes. */
#define SY_BATCH_ID_MAX 65
void sy_batch_anthropic_id(const char *key, char out[SY_BATCH_ID_MAX]);

/* ---- matching the output ---- */

#define SY_BATCH_LINE_MAX (8u << 20) /* longer output lines are refused */

typedef enum sy_batch_line_kind {
    SY_BL_ANSWER,    /* a job's answer: index, status_code / error_code, body */
    SY_BL_UNKNOWN,   /* custom_id not in this batch: ignored */
    SY_BL_DUPLICATE, /* the job was answered by an earlier line: ignored */
    SY_BL_MALFORMED, /* not JSON, no custom_id, or too long: ignored */
    SY_BL_BLANK,
} sy_batch_line_kind;

typedef struct sy_batch_answer {
    size_t index;        /* of the job in the batch */
    int status_code;     /* response.status_code; 0 when the line has only an error */
    char *body;          /* response.body, a JSON object checked whole, as the provider wrote it (malloc'd), or NULL */
    char error_code[64]; /* error.code (printable, cut), or "" */
} sy_batch_answer;

typedef struct sy_batch_match {
    sy_keymap ids;       /* custom_id -> index + 1 */
    size_t n;
    bool *answered;
    size_t nanswered;
    uint64_t unknown, duplicate, malformed; /* lines ignored, by reason */
} sy_batch_match;

/* The batch's custom_ids, in job order. Duplicates among them are refused
 * by the caller (the same key is never in one batch twice). */
void sy_batch_match_init(sy_batch_match *m, const char *const *custom_ids, size_t n);
void sy_batch_match_free(sy_batch_match *m);
/* One output or error line (without its newline). On SY_BL_ANSWER *a is
 * filled and a->body must be freed by the caller. Both shapes are read:
 * OpenAI's {"custom_id","response":{"status_code","body"},"error":{"code"}}
 * and Anthropic's {"custom_id","result":{"type":"succeeded","message"} |
 * {"type":"errored","error":{"type":"error","error":{"type"}}} |
 * {"type":"expired"|"canceled"}} (an errored result gets the HTTP status
 * of its error type, e.g. invalid_request_error 400, and the error as its
 * body; expired and canceled become error codes). */
sy_batch_line_kind sy_batch_match_line(sy_batch_match *m, const char *line, size_t len,
                                       sy_batch_answer *a);
/* Index of the next job no line answered, from *cursor; false at the end. */
bool sy_batch_match_next_missing(const sy_batch_match *m, size_t *cursor, size_t *index);

#endif
