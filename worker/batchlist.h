/* batchlist.h -- the providers' batch listings, read after a restart, and
 * which listed batch may be one a crash left unrecorded (pure: bytes in,
 * decisions out; no HTTP, no store).
 *
 * batchio.c lists a tier's provider batches at start (OpenAI: GET
 * /batches, Anthropic: GET /messages/batches) to find a batch created
 * before a crash whose id was never recorded (docs/durability.md, "Batch
 * tiers"). Both listings are paginated, newest first; this file decodes a
 * page as hostile bytes (ids must pass the [A-Za-z0-9_-] filter, times and
 * counts are bounded, at most SY_BLIST_ITEMS_MAX items are looked at) and
 * decides whether another page is read: until the batches are older than
 * the window that matters, the provider says there is no more, or
 * SY_BLIST_PAGES_MAX pages (a listing that never ends must not stall the
 * worker; a listing cut short is reported as such).
 *
 * OpenAI batches carry metadata (at most 16 string pairs, values up to 512
 * bytes): switchyard writes its tier, model, tier topic and the partitions
 * of the jobs a batch carries (a range list, "0-3,7"; "*" when that is
 * longer than a value may be), and a worker adopts a listed batch only
 * when its input file is one it recorded, or its topic is this tier's and
 * its partitions meet those assigned to the worker (sy_blist_parts_meet):
 * another live worker's batch is not polled (docs/durability.md).
 *
 * Anthropic message batches carry no metadata and their listing shows no
 * custom_ids: a record written before the create (the intent: its time,
 * its job count and custom_ids) is matched to the listed batches created
 * in its window with as many requests (candidates); a candidate is ours
 * when its results answer our custom_ids (sy_blist_ours), and of several
 * that are, the newest is taken.
 *
 * Worker layer (worker/): on batch.h (statuses, the output matching). */
#ifndef SY_WORKER_BATCHLIST_H
#define SY_WORKER_BATCHLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"

#define SY_BLIST_ID_MAX 96              /* an id, with its NUL */
#define SY_BLIST_NAME_MAX 256           /* a metadata name, with its NUL */
#define SY_BLIST_ITEMS_MAX 1000         /* items of one page looked at */
#define SY_BLIST_PAGES_MAX 50           /* pages of one listing read at most */
#define SY_BLIST_PAGE_SIZE 100          /* asked for per page (both providers' maximum) */
#define SY_BLIST_MARGIN_MS (10LL * 60 * 1000) /* our clock against the provider's */
#define SY_BLIST_COUNT_MAX 100000       /* requests in one batch (Anthropic's limit) */
#define SY_BLIST_CANDIDATES_MAX 16      /* candidates polled for one intent, the newest */
#define SY_BLIST_PARTS_MAX 513          /* a partition list, with its NUL (OpenAI: values <= 512) */

typedef struct sy_blist_item {
    char id[SY_BLIST_ID_MAX];           /* passed the id filter */
    char input_file_id[SY_BLIST_ID_MAX];/* OpenAI; "" when none or not an id */
    char md_tier[SY_BLIST_NAME_MAX];    /* OpenAI metadata switchyard_tier, "" when none */
    char md_model[SY_BLIST_NAME_MAX];   /* switchyard_model */
    char md_topic[SY_BLIST_NAME_MAX];   /* switchyard_topic: the tier topic of its jobs */
    char md_parts[SY_BLIST_PARTS_MAX];  /* switchyard_partitions, "" when none or malformed */
    sy_batch_status status;
    int64_t created_ms;                 /* -1: absent or out of bounds */
    int64_t ended_ms;                   /* -1: absent (running) or out of bounds */
    int64_t total;                      /* its requests; -1: absent or out of bounds */
} sy_blist_item;

typedef struct sy_blist_page {
    sy_blist_item *items;               /* malloc'd (sy_blist_page_free) */
    size_t n;
    size_t skipped;                     /* items refused (bad id, not an object, over the max) */
    bool has_more;
    char last_id[SY_BLIST_ID_MAX];      /* the cursor of the next page; "" when unusable */
    int64_t oldest_ms;                  /* the oldest created_ms on the page; INT64_MAX when none */
} sy_blist_page;

/* A page of either listing (anthropic: message batches). 0 and *p filled
 * (free it), or -1 (nothing to free) when the body is not a listing. */
int sy_blist_decode(const void *body, size_t len, bool anthropic, sy_blist_page *p);
void sy_blist_page_free(sy_blist_page *p);

/* An id of the providers: 1..SY_BLIST_ID_MAX-1 bytes of [A-Za-z0-9_-]. */
bool sy_blist_id_ok(const char *s);
/* An RFC 3339 time as Anthropic writes them (2024-08-20T18:37:24.100435Z;
 * OpenAI's are Unix seconds, read by the decoder) in ms; -1 when not one,
 * or before 2000 or after 2200. */
int64_t sy_blist_time_ms(const char *rfc3339);

/* The partitions of a batch's jobs as a metadata value: sorted ranges
 * ("0-3,7,9"), "*" when longer than SY_BLIST_PARTS_MAX-1 bytes, "" when
 * n is 0. parts need not be sorted nor unique. */
void sy_blist_parts_spec(const int32_t *parts, size_t n, char out[SY_BLIST_PARTS_MAX]);
/* Whether a partition list is well formed: "*" or ranges a or a-b
 * (a <= b, each 0..INT32_MAX, no leading zeros) separated by commas,
 * shorter than SY_BLIST_PARTS_MAX. */
bool sy_blist_parts_ok(const char *spec);
/* Whether a well-formed list names one of the n partitions ("*": any;
 * malformed or "": none). */
bool sy_blist_parts_meet(const char *spec, const int32_t *parts, size_t n);

typedef enum sy_blist_next {
    SY_BLN_MORE,   /* read the page after p->last_id */
    SY_BLN_DONE,   /* the listing reached the window's start or its end */
    SY_BLN_CUT,    /* stopped before (pages bound, no usable cursor): not complete */
} sy_blist_next;

/* After `pages` pages (p the last one, read after `cursor`, "" for the
 * first): whether to read another. window_start_ms: batches created
 * before it do not matter. */
sy_blist_next sy_blist_after_page(const sy_blist_page *p, const char *cursor, int pages, int64_t window_start_ms);

/* Whether a listed batch may be the one an intent of njobs jobs recorded
 * at intent_ms created before a crash at until_ms (both wall clock): its
 * creation in [intent_ms, until_ms] widened by SY_BLIST_MARGIN_MS, exactly
 * njobs requests, and not failed. */
bool sy_blist_candidate(const sy_blist_item *it, int64_t intent_ms, int64_t until_ms, size_t njobs);

/* Whether a candidate's results (matched against the custom_ids we know
 * of an intent of `total` jobs: all of them, or a partition's share
 * restored from the changelog) show it carries our jobs: at least half of
 * the known ones answered, and more answered than lines of unknown
 * custom_ids beyond the total - known the rest of the intent accounts for
 * (a hostile provider's noise does not disown a batch; another batch of
 * the same size and time does not carry half of our keys). */
bool sy_blist_ours(const sy_batch_match *m, size_t total);

/* Of n candidates, the one that is ours: confirmed, and the newest by
 * creation (an older copy of the same jobs ended before this intent was
 * made). n when none. */
size_t sy_blist_pick(const bool *confirmed, const int64_t *created_ms, size_t n);

#endif
