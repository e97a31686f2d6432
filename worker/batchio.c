/* batchio.c -- the batches of batch tiers, at the edge: HTTP through the
 * engine, timers on the loop (batchio.h). What to do next is asked of
 * batch.h (sy_batch_next and the pure helpers); this file carries out the
 * effects. Everything the provider answers is hostile: ids are taken only
 * when short and printable, bodies are bounded by the engine's limits, and
 * the result lines go through sy_batch_match.
 *
 * Each batch is recorded in the store (batchrec.h) after its upload and
 * once created; the create, and the polling, wait for the group commit
 * that makes the record durable (batchio_after_group_commit). A batch
 * recorded created owns its jobs: their offsets are released
 * (the hooks' `owned`: run.c hands them to batchio_start, and this file
 * calls no function of run.c). At start (batchio_start) each batch tier
 * polls its recorded batches again and rebuilds the jobs they own
 * (`restore`); then it lists the provider's batches (GET {base}/batches,
 * every page back to the oldest uploaded record, bounded: batchlist.h) for
 * one created but not recorded: those whose metadata names this tier and
 * one of its models, and whose input file a record names or whose
 * metadata names this tier topic and a partition assigned here (looked at
 * once the first changelog restore has ended: take_held; each later
 * restore lists again for its own partitions: list_assigned), have their
 * input files read for the custom_ids they carry, and are polled; another
 * live worker's batches are left to it. A job whose
 * key one of them carries joins it instead of being sent again; the
 * others are collected as usual. An input file uploaded without a batch
 * created is never used again (its jobs go into a new file).
 * Every record is mirrored to the tier's changelog, one per partition of
 * its jobs (batchrec.h), and the batch owns its jobs only once those are
 * acknowledged (batchio_on_delivery); after a changelog restore the
 * records it brought are scanned like a restart's (batchio_restored), and
 * a revoked partition's batch-owned jobs leave their batch for the next
 * owner, and the jobs no batch owns yet are dropped, never answered here
 * (batchio_hand_over). A batch's record goes once the results it answered
 * are out (batchio_result_out), not when it ends: a crash in between
 * rebuilds those jobs, answered from the store; the results of jobs
 * rebuilt from it and answered from the store hold it the same way
 * (batchio_answered_from_store).
 * docs/durability.md, "Batch tiers", is the account of it.
 *
 * Anthropic message batches (a model on a provider of kind anthropic) have
 * no file: the create (POST {base}/messages/batches) carries the requests,
 * custom_ids are the keys or their hashes (sy_batch_anthropic_id), polls
 * read processing_status and the results come from
 * {base}/messages/batches/{id}/results. A restart finds them by their
 * record; one created but not recorded (its record written before the
 * create is its intent) is looked for in the listing (GET
 * {base}/messages/batches) by its time and job count: each candidate is
 * polled, and when all have ended the one whose results answer the
 * intent's custom_ids gets its jobs (resolve_intent); its jobs are sent
 * again only when no listed batch can be it. Another worker's intent
 * comes with a changelog restore as its partitions' shares: grouped into
 * one intent (intent_take), looked for in a listing of its own
 * (list_intents); once resolved, the shares get their tombstones on the
 * changelog (drop_intent_record; with a winner once their jobs' results
 * are out: shares_out).
 *
 * Test hook: SWITCHYARD_BATCH_CRASH_AT=after_upload|after_create|before_create
 * (Anthropic: its intent recorded, no create sent) kills the worker
 * (SIGKILL) at that point (tests/integration/batch_crash.sh,
 * batch_anthropic_crash.sh); SWITCHYARD_BATCH_ADOPT_KEEP_MS=<ms> shortens
 * the 120 s an adopted batch is kept for late jobs (batch_publish_hold.sh). */
#include "batchio.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "batchlist.h"
#include "batchrec.h"
#include "log.h"
#include "reload.h"
#include "util.h"

#define ID_MAX SY_BLIST_ID_MAX /* 96 */
#define RETRY_MS 200 /* no engine slot, or a call failed: try again */

#define ADOPT_KEEP_MS 120000 /* an adopted batch's results wait this long for late jobs */

/* ADOPT_KEEP_MS, or the test hook SWITCHYARD_BATCH_ADOPT_KEEP_MS (read
 * once; tests/integration/batch_publish_hold.sh shortens it). */
static int64_t adopt_keep_ms(void)
{
    static int64_t ms = -1;
    if (ms < 0) {
        const char *v = getenv("SWITCHYARD_BATCH_ADOPT_KEEP_MS");
        ms = v && atoll(v) > 0 ? atoll(v) : ADOPT_KEEP_MS;
    }
    return ms;
}

typedef struct logged_part logged_part;
struct intent;

typedef enum op { OP_NONE, OP_UPLOAD, OP_CREATE, OP_POLL, OP_OUTPUT, OP_ERRORS, OP_LIST, OP_INPUT } op;

typedef struct batchio {
    worker *w;
    const sy_tier *tier;
    const sy_model *model;
    struct sy_cfg_gen *gen;       /* held: tier and model point into it (reload.h) */
    sy_batch_state state;
    sy_run **runs;            /* the jobs it carries (NULL: freed meanwhile) */
    char **ids;               /* their custom_ids */
    sy_batchrec_job *jobs;    /* their tier messages, for the record (bytes malloc'd) */
    size_t *line_at;          /* where each one's line starts in `input` (collecting) */
    bool *gone;               /* handed over or dropped at a revoke: answered elsewhere */
    bool *answered;           /* its line went to its run here (a rebuilt job not joined
                                 yet has neither run nor answer: the batch is kept for it) */
    size_t n, cap;
    sy_keymap idset;          /* custom_ids already in it */
    sy_buf input;             /* the JSONL */
    int64_t first_ms;
    int64_t created_ms;       /* monotonic: created (or adopted) */
    char file_id[ID_MAX], batch_id[ID_MAX], out_id[ID_MAX], err_id[ID_MAX];
    int polls, failures;
    op pending;               /* the call to make when the timer fires */
    sy_transfer *t;           /* the call out, or NULL */
    sy_buf results;           /* output then error file */
    sy_loop_timer timer;
    bool lister;              /* only lists the provider's batches (recovery) */
    bool adopted;             /* created before a restart, found at the provider */
    sy_buf rkey;              /* its record's key in the store ("" until recorded) */
    bool recording;           /* its record waits for the group commit */
    bool committing;          /* ... and was staged before the one under way */
    sy_buf extra_keys;        /* store keys of records of it restored from the changelog
                                 (NUL-separated): they go with it */
    int acks;                 /* its changelog records not yet acknowledged */
    bool own_on_ack;          /* recorded created: it owns its jobs once they are */
    bool mirror_failed;       /* one was refused: its jobs keep their offsets */
    bool handed;              /* jobs of it went to a partition's next owner: record again */
    bool stop_on_response;    /* nothing left to answer here: freed when its call ends */
    size_t holding;           /* jobs it answered whose results are not out yet */
    bool forget_held;         /* over: its record goes once they are (batchio_result_out) */
    bool keep_record;         /* one was freed without its result out: the record stays */
    bool shares;              /* an intent's winner: extra_keys are restored shares of it, whose
                                 tombstones go once its jobs' results are out (shares_out) */
    struct logged_part { int32_t partition; uint32_t count; } *logged; /* parts of its record */
    size_t nlogged;           /* on the changelog, per partition (their tombstones' keys) */
    /* the listing (lister) */
    char cursor[ID_MAX];      /* the last id of the page read, "" before the first */
    int pages;
    int64_t since_ms;         /* wall clock: batches created before it do not matter (0: the tier's) */
    sy_blist_item *seen;      /* Anthropic: the listed batches, for the intents */
    size_t nseen;
    int32_t *parts;           /* OpenAI: the tier topic's partitions a listed batch must meet
                                 (a restore's, list_assigned); NULL: those assigned now */
    size_t nparts;
    /* a candidate for an intent (Anthropic, created but not recorded) */
    struct intent *grp;       /* NULL when not one */
    int64_t listed_ms;        /* its created_at, wall clock */
    bool ended;               /* its results are in (or it failed) */
    bool ours;                /* they answer the intent's custom_ids */
    sy_buf *lines;            /* the held jobs' request lines (n of them), to send them again */
    struct batchio *next;
} batchio;

/* A job waiting for its tier's recovery to end. */
typedef struct queued {
    sy_run *r;
    sy_buf line;
} queued;

typedef enum rec_state { REC_NONE, REC_LOOKING, REC_DONE } rec_state;

/* An Anthropic batch recorded before its create and not after (docs/
 * durability.md): the listing's candidates for it, polled until each has
 * ended; its jobs wait in the first (holder) meanwhile. Its records: the
 * worker's own, or the shares (one per partition, restored from the
 * changelog) of another worker's, grouped by their batch's base key. */
typedef struct intent {
    char *key;                /* its first record's store key */
    sy_buf keys;              /* its other records' (NUL-separated): they go with it */
    char *base;               /* its batch's changelog key without the partition (batchrec.h) */
    const sy_model *model;
    int64_t recorded_ms;      /* wall clock */
    int64_t until_ms;         /* wall clock of the scan that found it: its create came before */
    size_t n, total;          /* custom_ids known here; the batch's whole count */
    char **ids;               /* its known custom_ids (room for total) */
    sy_keymap idset;          /* the same, to look up */
    struct batchio *lister;   /* the listing that looks for it (NULL: none started yet) */
    int refs;                 /* candidates pointing at it */
    batchio *holder;
} intent;

/* A listed batch kept for the first changelog restore (take_listed). */
typedef struct listed {
    sy_blist_item it;
    const sy_model *model;
} listed;

#define HELD_MAX 64 /* listed batches kept until the partitions are known */

typedef struct tier_rec {
    rec_state st;
    int64_t oldest_ms;        /* wall clock of its oldest uploaded record (the listing's window) */
    int64_t start_ms;         /* wall clock of its recovery's start */
    intent **intents;         /* not looked for yet */
    size_t nintents;
    sy_keymap uploaded;       /* recorded input file id -> its record's key (malloc'd):
                                 uploaded, no batch id recorded */
    sy_buf uploaded_ids;      /* its file ids, NUL-separated */
    struct listed *held;      /* listed batches of this tier topic whose partitions
                                 are looked at once assigned (partitions_here) */
    size_t nheld;
    size_t held_over;         /* more than HELD_MAX of them: not kept, reported (take_held) */
    int busy;                 /* listings and input files still to read */
    queued *q;
    size_t nq, capq;
} tier_rec;

typedef struct batchio_set {
    batchio *list;
    tier_rec *tiers;          /* per cfg.tiers index */
    sy_keymap adopted;        /* "<tier index>:<custom_id>" -> adopted batchio */
    sy_keymap tombs;          /* restored records' keys whose tombstone is on its way: a
                                 restore that brings them back first skips them */
    const batchio_hooks *hooks; /* run.c's (batchio_start) */
    bool assigned;            /* a changelog restore has ended: the partitions are known */
} batchio_set;

static batchio_set *set_of(worker *w)
{
    if (!w->batches) {
        batchio_set *bs = sy_xcalloc(1, sizeof *bs);
        bs->tiers = sy_xcalloc(w->cfg->ntiers ? w->cfg->ntiers : 1, sizeof *bs->tiers);
        sy_keymap_init(&bs->adopted);
        sy_keymap_init(&bs->tombs);
        w->batches = bs;
    }
    return w->batches;
}

static batchio **head(worker *w)
{
    return &set_of(w)->list;
}

static const char *adopted_key(sy_buf *out, const sy_tier *t, const char *custom_id)
{
    sy_buf_reset(out);
    sy_buf_printf(out, "%zu:%s", t->index, custom_id);
    return sy_buf_cstr(out);
}

static void crash_hook(const char *point)
{
    const char *at = getenv("SWITCHYARD_BATCH_CRASH_AT");
    if (at && !strcmp(at, point)) {
        sy_warn("SWITCHYARD_BATCH_CRASH_AT=%s: killing the worker", point);
        raise(SIGKILL);
    }
}

static void on_timer(void *ctx);

static batchio *batch_new(worker *w, const sy_tier *tier, const sy_model *model)
{
    batchio *b = sy_xcalloc(1, sizeof *b);
    b->w = w;
    b->tier = tier;
    b->model = model;
    b->gen = wreload_hold_tier(w, tier); /* tier and model stay valid past a reload */
    b->state = SY_BS_COLLECTING;
    sy_keymap_init(&b->idset);
    sy_buf_init(&b->rkey);
    sy_buf_init(&b->extra_keys);
    sy_buf_init(&b->input);
    sy_buf_init(&b->results);
    sy_loop_timer_init(&b->timer, on_timer, b);
    b->next = *head(w);
    *head(w) = b;
    return b;
}

static void intent_free(intent *in)
{
    for (size_t i = 0; i < in->n; i++) free(in->ids[i]);
    free(in->ids);
    free(in->key);
    free(in->base);
    sy_buf_free(&in->keys);
    sy_keymap_free(&in->idset);
    free(in);
}

static const char tomb_tag;
static bool log_tombstone(worker *w, const sy_tier *tier, const char *k, const void *tag);

/* A record of an intent resolved here leaves the store; a restored share
 * (a changelog key) gets its tombstone there too, so that no later owner
 * of its partition restores it again. */
static void drop_intent_record(worker *w, const sy_tier *tier, const char *key)
{
    sy_store_batch_del(w->store, key);
    if (sy_batchrec_is_log_key(key, strlen(key))) log_tombstone(w, tier, key, &tomb_tag);
}

/* Whether key is among the restored records a batch carries (they go with it). */
static bool extra_has(const batchio *b, const char *key)
{
    for (size_t at = 0; at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1)
        if (!strcmp(b->extra_keys.data + at, key)) return true;
    return false;
}

/* An intent resolved: with a winner, its own record stays (the winner
 * takes it) and its restored shares go with the winner (shares_out: once
 * their jobs' results are out, so a crash before finds them again);
 * without one, every record goes now (its jobs go into a new batch). */
static void intent_drop_record(worker *w, const sy_tier *tier, const char *k, batchio *winner)
{
    if (!winner) {
        drop_intent_record(w, tier, k);
    } else if (sy_batchrec_is_log_key(k, strlen(k)) && !extra_has(winner, k)) {
        sy_buf_append(&winner->extra_keys, k, strlen(k) + 1);
        winner->shares = true;
    }
}

static void intent_drop_records(worker *w, const sy_tier *tier, const intent *in, batchio *winner)
{
    intent_drop_record(w, tier, in->key, winner);
    for (size_t at = 0; at < in->keys.len; at += strlen(in->keys.data + at) + 1)
        intent_drop_record(w, tier, in->keys.data + at, winner);
}

static void batch_free(batchio *b)
{
    batchio **p = head(b->w);
    while (*p && *p != b) p = &(*p)->next;
    if (*p) *p = b->next;
    sy_loop_timer_cancel(b->w->loop, &b->timer);
    sy_buf k;
    sy_buf_init(&k);
    for (size_t i = 0; i < b->n; i++) {
        if (b->runs[i]) b->runs[i]->in_batch = false;
        if (b->adopted) sy_keymap_del(&set_of(b->w)->adopted, adopted_key(&k, b->tier, b->ids[i]));
        free(b->ids[i]);
        free((char *)b->jobs[i].key);
        free((char *)b->jobs[i].origin);
    }
    sy_buf_free(&k);
    for (sy_run *r = b->holding ? b->w->runs : NULL; r; r = r->next)
        if (r->batch_hold == b) r->batch_hold = NULL; /* its results go out; the record stays */
    if (b->grp) {
        if (b->grp->holder == b) b->grp->holder = NULL;
        if (--b->grp->refs == 0) intent_free(b->grp);
    }
    for (size_t i = 0; b->lines && i < b->n; i++) sy_buf_free(&b->lines[i]);
    free(b->lines);
    free(b->seen);
    free(b->parts);
    free(b->runs);
    free(b->ids);
    free(b->jobs);
    free(b->line_at);
    free(b->gone);
    free(b->answered);
    free(b->logged);
    sy_keymap_free(&b->idset);
    sy_buf_free(&b->rkey);
    sy_buf_free(&b->extra_keys);
    sy_buf_free(&b->input);
    sy_buf_free(&b->results);
    wreload_drop(b->w, b->gen); /* last: b->tier points into that generation */
    free(b);
}

static void later(batchio *b, op what, int64_t ms)
{
    b->pending = what;
    sy_loop_timer_at(b->w->loop, &b->timer, sy_mono_us() + ms * 1000);
}

/* ---- requests ---- */

/* A call to {base_url}{path} with the key; path holds only ids checked
 * by take_id. GET when get. NULL when no engine slot is free. */
static bool anthropic(const batchio *b)
{
    return !strcmp(b->model->provider->kind->name, "anthropic");
}

static sy_transfer *request(batchio *b, bool get, const char *fmt, const char *id)
{
    sy_transfer *t = sy_engine_acquire(b->w->engine);
    if (!t) return NULL;
    const sy_provider *p = b->model->provider;
    sy_buf_puts(&t->req.url, p->base_url);
    sy_buf_printf(&t->req.url, fmt, id ? id : "");
    t->req.get = get;
    sy_request_transport(&t->req, p); /* its ca_file and connection bounds, as its jobs' calls */
    if (anthropic(b)) {
        const sy_option_value *v = sy_provider_option(p, "api_version");
        sy_request_add_header(&t->req, "anthropic-version: %s", v ? v->text : "2023-06-01");
        if (p->api_key) sy_request_add_header(&t->req, "x-api-key: %s", p->api_key);
    } else if (p->api_key) {
        sy_request_add_header(&t->req, "Authorization: Bearer %s", p->api_key);
    }
    return t;
}

static void step(batchio *b, sy_batch_event ev);
static void launch(batchio *b, sy_transfer *t, op what);

/* A page of the provider's listing: the first, or the one after the
 * lister's cursor (an id checked by take_id). */
static sy_transfer *list_request(batchio *b, const char *path, const char *after)
{
    char fmt[96];
    snprintf(fmt, sizeof fmt, "%s?limit=%d%s%s%s", path, SY_BLIST_PAGE_SIZE, b->cursor[0] ? "&" : "",
             b->cursor[0] ? after : "", b->cursor[0] ? "=%s" : "%s");
    return request(b, true, fmt, b->cursor);
}

/* ---- the batch's record (batchrec.h) ---- */

/* The changelog's delivery reports of batch records carry this address
 * (never a run's): batchio_on_delivery knows them by it, and finds their
 * batch by the record's key. */
static const char batch_record_tag;

static const char *log_topic(const batchio *b)
{
    return b->w->opt.changelog ? b->w->changelog_topics[b->tier->index] : NULL; /* worker.h */
}

/* Bytes a part of a record may take: the changelog producer's
 * message.max.bytes, less a margin for the key, the writer's id and the
 * message's framing (batchrec.h, "in parts"). */
static size_t part_bound(worker *w)
{
    char v[32];
    size_t sz = sizeof v;
    long max = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(w->changelog_producer), "message.max.bytes", v, &sz) == RD_KAFKA_CONF_OK)
        max = atol(v);
    size_t margin = SY_BATCHREC_LOG_KEY_MAX + 1024;
    return max > (long)(2 * margin) ? (size_t)max - margin : (size_t)(max > 0 ? max : 1000) / 2;
}

/* How many parts partition p's record had on the changelog (0: none). */
static uint32_t *logged_of(batchio *b, int32_t p, bool add)
{
    for (size_t i = 0; i < b->nlogged; i++)
        if (b->logged[i].partition == p) return &b->logged[i].count;
    if (!add) return NULL;
    b->logged = sy_xrealloc(b->logged, (b->nlogged + 1) * sizeof *b->logged);
    b->logged[b->nlogged] = (logged_part){.partition = p, .count = 0};
    return &b->logged[b->nlogged++].count;
}

/* The record on the changelog: one per partition of its jobs, with that
 * partition's jobs (value: the writer's id, then the record), in parts
 * when larger than a message may be (batchrec.h), or their tombstones
 * (rec NULL). Each acknowledgement is counted (b->acks). */
static void mirror(batchio *b, const sy_batchrec *rec)
{
    worker *w = b->w;
    const char *topic = log_topic(b);
    if (!topic || !b->rkey.len) return;
    sy_batchrec all = {.n = b->n, .ids = (const char *const *)b->ids, .jobs = b->jobs};
    int32_t *parts = sy_xcalloc(SY_BATCHREC_PARTS_MAX, sizeof *parts);
    size_t np = sy_batchrec_partitions(&all, parts, SY_BATCHREC_PARTS_MAX);
    size_t bound = rec ? part_bound(w) : 0;
    sy_buf base, key, val;
    sy_buf_init(&base);
    sy_buf_init(&key);
    sy_buf_init(&val);
    sy_batchrec_log_base(&base, sy_buf_cstr(&b->rkey));
    for (size_t i = 0; i < np; i++) {
        uint32_t *had = logged_of(b, parts[i], rec != NULL);
        uint32_t old = had && *had ? *had : (rec ? 0 : 1), now = 0;
        if (rec) {
            size_t c = sy_batchrec_count_parts(rec, parts[i], bound);
            now = c > SY_BATCHREC_PARTS_PER_MAX ? SY_BATCHREC_PARTS_PER_MAX : (uint32_t)c;
            if (c > now) b->mirror_failed = true; /* not all of it fits: it owns nothing */
        }
        /* the parts of before go when their count changed (their keys differ) */
        for (uint32_t k = 0; old != now && k < old; k++) {
            sy_batchrec_log_part_key(&key, sy_buf_cstr(&base), parts[i], k, old);
            if (sy_kafka_produce_to(w->changelog_producer, topic, parts[i], key.data, key.len, NULL, 0, NULL,
                                    (void *)&batch_record_tag) == 0)
                b->acks++;
        }
        size_t cursor = 0;
        for (uint32_t k = 0; k < now; k++) {
            sy_batchrec_log_part_key(&key, sy_buf_cstr(&base), parts[i], k, now);
            sy_buf_reset(&val);
            sy_buf_append(&val, &w->owner_id, sizeof w->owner_id);
            sy_batchrec_encode_part(&val, rec, parts[i], bound, &cursor);
            if (sy_kafka_produce_to(w->changelog_producer, topic, parts[i], key.data, key.len, val.data, val.len,
                                    NULL, (void *)&batch_record_tag) == 0)
                b->acks++;
            else
                b->mirror_failed = true;
        }
        if (had) *had = now;
    }
    sy_buf_free(&base);
    sy_buf_free(&key);
    sy_buf_free(&val);
    free(parts);
}

/* The batch's jobs, recorded with their messages, are its own: their
 * input offsets go (docs/durability.md). */
static void own_jobs(batchio *b)
{
    b->own_on_ack = false;
    if (b->mirror_failed) {
        sy_warn("batch %s of tier '%s': its record is not on the changelog; its jobs keep their offsets",
                b->batch_id, b->tier->name);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->runs[i] && b->jobs[i].present) set_of(b->w)->hooks->owned(b->runs[i]);
    sy_info("batch %s of tier '%s': recorded; it owns its %zu job(s), their offsets are released",
            b->batch_id, b->tier->name, b->n);
}

bool batchio_on_delivery(worker *w, const rd_kafka_message_t *m)
{
    if (m->_private != (void *)&batch_record_tag && m->_private != (void *)&tomb_tag) return false;
    if (!w->batches || !m->key || !m->rkt) return true; /* its batch is gone */
    if (!m->payload && w->batches->tombs.count) { /* a tombstone on the log (or refused: the copy stays) */
        sy_buf k;
        sy_buf_init(&k);
        sy_buf_append(&k, m->key, m->key_len);
        sy_keymap_del(&w->batches->tombs, sy_buf_cstr(&k));
        sy_buf_free(&k);
    }
    if (m->_private == (void *)&tomb_tag) return true; /* no batch counts it */
    sy_buf base;
    sy_buf_init(&base);
    for (batchio *b = *head(w); b; b = b->next) {
        if (!b->rkey.len || b->acks <= 0) continue;
        sy_batchrec_log_base(&base, sy_buf_cstr(&b->rkey));
        if (m->key_len <= base.len || memcmp(m->key, base.data, base.len) || ((const char *)m->key)[base.len] != '|')
            continue;
        if (m->err) {
            if (m->payload) b->mirror_failed = true;
            sy_warn("batch of tier '%s': its changelog record was refused: %s", b->tier->name,
                    rd_kafka_err2str(m->err));
        }
        if (--b->acks == 0 && b->own_on_ack) own_jobs(b);
        break;
    }
    sy_buf_free(&base);
    return true;
}

/* A mark of b's contents for its record key and upload boundary: a hash of
 * its custom_ids (unique in a batch), not of the whole input, which cost
 * thousands of instructions a job. The boundary needs no more: a JSONL
 * line holds no CR or LF, so "\r\n--boundary" never occurs in the input. */
static uint64_t ids_mark(const batchio *b)
{
    uint64_t h = SY_FNV1A64_BASIS;
    for (size_t i = 0; i < b->n; i++) h = sy_fnv1a64(h, b->ids[i], strlen(b->ids[i]) + 1);
    return h;
}

/* Stage b's record in the store (durable at the next group commit). False
 * when it cannot be kept (too large for the store): the batch goes on
 * unrecorded, found again only by the listing, as before records. */
static bool stage_record(batchio *b)
{
    worker *w = b->w;
    if (!b->rkey.len)
        sy_buf_printf(&b->rkey, "%.200s\x1f%016" PRIx64 "%016" PRIx64, b->tier->name,
                      ids_mark(b), (uint64_t)sy_mono_us());
    sy_batchrec rec = {.kind = anthropic(b) ? SY_BR_ANTHROPIC : SY_BR_OPENAI,
                       .status = b->batch_id[0] ? SY_BR_CREATED : SY_BR_UPLOADED,
                       .recorded_ms = sy_now_ms(), .tier = b->tier->name, .model = b->model->alias,
                       .file_id = b->file_id, .batch_id = b->batch_id, .n = b->n,
                       .ids = (const char *const *)b->ids, .jobs = b->jobs};
    sy_buf enc;
    sy_buf_init(&enc);
    sy_batchrec_encode(&enc, &rec);
    int rc = sy_store_batch_put(w->store, sy_buf_cstr(&b->rkey), enc.data, enc.len);
    sy_buf_free(&enc);
    if (rc) {
        sy_warn("batch of tier '%s': its record is too large for the store; not recorded", b->tier->name);
        sy_buf_reset(&b->rkey);
    } else {
        mirror(b, &rec);
    }
    return rc == 0;
}

/* The batch is over (its jobs answered, handed to their retry, or their
 * results kept no longer): its record goes, in the same group commit as
 * the results it staged. */
/* The partition of a restored record's key (a changelog key), or -1. */
static int32_t key_partition(const char *k)
{
    int32_t p;
    uint32_t part, count;
    size_t base;
    return sy_batchrec_log_key_parse(k, strlen(k), &p, &part, &count, &base) == 0 ? p : -1;
}

/* A restored record's tombstone, under its own key, into its partition of
 * the tier's changelog; the key is remembered until the tombstone is
 * acknowledged (batchio_on_delivery): a restore that brings the record
 * back before it is on the log skips it. True when produced. */
static bool log_tombstone(worker *w, const sy_tier *tier, const char *k, const void *tag)
{
    const char *topic = w->opt.changelog ? w->changelog_topics[tier->index] : NULL;
    int32_t part = key_partition(k);
    if (!topic || part < 0 ||
        sy_kafka_produce_to(w->changelog_producer, topic, part, k, strlen(k), NULL, 0, NULL, (void *)tag) != 0)
        return false;
    sy_keymap_put(&set_of(w)->tombs, k, w);
    return true;
}

/* The same for a record of b's (its acknowledgement counted in b->acks). */
static void tombstone(batchio *b, const char *k)
{
    if (log_tombstone(b->w, b->tier, k, &batch_record_tag)) b->acks++;
}

static void forget_record(batchio *b)
{
    if (b->rkey.len) {
        sy_store_batch_del(b->w->store, sy_buf_cstr(&b->rkey));
        mirror(b, NULL); /* the tombstones of its changelog records */
        if (sy_batchrec_is_log_key(b->rkey.data, b->rkey.len)) tombstone(b, sy_buf_cstr(&b->rkey));
    }
    for (size_t at = 0; at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1) {
        const char *k = b->extra_keys.data + at;
        sy_store_batch_del(b->w->store, k);
        tombstone(b, k);
    }
    sy_buf_reset(&b->extra_keys);
    sy_buf_reset(&b->rkey);
}

/* b is over: its record goes now, or once the results it answered are
 * out (batchio_result_out). */
static void forget_when_out(batchio *b)
{
    if (b->holding) {
        b->forget_held = true;
        return;
    }
    if (!b->keep_record && (b->rkey.len || b->extra_keys.len)) {
        sy_info("batch %s of tier '%s': over, the results it answered are out; its record goes", b->batch_id,
                b->tier->name);
        forget_record(b);
    }
    batch_free(b);
}

/* An intent's winner whose jobs here are all answered and their results
 * out: the intent's restored shares get their tombstones now, not when
 * the batch is forgotten (an adopted batch is kept ADOPT_KEEP_MS for late
 * jobs; a worker stopped before then would leave them on the changelog). */
static void shares_out(batchio *b)
{
    if (!b->shares || b->keep_record || b->holding) return;
    for (size_t i = 0; i < b->n; i++)
        if (!b->answered[i]) return;
    for (size_t at = 0; at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1)
        drop_intent_record(b->w, b->tier, b->extra_keys.data + at);
    sy_buf_reset(&b->extra_keys);
    b->shares = false;
}

void batchio_result_out(worker *w, sy_run *r, bool out)
{
    batchio *b = r->batch_hold;
    r->batch_hold = NULL;
    if (!b || !w->batches) return;
    if (!out) b->keep_record = true;
    if (--b->holding) return;
    if (b->forget_held) forget_when_out(b);
    else shares_out(b);
}

/* r's line went to it; its result staged, b's record waits for it. */
static void answered_by(batchio *b, sy_run *r, bool staged)
{
    if (!staged) return;
    r->batch_hold = b;
    b->holding++;
}

void batchio_before_group_commit(worker *w)
{
    if (!w->batches) return;
    for (batchio *b = *head(w); b; b = b->next) b->committing = b->recording;
}

void batchio_after_group_commit(worker *w)
{
    if (!w->batches) return;
    bool again = true;
    while (again) { /* a step may free a batch: walk again from the head */
        again = false;
        for (batchio *b = *head(w); b; b = b->next)
            if (b->recording && b->committing) { /* durable: not one staged since */
                b->recording = b->committing = false;
                bool created = b->state == SY_BS_CREATED;
                step(b, SY_BE_RECORDED);
                /* recorded created (with its jobs' messages), in the store
                 * and on the changelog: the batch owns its jobs */
                if (created && b->acks > 0) b->own_on_ack = true;
                else if (created) own_jobs(b);
                again = true;
                break;
            }
    }
}

/* Anthropic: no upload, the create carries the requests. */
static void start_anthropic_call(batchio *b, op what)
{
    sy_transfer *t = NULL;
    switch (what) {
    case OP_UPLOAD: step(b, SY_BE_UPLOADED); return;
    case OP_CREATE:
        crash_hook("before_create"); /* its intent is recorded, no create sent */
        if (!(t = request(b, false, "/messages/batches", NULL))) break;
        sy_request_add_header(&t->req, "Content-Type: application/json");
        sy_buf_puts(&t->req.body, "{\"requests\":[");
        sy_buf_append(&t->req.body, b->input.data, b->input.len);
        sy_buf_puts(&t->req.body, "]}");
        break;
    case OP_POLL: t = request(b, true, "/messages/batches/%s", b->batch_id); break;
    case OP_OUTPUT: t = request(b, true, "/messages/batches/%s/results", b->batch_id); break;
    case OP_LIST: t = list_request(b, "/messages/batches", "after_id"); break;
    default: return; /* no error file or input file */
    }
    if (!t) later(b, what, RETRY_MS);
    else launch(b, t, what);
}

static void launch(batchio *b, sy_transfer *t, op what)
{
    b->t = t;
    b->pending = what;
    sy_engine_launch(b->w->engine, t, b->tier->retry.timeout_ms, b);
}

/* The create's metadata beyond tier and model: the tier topic and the
 * partitions of the jobs it carries, by which a worker listing batches at
 * start adopts only those of its partitions (partitions_here). */
static void put_owner_metadata(const batchio *b, sy_buf *body)
{
    int32_t *parts = sy_xcalloc(b->n + 1, sizeof *parts);
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->jobs[i].present && !b->gone[i]) parts[n++] = b->jobs[i].partition;
    char spec[SY_BLIST_PARTS_MAX];
    sy_blist_parts_spec(parts, n, spec);
    free(parts);
    sy_buf_puts(body, ",\"switchyard_topic\":");
    sy_buf_json_cstr(body, b->tier->topic);
    if (!spec[0]) return;
    sy_buf_puts(body, ",\"switchyard_partitions\":");
    sy_buf_json_cstr(body, spec);
}

static void start_call(batchio *b, op what)
{
    if (anthropic(b)) {
        start_anthropic_call(b, what);
        return;
    }
    sy_transfer *t = NULL;
    switch (what) {
    case OP_UPLOAD: {
        if (!(t = request(b, false, "/files", NULL))) break;
        char boundary[40];
        snprintf(boundary, sizeof boundary, "sybatch%016" PRIx64, ids_mark(b));
        sy_request_add_header(&t->req, "Content-Type: multipart/form-data; boundary=%s", boundary);
        sy_buf_printf(&t->req.body, "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                                    "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"switchyard.jsonl\"\r\n"
                                    "Content-Type: application/jsonl\r\n\r\n",
                      boundary, boundary);
        sy_buf_append(&t->req.body, b->input.data, b->input.len);
        sy_buf_printf(&t->req.body, "\r\n--%s--\r\n", boundary);
        break;
    }
    case OP_CREATE:
        if (!(t = request(b, false, "/batches", NULL))) break;
        sy_request_add_header(&t->req, "Content-Type: application/json");
        sy_buf_puts(&t->req.body, "{\"input_file_id\":");
        sy_buf_json_cstr(&t->req.body, b->file_id);
        sy_buf_puts(&t->req.body, ",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\","
                                  "\"metadata\":{\"switchyard_tier\":");
        sy_buf_json_cstr(&t->req.body, b->tier->name);
        sy_buf_puts(&t->req.body, ",\"switchyard_model\":");
        sy_buf_json_cstr(&t->req.body, b->model->alias);
        put_owner_metadata(b, &t->req.body);
        sy_buf_puts(&t->req.body, "}}");
        break;
    case OP_POLL: t = request(b, true, "/batches/%s", b->batch_id); break;
    case OP_OUTPUT: t = request(b, true, "/files/%s/content", b->out_id); break;
    case OP_ERRORS: t = request(b, true, "/files/%s/content", b->err_id); break;
    case OP_LIST: t = list_request(b, "/batches", "after"); break;
    case OP_INPUT: t = request(b, true, "/files/%s/content", b->file_id); break;
    case OP_NONE: return;
    }
    if (!t) later(b, what, RETRY_MS); /* no engine slot now */
    else launch(b, t, what);
}

/* ---- effects ---- */

static void answer_all(batchio *b);

static void step(batchio *b, sy_batch_event ev)
{
    sy_batch_step st = sy_batch_next(b->state, ev);
    if (st.effects & SY_BX_ERROR) {
        sy_warn("batch of tier '%s': event %d in state %s ignored", b->tier->name, (int)ev,
                sy_batch_state_name(b->state));
        return;
    }
    b->state = st.next;
    if (st.effects & SY_BX_UPLOAD) start_call(b, OP_UPLOAD);
    /* RECORD: staged now, RECORDED after the group commit made it durable
     * (batchio_after_group_commit): the create waits for it. */
    if (st.effects & SY_BX_RECORD) {
        if (stage_record(b)) b->recording = true;
        else step(b, SY_BE_RECORDED);
    }
    if (st.effects & SY_BX_CREATE) start_call(b, OP_CREATE);
    if (st.effects & SY_BX_POLL) later(b, OP_POLL, sy_batch_poll_delay(&b->tier->batch, b->polls++));
    if (st.effects & SY_BX_DOWNLOAD) start_call(b, b->out_id[0] ? OP_OUTPUT : OP_ERRORS);
    if (st.effects & SY_BX_PUBLISH) answer_all(b);
    if (st.effects & SY_BX_FORGET) {
        if (b->adopted) later(b, OP_NONE, adopt_keep_ms()); /* for its jobs still to come */
        else forget_when_out(b);
    }
}

static void send_now(batchio *b)
{
    sy_loop_timer_cancel(b->w->loop, &b->timer);
    sy_info("batch of tier '%s', model '%s': %zu job(s), %zu bytes: uploading", b->tier->name,
            b->model->alias, b->n, b->input.len);
    step(b, SY_BE_SEND);
}

static void on_timer(void *ctx)
{
    batchio *b = ctx;
    if (b->state == SY_BS_DONE) { /* an adopted batch's keeping time is over */
        sy_info("batch %s of tier '%s': kept %" PRId64 " ms for late jobs; its record goes once the %zu "
                "result(s) it holds are out", b->batch_id, b->tier->name, adopt_keep_ms(), b->holding);
        forget_when_out(b);
    }
    else if (b->state == SY_BS_COLLECTING && b->pending == OP_NONE) send_now(b);
    else start_call(b, b->pending);
}

/* An id from the provider: 1..ID_MAX-1 bytes of [A-Za-z0-9_-]. */
static bool take_id(json_t *o, const char *key, char *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!sy_blist_id_ok(s)) return false; /* SY_BLIST_ID_MAX == ID_MAX */
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* Why a batch API call failed, for the log: the transport error, or the
 * provider's error message as its jobs' calls read it (sy_provider_parse:
 * the API key taken out, at most 255 bytes); logged cut to REASON_MAX
 * bytes, escaped by the logger. */
#define REASON_MAX 200
typedef char reason[sizeof(((sy_outcome *)0)->message)];
static void failure_reason(const batchio *b, const sy_transfer *t, char *out, size_t size)
{
    if (t->too_large) snprintf(out, size, "HTTP %ld: the answer is over the size limit", t->http_status);
    else if (t->curl_code != CURLE_OK) snprintf(out, size, "%s", curl_easy_strerror(t->curl_code));
    else if (t->http_status >= 200 && t->http_status < 300)
        snprintf(out, size, "HTTP %ld: an answer without what was asked for", t->http_status);
    else {
        sy_outcome o;
        sy_provider_parse(b->model->provider, (int)t->http_status, t->headers.data, t->headers.len, t->body.data,
                          t->body.len, &o);
        snprintf(out, size, "%s", o.message);
        sy_outcome_free(&o);
    }
}

/* A call failed: again after the poll backoff, up to 10 times, then the
 * batch fails (its jobs are retried as their tier says). */
static void call_failed(batchio *b, op what, const sy_transfer *t)
{
    reason why;
    failure_reason(b, t, why, sizeof why);
    sy_warn("batch of tier '%s': %s failed (%.*s)", b->tier->name,
            what == OP_UPLOAD ? "upload" : what == OP_CREATE ? "create" : what == OP_POLL ? "poll" : "download", REASON_MAX,
            why);
    bool permanent = t->curl_code == CURLE_OK && t->http_status >= 400 && t->http_status < 500 &&
                     t->http_status != 408 && t->http_status != 429;
    if (!permanent && ++b->failures <= 10) {
        later(b, what, sy_batch_poll_delay(&b->tier->batch, b->failures));
        return;
    }
    step(b, SY_BE_FAILED);
}

static void on_poll(batchio *b, json_t *o)
{
    sy_batch_status st = sy_batch_status_of(json_string_value(json_object_get(o, anthropic(b) ? "processing_status" : "status")));
    if (st == SY_BST_ENDED && anthropic(b)) {
        snprintf(b->out_id, sizeof b->out_id, "results"); /* one results file, by the batch id */
        step(b, SY_BE_ENDED);
    } else if (st == SY_BST_ENDED) {
        take_id(o, "output_file_id", b->out_id);
        take_id(o, "error_file_id", b->err_id);
        if (!b->out_id[0] && !b->err_id[0]) step(b, SY_BE_FAILED);
        else step(b, SY_BE_ENDED);
    } else if (st == SY_BST_FAILED) {
        sy_warn("batch %s of tier '%s' ended without results; its %zu job(s) are retried", b->batch_id,
                b->tier->name, b->n);
        step(b, SY_BE_FAILED);
    } else if (sy_batch_overdue(b->created_ms, sy_mono_us() / 1000)) {
        sy_warn("batch %s of tier '%s' has not ended 25 h after its create; given up, its %zu job(s) "
                "are retried", b->batch_id, b->tier->name, b->n);
        step(b, SY_BE_FAILED);
    } else {
        step(b, SY_BE_RUNNING);
    }
}

static void on_list(batchio *lister, const sy_transfer *t, bool ok);
static void on_input(batchio *b, const sy_transfer *t, bool ok);

bool batchio_on_response(worker *w, sy_transfer *t, void *opaque)
{
    if (!w->batches) return false;
    batchio *b = *head(w);
    while (b && b != opaque) b = b->next;
    if (!b) return false;
    op what = b->pending;
    b->t = NULL;
    b->pending = OP_NONE;
    if (b->stop_on_response) { /* handed over meanwhile: nothing left here */
        batch_free(b);
        return true;
    }
    bool ok = t->curl_code == CURLE_OK && !t->too_large && t->http_status >= 200 && t->http_status < 300;
    if (what == OP_LIST) {
        on_list(b, t, ok);
    } else if (what == OP_INPUT) {
        on_input(b, t, ok);
    } else if (!ok) {
        call_failed(b, what, t);
    } else if (what == OP_OUTPUT || what == OP_ERRORS) {
        sy_buf_append(&b->results, t->body.data, t->body.len);
        sy_buf_putc(&b->results, '\n');
        b->failures = 0;
        if (what == OP_OUTPUT && b->err_id[0]) start_call(b, OP_ERRORS);
        else step(b, SY_BE_DOWNLOADED);
    } else {
        json_t *o = json_loadb(t->body.data, t->body.len, 0, NULL);
        b->failures = 0;
        if (what == OP_UPLOAD && take_id(o, "id", b->file_id)) {
            crash_hook("after_upload");
            step(b, SY_BE_UPLOADED);
        } else if (what == OP_CREATE && take_id(o, "id", b->batch_id)) {
            sy_info("batch %s of tier '%s': %zu job(s) created", b->batch_id, b->tier->name, b->n);
            crash_hook("after_create");
            b->created_ms = sy_mono_us() / 1000;
            step(b, SY_BE_CREATED);
        } else if (what == OP_POLL && json_is_object(o)) on_poll(b, o);
        else call_failed(b, what, t);
        json_decref(o);
    }
    return true; /* the engine takes t back */
}

/* ---- answering the jobs ---- */

static void candidate_ended(batchio *b);

/* The next line of a batch's output (results, JSONL) that answers one of
 * m's custom_ids, from *p on; *p moves past it. Lines of unknown jobs,
 * repeated and unreadable ones are counted in m and skipped. */
static bool next_answer(const sy_buf *results, const char **p, sy_batch_match *m, sy_batch_answer *a)
{
    if (!*p) return false;
    const char *end = results->data + results->len;
    while (*p < end) {
        const char *nl = memchr(*p, '\n', (size_t)(end - *p)), *le = nl ? nl : end;
        bool hit = sy_batch_match_line(m, *p, (size_t)(le - *p), a) == SY_BL_ANSWER;
        *p = nl ? nl + 1 : end;
        if (hit) return true;
    }
    return false;
}

static void answer_all(batchio *b)
{
    if (b->grp) { /* a candidate: it answers only once its intent's candidates are all resolved */
        candidate_ended(b);
        return;
    }
    sy_batch_match m;
    sy_batch_match_init(&m, (const char *const *)b->ids, b->n);
    const char *p = b->results.data;
    sy_batch_answer a;
    while (next_answer(&b->results, &p, &m, &a)) {
        sy_run *r = b->runs[a.index];
        b->runs[a.index] = NULL;
        if (r) {
            b->answered[a.index] = true;
            r->in_batch = false;
            answered_by(b, r, set_of(b->w)->hooks->line(r, b->batch_id, a.status_code, a.body,
                                                         a.body ? strlen(a.body) : 0, a.error_code));
        }
        free(a.body);
    }
    if (m.unknown || m.duplicate || m.malformed)
        sy_warn("batch %s of tier '%s': ignored %" PRIu64 " line(s) of unknown jobs, %" PRIu64
                " repeated, %" PRIu64 " unreadable", b->batch_id, b->tier->name, m.unknown, m.duplicate,
                m.malformed);
    size_t cur = 0, idx, missing = 0;
    while (sy_batch_match_next_missing(&m, &cur, &idx)) {
        sy_run *r = b->runs[idx];
        b->runs[idx] = NULL;
        if (r) { /* an adopted batch's jobs that have not come back are not missing */
            b->answered[idx] = true;
            missing++;
            r->in_batch = false;
            answered_by(b, r, set_of(b->w)->hooks->line(r, b->batch_id, 0, NULL, 0, "no_result_line"));
        }
    }
    if (missing) sy_warn("batch %s of tier '%s': %zu job(s) without a result line, retried", b->batch_id,
                         b->tier->name, missing);
    sy_batch_match_free(&m);
    step(b, SY_BE_PUBLISHED);
}

/* A job's message, copied (its run may go first), or none when too large. */
static sy_batchrec_job copy_msg(const sy_batchrec_job *m)
{
    sy_batchrec_job j = *m;
    if (!j.present || (uint64_t)j.keylen + j.len > SY_BATCHREC_MSG_MAX) return (sy_batchrec_job){0};
    char *kv = sy_xmalloc((size_t)j.keylen + j.len + 1);
    memcpy(kv, j.key, j.keylen);
    memcpy(kv + j.keylen, j.value, j.len);
    kv[j.keylen + j.len] = '\0';
    j.key = kv;
    j.value = kv + j.keylen;
    j.origin = j.origin ? sy_xstrdup(j.origin) : NULL;
    return j;
}

/* A job (r, or NULL for one not back yet) with custom_id key joins b; its
 * tier message is kept for the record: r's, or m's (from a record), or none. */
static void add_job_msg(batchio *b, sy_run *r, const char *key, const sy_batchrec_job *m)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->runs = sy_xrealloc(b->runs, b->cap * sizeof *b->runs);
        b->ids = sy_xrealloc(b->ids, b->cap * sizeof *b->ids);
        b->jobs = sy_xrealloc(b->jobs, b->cap * sizeof *b->jobs);
        b->line_at = sy_xrealloc(b->line_at, b->cap * sizeof *b->line_at);
        b->gone = sy_xrealloc(b->gone, b->cap * sizeof *b->gone);
        b->answered = sy_xrealloc(b->answered, b->cap * sizeof *b->answered);
    }
    b->line_at[b->n] = b->input.len;
    b->gone[b->n] = false;
    b->answered[b->n] = false;
    sy_batchrec_job j = {0};
    if (r) /* the message's bytes are in r->raw: key, then value */
        j = (sy_batchrec_job){.present = 1, .partition = r->partition, .offset = r->offset,
                              .origin = r->origin, .key = r->raw, .keylen = (uint32_t)r->keylen,
                              .value = r->raw + r->keylen, .len = (uint32_t)r->len};
    else if (m && m->present)
        j = *m;
    b->jobs[b->n] = copy_msg(&j);
    b->runs[b->n] = r;
    b->ids[b->n] = sy_xstrdup(key);
    sy_keymap_put(&b->idset, key, b);
    b->n++;
}

static void add_job(batchio *b, sy_run *r, const char *key)
{
    add_job_msg(b, r, key, NULL);
}

/* ---- recovery: the batches of before a restart ---- */

static void route(worker *w, sy_run *r, sy_buf *line);

/* The uploaded records no listed batch took: their files are never used. */
static void drop_uploaded(worker *w, tier_rec *tr)
{
    for (size_t at = 0; at < tr->uploaded_ids.len; at += strlen(tr->uploaded_ids.data + at) + 1) {
        char *rkey = sy_keymap_del(&tr->uploaded, tr->uploaded_ids.data + at);
        if (rkey) sy_store_batch_del(w->store, rkey);
        free(rkey);
    }
    sy_buf_free(&tr->uploaded_ids);
    sy_keymap_free_with(&tr->uploaded, free);
    sy_keymap_init(&tr->uploaded);
}

static void recovery_step_done(worker *w, const sy_tier *tier)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    if (--tr->busy > 0) return;
    tr->st = REC_DONE;
    drop_uploaded(w, tr);
    size_t n = tr->nq;
    queued *q = tr->q;
    tr->q = NULL;
    tr->nq = tr->capq = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].r) route(w, q[i].r, &q[i].line);
        sy_buf_free(&q[i].line);
    }
    free(q);
}

static const sy_model *tier_model(const sy_tier *t, const char *alias)
{
    for (size_t i = 0; alias && i < t->nmodels; i++)
        if (t->models[i].model && !strcmp(t->models[i].model->alias, alias)) return t->models[i].model;
    return NULL;
}

/* The batch (ours or adopted) with this provider id, or NULL. */
static batchio *batch_by_id(worker *w, const char *batch_id)
{
    for (batchio *b = *head(w); b; b = b->next)
        if (!b->lister && b->batch_id[0] && !strcmp(b->batch_id, batch_id)) return b;
    return NULL;
}

/* b, found after a restart, is polled; its custom_ids are in the map of
 * adopted jobs already. */
static void adopt(batchio *b, const char *how)
{
    sy_info("batch %s of tier '%s': %s after a restart, %zu job(s); polled, not sent again", b->batch_id,
            b->tier->name, how, b->n);
    step(b, SY_BE_ADOPTED);
}

/* The tier topic's partitions assigned here, read once for a page of the
 * listing or the held batches (rd_kafka_assignment waits on librdkafka's
 * thread: not once per listed batch). */
typedef struct assigned {
    bool read;
    int32_t *parts;
    size_t n;
} assigned;

/* Whether a listed batch of this tier carries jobs of a partition this
 * worker is assigned now (its metadata names the tier topic and the
 * partitions: put_owner_metadata): a batch created but not recorded by a
 * worker that died, whose jobs come back to this one. */
static bool partitions_here(worker *w, const sy_tier *tier, assigned *a, const sy_blist_item *it)
{
    if (!a->read) {
        a->read = true;
        rd_kafka_topic_partition_list_t *parts = NULL;
        if (!w->consumer || rd_kafka_assignment(w->consumer, &parts) || !parts) return false;
        a->parts = sy_xcalloc((size_t)parts->cnt + 1, sizeof *a->parts);
        for (int i = 0; i < parts->cnt; i++)
            if (!strcmp(parts->elems[i].topic, tier->topic)) a->parts[a->n++] = parts->elems[i].partition;
        rd_kafka_topic_partition_list_destroy(parts);
    }
    return a->n && sy_blist_parts_meet(it->md_parts, a->parts, a->n);
}

/* A listed batch taken: polled, its input file read for its custom_ids. */
static void adopt_listed(worker *w, const sy_tier *tier, const sy_model *model, const sy_blist_item *it)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    batchio *b = batch_new(w, tier, model);
    b->adopted = true;
    snprintf(b->batch_id, sizeof b->batch_id, "%s", it->id);
    snprintf(b->file_id, sizeof b->file_id, "%s", it->input_file_id);
    char *rkey = sy_keymap_get(&tr->uploaded, b->file_id);
    if (rkey) { /* recorded after its upload, created before a crash: its record gets the id */
        sy_buf_puts(&b->rkey, rkey);
        sy_keymap_del(&tr->uploaded, b->file_id);
        free(rkey);
    }
    tr->st = REC_LOOKING; /* the tier's jobs wait until its custom_ids are known */
    tr->busy++;
    start_call(b, OP_INPUT);
}

/* OpenAI: this tier's listed batches that may still answer are adopted
 * and their input files read when they are this worker's: its input file
 * is one a record here names (created before a crash, not recorded), or
 * its metadata names this tier topic and a partition assigned here (a
 * dead worker's, not recorded; the partitions are known once the first
 * changelog restore has ended, until then the batch is kept; a listing
 * after a restore matches that restore's partitions: list_assigned).
 * Another live worker's batch, or one polled here already, is left. */
static void take_listed(batchio *lister, assigned *a, const sy_blist_item *it)
{
    worker *w = lister->w;
    const sy_tier *tier = lister->tier;
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    if (strcmp(it->md_tier, tier->name) || tier_model(tier, it->md_model) != lister->model ||
        it->status == SY_BST_FAILED || !it->input_file_id[0] || batch_by_id(w, it->id))
        return; /* another's, over, or a batch polled already (recorded, or this worker's own) */
    if (!sy_keymap_get(&tr->uploaded, it->input_file_id)) {
        if (!it->md_parts[0] || strcmp(it->md_topic, tier->topic)) return; /* another deployment's */
        if (!set_of(w)->assigned && !lister->parts) {
            if (tr->nheld < HELD_MAX) {
                if (tr->nheld % 8 == 0) tr->held = sy_xrealloc(tr->held, (tr->nheld + 8) * sizeof *tr->held);
                tr->held[tr->nheld++] = (listed){.it = *it, .model = lister->model};
            } else {
                tr->held_over++;
            }
            return;
        }
        if (!partitions_here(w, tier, a, it)) return; /* another live worker's: it polls it */
    }
    adopt_listed(w, tier, lister->model, it);
}

/* After the first changelog restore: the listed batches kept for their
 * partitions are adopted when those are assigned here; the rest go (more
 * than HELD_MAX kept: the listing is read again, list_assigned). */
static void take_held(worker *w, const sy_tier *tier)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    assigned a = {0};
    for (size_t i = 0; i < tr->nheld; i++)
        if (!batch_by_id(w, tr->held[i].it.id) && partitions_here(w, tier, &a, &tr->held[i].it))
            adopt_listed(w, tier, tr->held[i].model, &tr->held[i].it);
    free(a.parts);
    if (tr->held_over)
        sy_info("tier '%s': %zu listed batch(es) past the first %d waiting for the partitions: the listing is "
                "read again for the partitions assigned", tier->name, tr->held_over, HELD_MAX);
    tr->held_over = 0;
    free(tr->held);
    tr->held = NULL;
    tr->nheld = 0;
}

static void resolve_intents(batchio *lister, bool complete);

/* A page of the listing: its batches taken (OpenAI) or kept for the
 * intents (Anthropic); then the next page, until the batches are older
 * than the oldest record that may have one (batchlist.h). A page that
 * cannot be read is asked again a few times. */
static void on_list(batchio *lister, const sy_transfer *t, bool ok)
{
    worker *w = lister->w;
    const sy_tier *tier = lister->tier;
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    sy_blist_page pg;
    if (!ok || sy_blist_decode(t->body.data, t->body.len, anthropic(lister), &pg) != 0) {
        if (++lister->failures <= 5) {
            later(lister, OP_LIST, sy_batch_poll_delay(&tier->batch, lister->failures));
            return;
        }
        reason why;
        failure_reason(lister, t, why, sizeof why);
        sy_warn("tier '%s': cannot list the provider's batches (%.*s); batches of before a restart are "
                "not looked for (their jobs are sent again)", tier->name, REASON_MAX, why);
        resolve_intents(lister, false);
        recovery_step_done(w, tier);
        batch_free(lister);
        return;
    }
    lister->failures = 0;
    if (pg.skipped) sy_warn("tier '%s': %zu unreadable item(s) in the provider's batch listing ignored", tier->name, pg.skipped);
    assigned a = {0};
    if (lister->parts) a = (assigned){.read = true, .parts = lister->parts, .n = lister->nparts};
    for (size_t i = 0; i < pg.n; i++) {
        if (!anthropic(lister)) {
            take_listed(lister, &a, &pg.items[i]);
            continue;
        }
        bool maybe = false; /* kept only when it may be an intent's batch: bounded by what is asked */
        for (size_t j = 0; !maybe && j < tr->nintents; j++) {
            const intent *in = tr->intents[j];
            maybe = in->lister == lister && sy_blist_candidate(&pg.items[i], in->recorded_ms, in->until_ms, in->total);
        }
        if (!maybe) continue;
        if (lister->nseen % 64 == 0)
            lister->seen = sy_xrealloc(lister->seen, (lister->nseen + 64) * sizeof *lister->seen);
        lister->seen[lister->nseen++] = pg.items[i];
    }
    if (a.parts != lister->parts) free(a.parts);
    int64_t window = lister->since_ms ? lister->since_ms : tr->oldest_ms == INT64_MAX ? tr->start_ms : tr->oldest_ms;
    sy_blist_next next = sy_blist_after_page(&pg, lister->cursor, ++lister->pages, window - SY_BLIST_MARGIN_MS);
    if (next == SY_BLN_MORE) {
        snprintf(lister->cursor, sizeof lister->cursor, "%s", pg.last_id);
        sy_blist_page_free(&pg);
        start_call(lister, OP_LIST);
        return;
    }
    sy_blist_page_free(&pg);
    if (next == SY_BLN_CUT)
        sy_warn("tier '%s': the provider's batch listing was cut after %d page(s); older batches are not "
                "looked at", tier->name, lister->pages);
    resolve_intents(lister, next == SY_BLN_DONE);
    recovery_step_done(w, tier); /* the listing itself */
    batch_free(lister);
}

/* ---- Anthropic: a batch created but not recorded (its intent) ---- */

/* A listed batch that may be the create of intent `in`: polled, its
 * custom_ids those of the intent (the jobs join the first candidate, the
 * holder, until it is known which is ours). */
static void candidate_new(batchio *lister, intent *in, const sy_blist_item *it)
{
    worker *w = lister->w;
    batchio *b = batch_new(w, lister->tier, lister->model);
    b->adopted = true;
    b->grp = in;
    in->refs++;
    snprintf(b->batch_id, sizeof b->batch_id, "%s", it->id);
    b->listed_ms = it->created_ms;
    for (size_t i = 0; i < in->n; i++) add_job(b, NULL, in->ids[i]);
    b->lines = sy_xcalloc(in->n ? in->n : 1, sizeof *b->lines);
    if (!in->holder) {
        in->holder = b;
        sy_buf k;
        sy_buf_init(&k);
        for (size_t i = 0; i < b->n; i++) sy_keymap_put(&set_of(w)->adopted, adopted_key(&k, b->tier, b->ids[i]), b);
        sy_buf_free(&k);
    }
    int64_t age = sy_now_ms() - it->created_ms; /* bounded: a clock that went back is no age */
    if (age < 0) age = 0;
    if (age > SY_BATCH_GIVE_UP_MS) age = SY_BATCH_GIVE_UP_MS;
    b->created_ms = sy_mono_us() / 1000 - age;
    adopt(b, "listed as a candidate for a create not recorded");
}

/* The intents of the lister's model: each listed batch that may be its
 * create is polled as a candidate; with none in a complete listing the
 * create never happened: the record goes and the jobs (their offsets
 * not committed) come back from Kafka into a new batch. */
static void resolve_intents(batchio *lister, bool complete)
{
    worker *w = lister->w;
    tier_rec *tr = &set_of(w)->tiers[lister->tier->index];
    size_t keep = 0;
    for (size_t i = 0; i < tr->nintents; i++) {
        intent *in = tr->intents[i];
        if (in->lister != lister) { /* another listing's (or none started yet) */
            tr->intents[keep++] = in;
            continue;
        }
        size_t nc = 0;
        for (size_t j = 0; j < lister->nseen; j++) {
            const sy_blist_item *it = &lister->seen[j];
            batchio *known = batch_by_id(w, it->id);
            if (!sy_blist_candidate(it, in->recorded_ms, in->until_ms, in->total) || (known && !known->grp)) continue;
            if (nc == SY_BLIST_CANDIDATES_MAX) { /* a listing that floods the window: the newest are looked at */
                sy_warn("tier '%s': more than %d candidate batches for one intent; older ones are not looked at",
                        lister->tier->name, SY_BLIST_CANDIDATES_MAX);
                break;
            }
            candidate_new(lister, in, it);
            nc++;
        }
        if (nc) {
            sy_info("tier '%s': a message batch of %zu job(s) recorded before its create: %zu candidate(s) in "
                    "the listing, polled; its jobs wait for them", lister->tier->name, in->total, nc);
            continue;
        }
        if (complete)
            sy_info("tier '%s': a message batch of %zu job(s) recorded before its create is not in the listing: "
                    "never created, its jobs are sent", lister->tier->name, in->total);
        else
            sy_warn("tier '%s': a message batch of %zu job(s) recorded before its create was not found in an "
                    "incomplete listing: its jobs are sent again (may be paid twice)", lister->tier->name, in->total);
        intent_drop_records(w, lister->tier, in, NULL);
        intent_free(in);
    }
    tr->nintents = keep;
}

/* Whether b's results answer its custom_ids (batchlist.h). */
static bool results_ours(const batchio *b)
{
    sy_batch_match m;
    sy_batch_match_init(&m, (const char *const *)b->ids, b->n);
    const char *p = b->results.data;
    sy_batch_answer a;
    while (next_answer(&b->results, &p, &m, &a)) free(a.body);
    bool ours = sy_blist_ours(&m, b->grp ? b->grp->total : b->n);
    sy_batch_match_free(&m);
    return ours;
}

/* A candidate's results are in (or it failed). Once every candidate of
 * its intent is, the newest whose results are ours answers the jobs
 * (and takes the intent's record, which goes with it); the others
 * answer nothing. With none ours, the jobs are sent in a new batch. */
static void candidate_ended(batchio *b)
{
    worker *w = b->w;
    intent *in = b->grp;
    b->ended = true;
    b->ours = results_ours(b);
    size_t nc = 0;
    for (batchio *x = *head(w); x; x = x->next)
        if (x->grp == in) {
            if (!x->ended) return; /* another still runs */
            nc++;
        }
    batchio **c = sy_xcalloc(nc, sizeof *c);
    bool *ours = sy_xcalloc(nc, sizeof *ours);
    int64_t *created = sy_xcalloc(nc, sizeof *created);
    nc = 0;
    for (batchio *x = *head(w); x; x = x->next)
        if (x->grp == in) {
            ours[nc] = x->ours;
            created[nc] = x->listed_ms;
            c[nc++] = x;
        }
    size_t win = sy_blist_pick(ours, created, nc);
    batchio *holder = in->holder, *winner = win < nc ? c[win] : NULL;
    intent_drop_records(w, b->tier, in, winner); /* its records, if any, go with the winner */
    char *key = sy_xstrdup(in->key);
    sy_run **held = sy_xcalloc(in->n ? in->n : 1, sizeof *held);
    sy_buf *lines = sy_xcalloc(in->n ? in->n : 1, sizeof *lines);
    size_t nheld = 0;
    if (winner && holder && winner != holder) { /* the jobs move to it */
        sy_buf k;
        sy_buf_init(&k);
        for (size_t i = 0; i < winner->n && i < holder->n; i++) {
            winner->runs[i] = holder->runs[i];
            holder->runs[i] = NULL;
            sy_keymap_put(&set_of(w)->adopted, adopted_key(&k, winner->tier, winner->ids[i]), winner);
        }
        sy_buf_free(&k);
        holder->adopted = false; /* the map's entries are the winner's now */
    } else if (!winner && holder) { /* the jobs leave it, to be sent */
        for (size_t i = 0; i < holder->n; i++)
            if (holder->runs[i]) {
                held[nheld] = holder->runs[i];
                lines[nheld++] = holder->lines[i];
                sy_buf_init(&holder->lines[i]);
                holder->runs[i]->in_batch = false;
                holder->runs[i] = NULL;
            }
    }
    if (!winner)
        sy_warn("tier '%s': none of %zu candidate batch(es) carried the %zu job(s) recorded before their create: "
                "they are sent in a new batch", b->tier->name, nc, in->n);
    for (size_t i = 0; i < nc; i++) {
        if (c[i] == winner) continue;
        if (c[i] != holder || winner) c[i]->adopted = false; /* keeps the map's entries */
        batch_free(c[i]);
    }
    if (winner) {
        sy_info("batch %s of tier '%s': its results answer the %zu job(s) recorded before its create: ours",
                winner->batch_id, winner->tier->name, winner->n);
        if (!sy_batchrec_is_log_key(key, strlen(key))) sy_buf_puts(&winner->rkey, key); /* goes with it */
        winner->grp = NULL;
        if (--in->refs == 0) intent_free(in);
        answer_all(winner);
    } else {
        for (size_t i = 0; i < nheld; i++) {
            route(w, held[i], &lines[i]);
            sy_buf_free(&lines[i]);
        }
    }
    free(key);
    free(held);
    free(lines);
    free(c);
    free(ours);
    free(created);
}

/* An adopted batch's input file: the custom_ids it carries. */
static void on_input(batchio *b, const sy_transfer *t, bool ok)
{
    worker *w = b->w;
    const sy_tier *tier = b->tier;
    size_t lines = 0;
    if (ok) {
        sy_buf k;
        sy_buf_init(&k);
        const char *p = t->body.data, *end = p + t->body.len;
        while (p && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
            json_t *o = (size_t)(le - p) <= SY_BATCH_LINE_MAX ? json_loadb(p, (size_t)(le - p), 0, NULL) : NULL;
            const char *cid = json_string_value(json_object_get(o, "custom_id"));
            if (cid && !sy_keymap_get(&b->idset, cid)) {
                add_job(b, NULL, cid);
                sy_keymap_put(&set_of(w)->adopted, adopted_key(&k, tier, cid), b);
                lines++;
            }
            json_decref(o);
            p = nl ? nl + 1 : end;
        }
        sy_buf_free(&k);
    }
    if (lines) {
        b->created_ms = sy_mono_us() / 1000; /* its real age is not known: 25 h from now */
        stage_record(b); /* a next restart finds it in the store */
        adopt(b, "found by listing");
    } else {
        forget_record(b);
        batch_free(b);
    }
    recovery_step_done(w, tier);
}

/* The recorded batches of a tier, read at its recovery, and again after
 * each changelog restore (restored: records another worker mirrored). */
typedef struct rebuild {
    batchio *b;
    size_t i;
} rebuild;

typedef struct rec_scan {
    worker *w;
    const sy_tier *tier;
    bool restored;   /* after a changelog restore: uploaded records are left to a restart */
    size_t adopted, uploaded, bad, merged;
    sy_buf bad_keys; /* NUL-separated: removed after the scan */
    rebuild *todo;   /* jobs adopted from records: rebuilt after the scan */
    size_t ntodo;
    sy_keymap groups; /* records in parts: each partition's part keys (collect_part) */
    size_t partial;  /* parts whose record is not complete: left for now */
} rec_scan;

/* A record's store key is of this tier: "tier\x1f..." (its own), or the
 * changelog key PREFIX "tier|..." (restored). */
static bool key_of_tier(const char *key, const sy_tier *tier)
{
    size_t n = strlen(tier->name), p = sizeof SY_BATCHREC_LOG_PREFIX - 1;
    if (!strncmp(key, tier->name, n) && key[n] == '\x1f') return true;
    return sy_batchrec_is_log_key(key, strlen(key)) && !strncmp(key + p, tier->name, n) && key[p + n] == '|';
}

/* The kept jobs of r join b, to be rebuilt: those it does not carry yet,
 * and those it carries without their message and no run (found by the
 * listing, not come back). */
static size_t take_jobs(rec_scan *sc, batchio *b, const sy_batchrec *r)
{
    size_t added = 0;
    sy_buf k;
    sy_buf_init(&k);
    sy_keymap at; /* custom_id -> its index + 1, when b carries jobs already */
    sy_keymap_init(&at);
    for (size_t i = 0; i < b->n; i++) sy_keymap_put(&at, b->ids[i], (void *)(uintptr_t)(i + 1));
    for (size_t i = 0; i < r->n; i++) {
        size_t idx = (size_t)(uintptr_t)sy_keymap_get(&at, r->ids[i]);
        if (idx) { /* carried already: its message, if it had none */
            idx--;
            if (b->jobs[idx].present || b->runs[idx] || !r->jobs || !r->jobs[i].present) continue;
            b->jobs[idx] = copy_msg(&r->jobs[i]);
        } else {
            add_job_msg(b, NULL, r->ids[i], r->jobs ? &r->jobs[i] : NULL);
            idx = b->n - 1;
            sy_keymap_put(&at, b->ids[idx], (void *)(uintptr_t)(idx + 1));
        }
        sy_keymap_put(&set_of(sc->w)->adopted, adopted_key(&k, b->tier, r->ids[i]), b);
        if (!b->jobs[idx].present) continue;
        sc->todo = sy_xrealloc(sc->todo, (sc->ntodo + 1) * sizeof *sc->todo);
        sc->todo[sc->ntodo++] = (rebuild){b, idx};
        added++;
    }
    sy_keymap_free(&at);
    sy_buf_free(&k);
    return added;
}

/* A record of a batch this worker polls already (another partition's,
 * restored from the changelog; or its own copy): its jobs join it, and
 * its key goes when the batch does. */
static void merge_record(rec_scan *sc, batchio *b, const char *key, const sy_batchrec *r)
{
    if (strcmp(key, sy_buf_cstr(&b->rkey))) {
        bool known = false;
        for (size_t at = 0; !known && at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1)
            known = !strcmp(b->extra_keys.data + at, key);
        if (!known) sy_buf_append(&b->extra_keys, key, strlen(key) + 1);
    }
    if (b->model != tier_model(b->tier, r->model)) return;
    size_t added = take_jobs(sc, b, r);
    if (!added) return;
    b->adopted = true; /* its rebuilt jobs find it by the map of adopted jobs */
    sc->merged += added;
    sy_info("batch %s of tier '%s': %zu more job(s) from a restored record", b->batch_id, b->tier->name, added);
}

/* The records in parts (batchrec.h): each partition's parts, by the key
 * without its "#i/n" (NUL-separated keys). */
static void collect_part(void *ctx, const char *key, const void *data, size_t len)
{
    (void)data, (void)len;
    int32_t p;
    uint32_t part, count;
    size_t base;
    if (sy_batchrec_log_key_parse(key, strlen(key), &p, &part, &count, &base) != 0 || count < 2) return;
    sy_buf group;
    sy_buf_init(&group);
    sy_buf_append(&group, key, strcspn(key, "#"));
    sy_buf *keys = sy_keymap_get(ctx, sy_buf_cstr(&group));
    if (!keys) {
        keys = sy_xcalloc(1, sizeof *keys);
        sy_buf_init(keys);
        sy_keymap_put(ctx, sy_buf_cstr(&group), keys);
    }
    sy_buf_append(keys, key, strlen(key) + 1);
    sy_buf_free(&group);
}

static void free_keys(void *v)
{
    sy_buf_free(v);
    free(v);
}

/* Whether a record's key is a part of a record not all of whose parts
 * are in the store: not trusted yet (a later restore may bring them). */
static bool part_missing(sy_keymap *groups, const char *key)
{
    int32_t p;
    uint32_t part, count;
    size_t base;
    if (sy_batchrec_log_key_parse(key, strlen(key), &p, &part, &count, &base) != 0 || count < 2) return false;
    sy_buf group;
    sy_buf_init(&group);
    sy_buf_append(&group, key, strcspn(key, "#"));
    const sy_buf *keys = sy_keymap_get(groups, sy_buf_cstr(&group));
    sy_buf_free(&group);
    const char *list[SY_BATCHREC_PARTS_PER_MAX];
    size_t n = 0;
    for (size_t at = 0; keys && at < keys->len && n < SY_BATCHREC_PARTS_PER_MAX; at += strlen(keys->data + at) + 1)
        list[n++] = keys->data + at;
    return !sy_batchrec_parts_complete(list, n);
}

/* Whether a record's key is one of an intent's already (an earlier scan
 * took it: restores scan every record again). */
static bool intent_has_key(const intent *in, const char *key)
{
    if (!strcmp(in->key, key)) return true;
    for (size_t at = 0; at < in->keys.len; at += strlen(in->keys.data + at) + 1)
        if (!strcmp(in->keys.data + at, key)) return true;
    return false;
}

/* Whether every custom_id of r is in ids. */
static bool knows_all(const sy_keymap *ids, const sy_batchrec *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!sy_keymap_get(ids, r->ids[i])) return false;
    return true;
}

/* r's custom_ids join in's (with r's key). False, nothing added, when r
 * is not of in's batch (another total) or they would be more than it. */
static bool intent_add(intent *in, const char *key, const sy_batchrec *r)
{
    size_t more = 0;
    for (size_t i = 0; i < r->n; i++) more += !sy_keymap_get(&in->idset, r->ids[i]);
    if (r->total != in->total || more > in->total - in->n) return false;
    for (size_t i = 0; i < r->n; i++)
        if (!sy_keymap_get(&in->idset, r->ids[i])) {
            in->ids[in->n] = sy_xstrdup(r->ids[i]);
            sy_keymap_put(&in->idset, in->ids[in->n++], in);
        }
    if (strcmp(key, in->key)) sy_buf_append(&in->keys, key, strlen(key) + 1);
    return true;
}

/* An Anthropic record written before its create (docs/durability.md):
 * the worker's own, or a partition's share of another's restored from the
 * changelog (its jobs of that partition, and the batch's whole count).
 * Shares of one batch (one base key) make one intent until its listing
 * begins; a share whose ids an intent of the batch (listing, its
 * candidates polled) or the batch found knows adds nothing but its key;
 * else it is an intent of its own. False when it cannot be (no job, a total that does
 * not agree): dropped. */
static bool intent_take(rec_scan *sc, const char *key, const sy_batchrec *r, const sy_model *m)
{
    worker *w = sc->w;
    tier_rec *tr = &set_of(w)->tiers[sc->tier->index];
    if (!r->n) return false;
    for (batchio *b = *head(w); b; b = b->next)
        if (extra_has(b, key)) return true; /* resolved here: goes with its batch */
    for (size_t i = 0; i < tr->nintents; i++)
        if (intent_has_key(tr->intents[i], key)) return true;
    for (batchio *b = *head(w); b; b = b->next)
        if (b->grp && intent_has_key(b->grp, key)) return true;
    sy_buf base;
    sy_buf_init(&base);
    sy_batchrec_log_base(&base, key);
    bool ok = true, done = false;
    for (size_t i = 0; !done && i < tr->nintents; i++) {
        intent *in = tr->intents[i];
        if (in->model == m && !strcmp(in->base, base.data) && (!in->lister || knows_all(&in->idset, r)))
            ok = intent_add(in, key, r), done = true; /* new ids only before its listing begins */
    }
    sy_buf other;
    sy_buf_init(&other);
    for (batchio *b = *head(w); !done && b; b = b->next) {
        if (b->grp && !strcmp(b->grp->base, base.data) && knows_all(&b->grp->idset, r)) {
            sy_buf_append(&b->grp->keys, key, strlen(key) + 1); /* goes with it */
            done = true;
        } else if (!b->grp && !b->lister && b->rkey.len &&
                   !strcmp(sy_batchrec_log_base(&other, sy_buf_cstr(&b->rkey)), base.data) && knows_all(&b->idset, r)) {
            if (!extra_has(b, key)) sy_buf_append(&b->extra_keys, key, strlen(key) + 1); /* its batch was found: goes with it */
            done = true;
        }
    }
    sy_buf_free(&other);
    if (!done) {
        intent *in = sy_xcalloc(1, sizeof *in);
        in->key = sy_xstrdup(key);
        in->base = sy_xstrdup(sy_buf_cstr(&base));
        sy_buf_init(&in->keys);
        sy_keymap_init(&in->idset);
        in->model = m;
        in->recorded_ms = r->recorded_ms;
        in->until_ms = sy_now_ms();
        in->total = r->total;
        in->ids = sy_xcalloc(r->total, sizeof *in->ids); /* total >= n >= 1, bounded (batchrec.h) */
        if ((ok = intent_add(in, key, r))) { /* not: the same custom_id more often than the total allows */
            tr->intents = sy_xrealloc(tr->intents, (tr->nintents + 1) * sizeof *tr->intents);
            tr->intents[tr->nintents++] = in;
        } else {
            intent_free(in);
        }
    }
    sy_buf_free(&base);
    return ok;
}

static void on_record(void *ctx, const char *key, const void *data, size_t len)
{
    rec_scan *sc = ctx;
    worker *w = sc->w;
    const sy_tier *tier = sc->tier;
    sy_batchrec_view v;
    if (sy_batchrec_decode(data, len, &v) != 0) {
        if (key_of_tier(key, tier)) {
            sc->bad++;
            sy_buf_append(&sc->bad_keys, key, strlen(key) + 1);
        }
        return;
    }
    if (sc->restored && sy_keymap_get(&set_of(w)->tombs, key)) { /* gone here, its tombstone on its way */
        sy_buf_append(&sc->bad_keys, key, strlen(key) + 1);
        sy_batchrec_view_free(&v);
        return;
    }
    const sy_batchrec *r = &v.rec;
    const sy_model *m = strcmp(r->tier, tier->name) ? NULL : tier_model(tier, r->model);
    bool kind_ok = m && (r->kind == SY_BR_ANTHROPIC) == !strcmp(m->provider->kind->name, "anthropic");
    if (!kind_ok) { /* another tier's, or a model no longer in it: left alone */
        sy_batchrec_view_free(&v);
        return;
    }
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    if (w->opt.key_ttl_ms && sy_now_ms() - r->recorded_ms > SY_BATCH_GIVE_UP_MS + w->opt.key_ttl_ms) {
        /* older than its batch's window and its jobs' keys: nothing left to answer */
        sy_buf_append(&sc->bad_keys, key, strlen(key) + 1);
        sy_batchrec_view_free(&v);
        return;
    }
    if (part_missing(&sc->groups, key)) { /* trusted only whole (a part alone still ages out) */
        sc->partial++;
        sy_batchrec_view_free(&v);
        return;
    }
    if (r->status == SY_BR_UPLOADED && r->kind == SY_BR_ANTHROPIC &&
        (!sc->restored || sy_batchrec_is_log_key(key, strlen(key)))) {
        /* the create's intent (its own, or another worker's share restored
         * from the changelog): looked for in the listing by its time and
         * job count (resolve_intents) */
        if (!intent_take(sc, key, r, m)) sy_buf_append(&sc->bad_keys, key, strlen(key) + 1);
        else if (!sc->restored && r->recorded_ms < tr->oldest_ms) tr->oldest_ms = r->recorded_ms;
        sc->uploaded++;
        sy_batchrec_view_free(&v);
        return;
    }
    if (r->status == SY_BR_UPLOADED && sc->restored) { /* the next start's recovery looks at it */
        sy_batchrec_view_free(&v);
        return;
    }
    if (r->status == SY_BR_UPLOADED) { /* OpenAI: the listing looks for a batch of this file */
        if (!sy_keymap_get(&tr->uploaded, r->file_id)) {
            sy_keymap_put(&tr->uploaded, r->file_id, sy_xstrdup(key));
            sy_buf_append(&tr->uploaded_ids, r->file_id, strlen(r->file_id) + 1);
        } else sy_buf_append(&sc->bad_keys, key, strlen(key) + 1);
        if (r->recorded_ms < tr->oldest_ms) tr->oldest_ms = r->recorded_ms;
        sc->uploaded++;
        sy_batchrec_view_free(&v);
        return;
    }
    batchio *have = batch_by_id(w, r->batch_id);
    if (have) {
        merge_record(sc, have, key, r);
        sy_batchrec_view_free(&v);
        return;
    }
    batchio *b = batch_new(w, tier, m);
    b->adopted = true;
    snprintf(b->batch_id, sizeof b->batch_id, "%s", r->batch_id);
    snprintf(b->file_id, sizeof b->file_id, "%s", r->file_id);
    sy_buf_puts(&b->rkey, key);
    take_jobs(sc, b, r);
    /* its age from the record's wall clock, bounded: a clock that went back is no age */
    int64_t age = sy_now_ms() - r->recorded_ms;
    if (age < 0) age = 0;
    if (age > SY_BATCH_GIVE_UP_MS) age = SY_BATCH_GIVE_UP_MS;
    b->created_ms = sy_mono_us() / 1000 - age;
    sy_batchrec_view_free(&v);
    sc->adopted++;
    adopt(b, sc->restored ? "restored from the changelog" : "found in the store");
}

/* The tier's records in the store: batches polled again, their jobs
 * rebuilt from their messages (their offsets are committed: Kafka does
 * not bring them back); each joins its batch again. */
static void scan_records(worker *w, const sy_tier *tier, bool restored)
{
    rec_scan sc = {.w = w, .tier = tier, .restored = restored};
    sy_buf_init(&sc.bad_keys);
    sy_keymap_init(&sc.groups);
    sy_store_each_batch(w->store, collect_part, &sc.groups);
    sy_store_each_batch(w->store, on_record, &sc);
    sy_keymap_free_with(&sc.groups, free_keys);
    if (sc.partial) sy_warn("tier '%s': %zu batch record part(s) wait for the rest of their record", tier->name,
                            sc.partial);
    for (size_t at = 0; at < sc.bad_keys.len; at += strlen(sc.bad_keys.data + at) + 1)
        sy_store_batch_del(w->store, sc.bad_keys.data + at);
    sy_buf_free(&sc.bad_keys);
    if (sc.bad) sy_warn("tier '%s': %zu unreadable batch record(s) dropped", tier->name, sc.bad);
    for (size_t i = 0; i < sc.ntodo; i++) {
        const sy_batchrec_job *m = &sc.todo[i].b->jobs[sc.todo[i].i];
        set_of(w)->hooks->restore(w, tier, m->partition, m->offset, m->origin, m->key, m->keylen, m->value, m->len);
    }
    if (sc.ntodo) sy_info("tier '%s': %zu job(s) rebuilt from batch records", tier->name, sc.ntodo);
    free(sc.todo);
}

/* A listing for the tier's intents that have none yet (restored from the
 * changelog): its jobs wait for it (queued) as at start. */
static void list_intents(worker *w, const sy_tier *tier)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    for (size_t i = 0; i < tr->nintents; i++) {
        intent *in = tr->intents[i];
        if (in->lister) continue;
        batchio *l = batch_new(w, tier, in->model);
        l->lister = true;
        l->since_ms = INT64_MAX;
        for (size_t j = i; j < tr->nintents; j++) {
            intent *x = tr->intents[j];
            if (x->lister || x->model != in->model) continue;
            x->lister = l;
            if (x->recorded_ms < l->since_ms) l->since_ms = x->recorded_ms;
            sy_info("tier '%s': a message batch of %zu job(s) recorded before its create by another worker, "
                    "%zu of them in the partitions restored here: looked for in the listing", tier->name, x->total,
                    x->n);
        }
        if (tr->st == REC_DONE) tr->st = REC_LOOKING, tr->busy = 0;
        tr->busy++;
        start_call(l, OP_LIST);
    }
}

/* OpenAI: a listing for a restore's partitions of the tier topic (after
 * the first restore, or at the first when more batches were listed at
 * start than were kept): a batch a dead worker created and did not record
 * carries jobs Kafka brings back to this worker now, and is found by its
 * metadata's partitions. The tier's jobs wait for it (queued) as at start;
 * its window is the restore's time (less the clocks' margin): such a batch
 * was created before its worker's death, which the group saw within its
 * session timeout. */
static void list_assigned(worker *w, const sy_tier *tier, const rd_kafka_topic_partition_list_t *parts,
                          int64_t since_ms)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++) n += !strcmp(parts->elems[i].topic, tier->topic);
    if (!n) return;
    for (size_t i = 0; i < tier->nmodels; i++) {
        const sy_model *m = tier->models[i].model;
        if (!m || strcmp(m->provider->kind->name, "openai")) continue;
        batchio *l = batch_new(w, tier, m);
        l->lister = true;
        l->since_ms = since_ms;
        l->parts = sy_xcalloc(n, sizeof *l->parts);
        for (int j = 0; j < parts->cnt; j++)
            if (!strcmp(parts->elems[j].topic, tier->topic)) l->parts[l->nparts++] = parts->elems[j].partition;
        sy_info("tier '%s': %zu partition(s) assigned; the provider's batches listed for one of theirs created "
                "and not recorded", tier->name, n);
        if (tr->st == REC_DONE) tr->st = REC_LOOKING, tr->busy = 0;
        tr->busy++;
        start_call(l, OP_LIST);
    }
}

void batchio_restored(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    if (!w->batches) return;
    for (size_t i = 0; i < w->cfg->ntiers; i++) {
        const sy_tier *t = w->cfg->tiers[i];
        tier_rec *tr = &set_of(w)->tiers[t->index];
        if (t->mode != SY_TIER_BATCH || tr->st == REC_NONE) continue;
        scan_records(w, t, true);
        bool over = tr->held_over > 0; /* listed at start, not kept */
        take_held(w, t);
        list_intents(w, t);
        if (set_of(w)->assigned || over) list_assigned(w, t, parts, set_of(w)->assigned ? sy_now_ms() : tr->start_ms);
    }
    set_of(w)->assigned = true;
}

/* The tier's first job after start: its recorded batches are polled
 * again; then the provider's listing, for a batch created but not
 * recorded (a crash between create and record): OpenAI's always,
 * Anthropic's when a record is an intent. */
static void recovery_start(worker *w, const sy_tier *tier)
{
    tier_rec *tr = &set_of(w)->tiers[tier->index];
    tr->st = REC_LOOKING;
    sy_keymap_init(&tr->uploaded);
    sy_buf_init(&tr->uploaded_ids);
    tr->oldest_ms = INT64_MAX;
    tr->start_ms = sy_now_ms();
    scan_records(w, tier, false);
    tr->busy = 1; /* until every listing is started */
    for (size_t i = 0; i < tier->nmodels; i++) {
        const sy_model *m = tier->models[i].model;
        bool has_intent = false;
        for (size_t j = 0; m && j < tr->nintents; j++) has_intent |= tr->intents[j]->model == m;
        if (!m || (strcmp(m->provider->kind->name, "openai") && !has_intent)) continue;
        batchio *l = batch_new(w, tier, tier->models[i].model);
        l->lister = true;
        for (size_t j = 0; j < tr->nintents; j++)
            if (tr->intents[j]->model == m) tr->intents[j]->lister = l;
        tr->busy++;
        start_call(l, OP_LIST);
    }
    recovery_step_done(w, tier);
}

/* ---- taking jobs ---- */

static batchio *collecting(worker *w, const sy_tier *tier, const sy_model *model)
{
    for (batchio *b = *head(w); b; b = b->next)
        if (b->state == SY_BS_COLLECTING && b->pending == OP_NONE && !b->t && b->tier == tier &&
            b->model == model && !b->lister && !b->adopted)
            return b;
    return NULL;
}

/* The adopted batch of tier t that carries custom_id id, and its index
 * there (*at), or NULL. */
static batchio *adopted_at(worker *w, const sy_tier *t, const char *id, size_t *at)
{
    sy_buf k;
    sy_buf_init(&k);
    batchio *b = sy_keymap_get(&set_of(w)->adopted, adopted_key(&k, t, id));
    sy_buf_free(&k);
    size_t i = 0;
    while (b && i < b->n && strcmp(b->ids[i], id)) i++;
    if (!b || i == b->n) return NULL;
    *at = i;
    return b;
}

/* A job whose key an adopted batch carries joins it; answered at once if
 * the batch's results are in already. True when it joined. */
static bool join_adopted(worker *w, sy_run *r, const char *key, const sy_buf *line)
{
    char hashed[SY_BATCH_ID_MAX];
    if (!strcmp(r->model->provider->kind->name, "anthropic")) { /* its custom_id */
        sy_batch_anthropic_id(key, hashed);
        key = hashed;
    }
    size_t idx;
    batchio *b = adopted_at(w, r->tier, key, &idx);
    if (!b || b->model != r->model || b->runs[idx]) return false;
    if (b->state != SY_BS_DONE) {
        b->runs[idx] = r;
        r->in_batch = true;
        if (b->lines) { /* a candidate's: kept, to be sent if it is not ours */
            sy_buf_reset(&b->lines[idx]);
            sy_buf_append(&b->lines[idx], line->data, line->len);
        }
        return true;
    }
    /* its results are here: find its line */
    b->answered[idx] = true;
    const char *one[] = {key};
    sy_batch_match m;
    sy_batch_match_init(&m, one, 1);
    const char *p = b->results.data;
    sy_batch_answer a = {0};
    bool found = next_answer(&b->results, &p, &m, &a);
    sy_batch_match_free(&m);
    answered_by(b, r, set_of(w)->hooks->line(r, b->batch_id, found ? a.status_code : 0, found ? a.body : NULL,
                                             found && a.body ? strlen(a.body) : 0,
                                             found ? a.error_code : "no_result_line"));
    free(a.body);
    return true;
}

/* Is job i of b (rebuilt from its record, not joined) r's message? */
static bool rebuilt_from(const batchio *b, size_t i, const sy_run *r)
{
    return !b->runs[i] && !b->gone[i] && b->jobs[i].present && b->jobs[i].partition == r->partition &&
           b->jobs[i].offset == r->offset;
}

void batchio_answered_from_store(worker *w, sy_run *r)
{
    if (!w->batches || r->batch_hold || !r->tier || !set_of(w)->adopted.count) return;
    const char *key = r->job.idempotency_key ? r->job.idempotency_key : "";
    size_t i;
    batchio *b = adopted_at(w, r->tier, key, &i);
    if (!b || !rebuilt_from(b, i, r)) { /* its custom_id in an Anthropic batch (its model is not chosen yet) */
        char hashed[SY_BATCH_ID_MAX];
        sy_batch_anthropic_id(key, hashed);
        b = adopted_at(w, r->tier, hashed, &i);
    }
    if (!b || !rebuilt_from(b, i, r)) return; /* no record here carries it */
    b->answered[i] = true; /* nothing of it left to await (nothing_left) */
    answered_by(b, r, true);
}

static void route(worker *w, sy_run *r, sy_buf *line)
{
    const sy_batch_policy *pol = &r->tier->batch;
    const char *key = r->job.idempotency_key ? r->job.idempotency_key : "";
    r->in_batch = false;
    if (set_of(w)->adopted.count && join_adopted(w, r, key, line)) return; /* none adopted: no key built */
    char hashed[SY_BATCH_ID_MAX];
    bool items = !strcmp(r->model->provider->kind->name, "anthropic"); /* a JSON array, not JSONL */
    if (items) {
        sy_batch_anthropic_id(key, hashed);
        key = hashed; /* its custom_id */
    }
    batchio *b = collecting(w, r->tier, r->model);
    if (b && (!sy_batch_fits(pol, (int64_t)b->n, (int64_t)b->input.len, (int64_t)line->len) ||
              sy_keymap_get(&b->idset, key))) {
        send_now(b); /* full, or the key is in it already: a new batch */
        b = NULL;
    }
    if (!b) b = batch_new(w, r->tier, r->model);
    if (items && b->n > 0) sy_buf_putc(&b->input, ',');
    add_job(b, r, key); /* its line starts here */
    sy_buf_append(&b->input, line->data, line->len);
    r->in_batch = true;
    int64_t now = sy_mono_us() / 1000;
    if (b->n == 1) {
        b->first_ms = now;
        sy_loop_timer_at(w->loop, &b->timer, (sy_batch_due_at(pol, 1, now)) * 1000);
    }
    if (sy_batch_due(pol, (int64_t)b->n, (int64_t)b->input.len, b->first_ms, now)) send_now(b);
}

bool batchio_take(worker *w, sy_run *r, sy_transfer *t)
{
    const char *key = r->job.idempotency_key ? r->job.idempotency_key : "";
    sy_buf line;
    sy_buf_init(&line);
    if (!strcmp(r->model->provider->kind->name, "anthropic")) { /* an item of the requests array */
        char id[SY_BATCH_ID_MAX];
        sy_batch_anthropic_id(key, id);
        sy_batch_anthropic_item(&line, id, t->req.body.data, t->req.body.len);
    } else {
        sy_batch_input_line(&line, key, "/v1/chat/completions", t->req.body.data, t->req.body.len);
    }
    if (!sy_batch_fits(&r->tier->batch, 0, 0, (int64_t)line.len)) {
        sy_buf_free(&line);
        return false;
    }
    r->batch_req_len = t->req.body.len;
    sy_engine_release(w->engine, t);
    tier_rec *tr = &set_of(w)->tiers[r->tier->index];
    if (tr->st == REC_NONE) recovery_start(w, r->tier);
    if (tr->st == REC_DONE) {
        route(w, r, &line);
        sy_buf_free(&line);
        return true;
    }
    if (tr->nq == tr->capq) tr->q = sy_xrealloc(tr->q, (tr->capq = tr->capq ? tr->capq * 2 : 64) * sizeof *tr->q);
    tr->q[tr->nq].r = r;
    tr->q[tr->nq++].line = line; /* the buffer moves into the queue */
    r->in_batch = true;
    return true;
}

void batchio_start(worker *w, const batchio_hooks *hooks)
{
    set_of(w)->hooks = hooks;
    for (size_t i = 0; i < w->cfg->ntiers; i++) {
        const sy_tier *t = w->cfg->tiers[i];
        if (t->mode == SY_TIER_BATCH && set_of(w)->tiers[t->index].st == REC_NONE) recovery_start(w, t);
    }
}

/* The restored records of partition `partition` among b's extra keys go
 * (from the store and the list; their next owner has them). */
static void drop_extra_of(batchio *b, int32_t partition)
{
    sy_buf keep;
    sy_buf_init(&keep);
    for (size_t at = 0; at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1) {
        const char *k = b->extra_keys.data + at;
        if (key_partition(k) == partition) sy_store_batch_del(b->w->store, k);
        else sy_buf_append(&keep, k, strlen(k) + 1);
    }
    sy_buf_free(&b->extra_keys);
    b->extra_keys = keep;
}

/* A collecting batch's job i leaves it with its line (never sent). */
static void remove_job(batchio *b, size_t i)
{
    size_t from, to;
    sy_batch_line_span(anthropic(b), b->line_at, b->n, b->input.len, i, &from, &to);
    size_t cut = to - from;
    memmove(b->input.data + from, b->input.data + to, b->input.len - to);
    b->input.len -= cut;
    sy_keymap_del(&b->idset, b->ids[i]);
    free(b->ids[i]);
    free((char *)b->jobs[i].key);
    free((char *)b->jobs[i].origin);
    for (size_t j = i; j + 1 < b->n; j++) {
        b->runs[j] = b->runs[j + 1];
        b->ids[j] = b->ids[j + 1];
        b->jobs[j] = b->jobs[j + 1];
        b->gone[j] = b->gone[j + 1];
        b->answered[j] = b->answered[j + 1];
        b->line_at[j] = b->line_at[j + 1] - cut;
    }
    b->n--;
}

/* b went out (upload, create or record on their way) and owns none of
 * its jobs yet: r may be made its own by waiting. */
static bool on_its_way(const batchio *b)
{
    if (b->adopted || b->mirror_failed) return false; /* it never will own its jobs */
    return b->state == SY_BS_COLLECTING || b->state == SY_BS_UPLOADED || b->state == SY_BS_CREATED ||
           b->recording || b->own_on_ack;
}

/* Job i of b leaves it at a revoke: b neither answers nor records it any
 * more. Handed over (owned): b's restored records of its partition go
 * from this store too (the next owner has them). */
static void leave_batch(batchio *b, size_t i, int32_t partition, bool handed)
{
    b->runs[i] = NULL;
    b->gone[i] = true;
    free((char *)b->jobs[i].key);
    free((char *)b->jobs[i].origin);
    b->jobs[i] = (sy_batchrec_job){0};
    if (handed) drop_extra_of(b, partition);
    b->handed = true;
}

/* A batch-owned job that no batch carries (rebuilt from a record and not
 * joined yet, or gone to a retry): the batch whose record on the changelog
 * still carries its tier message, found by partition and offset (the next
 * owner rebuilds it from that record), or NULL. Not the batch that
 * answered it, whose record is kept until its result is out: it finishes
 * here. */
static batchio *record_holding(worker *w, const sy_run *r, size_t *at)
{
    if (!r->tier || !w->opt.changelog) return NULL;
    for (batchio *b = set_of(w)->list; b; b = b->next) {
        if (b->tier != r->tier || b->mirror_failed || !log_topic(b)) continue;
        for (size_t i = 0; i < b->n; i++)
            if (!b->runs[i] && !b->gone[i] && r->batch_hold != b && b->jobs[i].present &&
                b->jobs[i].partition == r->partition && b->jobs[i].offset == r->offset) {
                *at = i;
                return b;
            }
    }
    return NULL;
}

batchio_revoke batchio_hand_over(worker *w, sy_run *r, bool last)
{
    if (!w->batches) return BATCHIO_KEEP;
    batchio_set *bs = set_of(w);
    tier_rec *tr = r->tier ? &bs->tiers[r->tier->index] : NULL;
    size_t at;
    batchio *rec = r->batch_owned ? record_holding(w, r, &at) : NULL;
    for (size_t i = 0; tr && i < tr->nq; i++)
        if (tr->q[i].r == r) { /* waiting for its tier's recovery: never sent */
            if (r->batch_owned && !rec) return BATCHIO_KEEP; /* no record has it: no one else can */
            tr->q[i].r = NULL;
            r->in_batch = false;
            if (!rec) return BATCHIO_DROPPED; /* consumed: the next owner consumes it too */
            leave_batch(rec, at, r->partition, true); /* rebuilt: the next owner rebuilds it */
            return BATCHIO_HANDED;
        }
    if (!r->in_batch) { /* batch-owned, joined to no batch (run.c releases it where it would join) */
        if (!rec) return BATCHIO_KEEP; /* its record is gone: it finishes here */
        leave_batch(rec, at, r->partition, true);
        return BATCHIO_RELEASE;
    }
    for (batchio *b = bs->list; b; b = b->next) {
        size_t i = 0;
        while (i < b->n && b->runs[i] != r) i++;
        if (i == b->n) continue;
        if (b->state == SY_BS_COLLECTING && b->pending == OP_NONE && !b->t && !b->lister && !b->adopted) {
            remove_job(b, i); /* never sent: the next owner consumes it */
            r->in_batch = false;
            if (!b->n) batch_free(b);
            return BATCHIO_DROPPED;
        }
        bool owned = r->batch_owned && b->jobs[i].present && w->opt.changelog && log_topic(b);
        if (!owned && r->batch_owned) return BATCHIO_KEEP; /* --no-changelog: its offset is committed, */
                                                          /* no one else gets it: answered here */
        if (!owned && !last && on_its_way(b)) return BATCHIO_WAIT;
        /* owned: the next owner rebuilds it from the record; not owned (the
         * wait is over, or a batch found by the listing): the next owner
         * consumes it (its offset is not committed) and this line is ignored */
        leave_batch(b, i, r->partition, owned);
        r->in_batch = false;
        if (!owned)
            sy_warn("revoke: a job of batch %s (tier '%s') not owned by it yet is left to the next owner; "
                    "its line here is ignored (it may be sent again)", b->batch_id[0] ? b->batch_id : "(creating)",
                    b->tier->name);
        return owned ? BATCHIO_HANDED : BATCHIO_DROPPED;
    }
    return BATCHIO_KEEP;
}

/* Nothing of b is left to answer here: every job handed over, dropped,
 * or answered, none awaited (a job found by the listing, not back yet, or
 * one rebuilt from its record that has not joined yet). */
static bool nothing_left(const batchio *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->runs[i] || (!b->gone[i] && !b->answered[i])) return false;
    return true;
}

/* b polls no more here: its jobs' next owners poll it. Its records leave
 * this store only (their changelog copies are the next owners'). */
static void stop_here(batchio *b)
{
    sy_info("batch %s of tier '%s': no job of it is left here; polled by the partitions' next owner(s) only",
            b->batch_id, b->tier->name);
    if (b->rkey.len) sy_store_batch_del(b->w->store, sy_buf_cstr(&b->rkey));
    for (size_t at = 0; at < b->extra_keys.len; at += strlen(b->extra_keys.data + at) + 1)
        sy_store_batch_del(b->w->store, b->extra_keys.data + at);
    if (b->t) b->stop_on_response = true; /* the engine still holds its call */
    else batch_free(b);
}

void batchio_after_hand_over(worker *w)
{
    if (!w->batches) return;
    size_t n = 0;
    bool again = true;
    while (again) { /* stop_here frees a batch: walk again from the head */
        again = false;
        for (batchio *b = *head(w); b; b = b->next) {
            if (!b->handed) continue;
            b->handed = false;
            n++;
            if (b->batch_id[0] && !b->stop_on_response && nothing_left(b)) {
                stop_here(b);
                again = true;
                break;
            }
            if (b->rkey.len) stage_record(b); /* without the jobs handed over: a restart does not rebuild them */
        }
    }
    if (n) sy_info("revoke: %zu batch(es) handed their revoked partitions' jobs to the next owner", n);
}

void batchio_forget_run(worker *w, sy_run *r)
{
    batchio_set *bs = set_of(w);
    for (batchio *b = bs->list; b; b = b->next)
        for (size_t i = 0; i < b->n; i++)
            if (b->runs[i] == r) b->runs[i] = NULL;
    for (size_t t = 0; t < w->cfg->ntiers; t++)
        for (size_t i = 0; i < bs->tiers[t].nq; i++)
            if (bs->tiers[t].q[i].r == r) bs->tiers[t].q[i].r = NULL;
    r->in_batch = false;
}

void batchio_free_all(worker *w)
{
    batchio_set *bs = w->batches;
    if (!bs) return;
    while (bs->list) batch_free(bs->list);
    for (size_t t = 0; t < w->cfg->ntiers; t++) {
        sy_keymap_free_with(&bs->tiers[t].uploaded, free);
        sy_buf_free(&bs->tiers[t].uploaded_ids);
        for (size_t i = 0; i < bs->tiers[t].nintents; i++) intent_free(bs->tiers[t].intents[i]);
        free(bs->tiers[t].intents);
        free(bs->tiers[t].held);
        for (size_t i = 0; i < bs->tiers[t].nq; i++) sy_buf_free(&bs->tiers[t].q[i].line);
        free(bs->tiers[t].q);
    }
    free(bs->tiers);
    sy_keymap_free(&bs->adopted);
    sy_keymap_free(&bs->tombs);
    free(bs);
    w->batches = NULL;
}
