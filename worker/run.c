/* run.c -- one job's life in the worker: the shell around its state
 * machine (lifecycle.h draws it; run.h lists what worker.c calls).
 *
 * Everything that happens to a job arrives here and becomes one event:
 * the message (run_start), the store's answer and the key's owner (route),
 * the checks before a call (attempt: deadline, model, engine slot,
 * account), the group commit, the provider's answer (run_on_response), a
 * timer, a delivery report (run_on_delivery), a transaction's outcome
 * (run_txn_commit), a revoke, the exit. step() asks sy_life_next what
 * follows, counts the transition (counters.h), and carries out its
 * effects: stage a record (jobstate.h), launch a call (engine), produce
 * the result or a dead letter (publish.h), hold for a transaction (txn.h),
 * release the offset, free the run. Calls go down from here only:
 * publish.c and txn.c return what happened.
 *
 * Bad data never crashes the worker: an undecodable job or unknown task is
 * dead-lettered at once; a missing template variable fails the job with a
 * result and a dead letter. */
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "providers/embeddings.h"
#include "providers/scrub.h"
#include "jobstate.h"
#include "jschema.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "publish.h"
#include "reload.h"
#include "run.h"
#include "txn.h"
#include "result_restamp.h"
#include "util.h"
#include "flow.h"
#include "batchio.h"

#define RECHECK_MS 50

/* What some effects need besides the run. */
typedef struct fx_args {
    int64_t delay_ms;     /* SET_TIMER */
    sy_err_class dl_class; /* PRODUCE_DEAD_LETTER */
    const char *dl_why;
    int32_t out_partition; /* NOTE_PUBLISHED */
    int64_t out_offset;
} fx_args;

static void step(sy_run *r, sy_life_event ev, const sy_life_facts *f, const fx_args *a);

/* What a log line about r names (log.h): job id, task, model, attempt. */
#define run_log_ctx(r, ev)                                                                      \
    (sy_log_ctx){.event = (ev), .job = (r)->job_ok ? (r)->job.id : NULL,                       \
                 .task = (r)->task ? (r)->task->name : NULL,                                    \
                 .model = (r)->model ? (r)->model->alias : NULL, .attempt = (r)->attempts}

static sy_run *run_alloc(worker *w, int32_t partition, int64_t offset, char *raw, size_t keylen, size_t len)
{
    sy_run *r = sy_xcalloc(1, sizeof *r);
    r->w = w;
    wreload_hold(r);
    r->state = SY_LS_NONE;
    r->partition = partition;
    r->offset = offset;
    r->keylen = keylen;
    r->len = len;
    r->raw = raw;
    r->timer_pos = SY_TIMER_NONE;
    r->txn_out_offset = -1;
    r->next = w->runs;
    if (w->runs) w->runs->prev = r;
    w->runs = r;
    w->held++;
    return r;
}

static sy_run *run_new(worker *w, const rd_kafka_message_t *m)
{
    sy_run *r = run_alloc(w, m->partition, m->offset, sy_kafka_copy_key_value(m), m->key_len, m->len);
    r->queued_ms = rd_kafka_message_timestamp(m, NULL);
    rd_kafka_headers_t *h = NULL;
    char origin[SY_ORIGIN_MAX];
    if (rd_kafka_message_headers(m, &h) == 0 && sy_origin_of(h, origin)) r->origin = sy_xstrdup(origin);
    return r;
}

bool run_owns_key(const sy_run *r)
{
    return r->skey.len && sy_keymap_get(&r->w->working, sy_buf_cstr((sy_buf *)&r->skey)) == r;
}

bool run_call_out(const sy_run *r)
{
    return r->state == SY_LS_CALL_OUT;
}

static void run_free(sy_run *r)
{
    worker *w = r->w;
    if (run_owns_key(r)) sy_keymap_del(&w->working, sy_buf_cstr(&r->skey));
    if (r->in_batch) batchio_forget_run(w, r);
    if (r->batch_hold) batchio_result_out(w, r, false); /* freed before its result is out */
    free(r->batch_id);
    if (r->prev) r->prev->next = r->next;
    else w->runs = r->next;
    if (r->next) r->next->prev = r->prev;
    if (!r->batch_owned) w->held--;
    if (r->job_ok) sy_job_free(&r->job);
    sy_buf_free(&r->system);
    sy_buf_free(&r->user);
    sy_buf_free(&r->result);
    sy_buf_free(&r->stored);
    sy_buf_free(&r->skey);
    sy_outcome_free(&r->last);
    embed_leave(r);
    free(r->embedding);
    free(r->raw);
    free(r->origin);
    wreload_release(r); /* last: what it points into may go with it */
    free(r);
}

static void run_defer(sy_run *r)
{
    r->next_deferred = r->w->deferred;
    r->w->deferred = r;
}

/* The job failed for good (event ev, class c): its failed result is staged. */
static void fail(sy_run *r, sy_life_event ev, sy_err_class c, const char *why)
{
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    r->last.error = c;
    snprintf(r->last.message, sizeof r->last.message, "%.*s", (int)sizeof r->last.message - 1, why);
    step(r, ev, NULL, NULL);
}

/* Everything r produced is settled: it ends. */
static void settle_if_done(sy_run *r)
{
    if (r->pending_deliveries == 0) step(r, SY_EV_SETTLED, NULL, NULL);
}

/* The first fatal error stays in w->error (the loop ends on it), said once. */
static void fatal(worker *w, const sy_werr *e)
{
    if (sy_werr_is_fatal(&w->fatal)) return;
    w->fatal = *e;
    sy_error("%s; stopping (the store keeps every result: a restart publishes what is left)",
             e->msg);
}

static bool is_embedding(const sy_run *r)
{
    return r->task->kind == SY_TASK_EMBEDDING;
}

/* The prompt, or an embedding task's input (in r->user). */
static int render_prompt(sy_run *r, char *err, size_t errlen)
{
    const sy_task *t = r->task;
    if (is_embedding(r)) {
        if (sy_template_render(&t->input, &r->job, &r->user, err, errlen) != 0) return -1;
        if (r->user.len) return 0;
        snprintf(err, errlen, "task '%s': input renders empty (nothing to embed)", t->name);
        return -1; /* a provider refuses "" with the whole request it rides in */
    }
    const sy_template *system = &t->system, *user = &t->user;
    r->has_system = t->has_system;
    r->prompt_version = t->prompt_version;
    if (t->prompt) { /* the registry's (prompts.h): pinned, rolled out, or current */
        int v = sy_prompt_for_job(t->prompt, t->prompt_version, t->rollout_version, t->rollout_bp, &r->job, err,
                                  errlen);
        if (v < 0) return -1;
        const sy_prompt_version *pv = sy_prompt_version_of(t->prompt, v);
        r->prompt_version = v;
        r->has_system = pv->has_system;
        system = &pv->system;
        user = &pv->user;
    }
    if (r->has_system && sy_template_render(system, &r->job, &r->system, err, errlen) != 0)
        return -1;
    if (t->has_user) {
        if (sy_template_render(user, &r->job, &r->user, err, errlen) != 0) return -1;
        r->user_msg.role = "user";
        r->user_msg.content = (char *)sy_buf_cstr(&r->user);
    } else if (r->job.nmessages == 0) {
        snprintf(err, errlen, "task '%s' has no user prompt and the job carries no messages",
                 t->name);
        return -1;
    }
    return 0;
}

static bool same_message(const sy_run *r, const sy_job_record *rec)
{
    return rec->src_partition == r->partition && rec->src_offset == r->offset &&
           !strcmp(rec->src_topic, r->src_topic);
}

/* A record of an older store, under the bare idempotency key: it is this
 * job's if it is about the same message, or if its result is of this task;
 * then it moves to the job's key. Any other task's record is no answer to
 * this job (and stays where it is, for that task). */
static bool older_record(sy_run *r, sy_job_record *rec)
{
    worker *w = r->w;
    const char *bare = r->job.idempotency_key;
    if (!sy_store_get(w->store, bare, rec, &w->record_scratch)) return false;
    if (!same_message(r, rec) && !(rec->result && sy_result_task_is(rec->result, rec->result_len, r->task->name)))
        return false;
    if (sy_store_put(w->store, sy_buf_cstr(&r->skey), rec) == 0) sy_store_del(w->store, bare);
    return true;
}

static bool run_same_origin(const sy_run *r, const char *origin)
{
    return r->origin && origin && !strcmp(r->origin, origin);
}

/* A copy of a job the scheduler routed again (it crashed before committing
 * its jobs-topic offset): the job is answered already, or being answered,
 * under the same origin. It is released without a second result. */
static void rerouted(sy_run *r)
{
    sy_debug("key '%s': routed again from %s; already answered", r->job.idempotency_key, r->origin);
    step(r, SY_EV_REROUTED, NULL, NULL);
}

/* Is the first run of this very message still publishing its result? A
 * rebalance can hand the partition back while the broker has not answered
 * (it was down): the message comes again with its record PUBLISHING, and
 * producing the stored result now would put it out twice once the first
 * copy is acknowledged. Rare (redeliveries of a PUBLISHING record only), so
 * the live runs are searched. */
static bool first_copy_publishing(const sy_run *r)
{
    for (const sy_run *o = r->w->runs; o; o = o->next)
        if (o != r &&
            (o->pending_deliveries > 0 || o->state == SY_LS_PUBLISH_STAGED ||
             o->state == SY_LS_MIRRORING) &&
            o->partition == r->partition && o->offset == r->offset && o->src_topic &&
            !strcmp(o->src_topic, r->src_topic))
            return true;
    return false;
}

/* A stored answer (replay or dedup), or the job runs after all. */
static void answer_stored(sy_run *r, const sy_job_record *rec, sy_answer answer)
{
    if (publish_restamp(r, rec, answer) != 0) {
        step(r, SY_EV_STORED_UNREADABLE, NULL, NULL);
        return;
    }
    if (r->batch_owned) batchio_answered_from_store(r->w, r); /* rebuilt: its record stays until this is out */
    step(r, answer == SY_ANSWER_DEDUP ? SY_EV_DEDUP : SY_EV_REPLAY, NULL, NULL);
}

/* What the store knows of this key. Returns true when it decided the
 * run's next step. */
static bool answer_from_store(sy_run *r)
{
    worker *w = r->w;
    sy_job_record rec;
    if (!sy_store_get(w->store, sy_buf_cstr(&r->skey), &rec, &w->record_scratch) && !older_record(r, &rec))
        return false;
    bool same = same_message(r, &rec);
    if (!same && rec.state != SY_STATE_IN_FLIGHT && run_same_origin(r, rec.origin)) {
        rerouted(r); /* its PUBLISHING result goes out with the first copy */
        return true;
    }
    if (rec.state == SY_STATE_IN_FLIGHT) {
        if (same) r->attempts = (int)rec.attempts; /* carry on counting */
        return false;
    }
    if (rec.expires_ms && rec.expires_ms < sy_now_ms()) return false;
    if (same && rec.state == SY_STATE_PUBLISHED) { /* result already on the output topic */
        step(r, SY_EV_ANSWERED_BEFORE, NULL, NULL);
        return true;
    }
    if (!same && !rec.ok) return false; /* a failure is not an answer to a resubmission */
    if (same && rec.state == SY_STATE_PUBLISHING && first_copy_publishing(r)) {
        /* look again once the first copy is acknowledged */
        step(r, SY_EV_FIRST_COPY_OUT, NULL, &(fx_args){.delay_ms = RECHECK_MS});
        return true;
    }
    answer_stored(r, &rec, same ? SY_ANSWER_REPLAY : SY_ANSWER_DEDUP);
    return true;
}

/* ROUTE: answered from the store, waiting for another message with its
 * key, or run: the owner of its key. */
static void route(sy_run *r)
{
    if (answer_from_store(r)) return;
    bool in_work = sy_keymap_get(&r->w->working, sy_buf_cstr(&r->skey)) != NULL;
    step(r, in_work ? SY_EV_KEY_IN_WORK : SY_EV_NEW_KEY, NULL, NULL);
}

/* WAKE_WAITERS: the other messages carrying this key get the owner's
 * answer; after a failure they run on their own (a failure is not an
 * answer). */
static void release_followers(sy_run *leader)
{
    worker *w = leader->w;
    sy_run *f = leader->followers;
    leader->followers = NULL;
    if (run_owns_key(leader)) sy_keymap_del(&w->working, sy_buf_cstr(&leader->skey));
    sy_job_record rec = {.ok = leader->result_ok, .result = leader->stored.data,
                         .result_len = leader->stored.len};
    while (f) {
        sy_run *next = f->next_follower;
        bool same_msg = f->partition == leader->partition && f->offset == leader->offset &&
                        f->src_topic == leader->src_topic; /* config-owned topic names */
        /* a rebuilt copy outlives a leader handed to another worker: the
         * partition came back here, the record rebuilt it again */
        bool again = leader->handed_off && f->batch_owned;
        if (!again && (same_msg || run_same_origin(f, leader->origin))) rerouted(f); /* the same job, again */
        else if (leader->result_ok) answer_stored(f, &rec, SY_ANSWER_DEDUP);
        else if (!sy_keymap_get(&w->working, sy_buf_cstr(&f->skey))) step(f, SY_EV_NEW_KEY, NULL, NULL);
        else step(f, SY_EV_KEY_IN_WORK, NULL, NULL);
        f = next;
    }
}

static void join_waiters(sy_run *r)
{
    sy_run *leader = sy_keymap_get(&r->w->working, sy_buf_cstr(&r->skey));
    r->next_follower = leader->followers;
    leader->followers = r;
}

static void run_decode(worker *w, sy_run *r);

void run_start(worker *w, const rd_kafka_message_t *m)
{
    sy_run *r = run_new(w, m);
    r->src_topic = rd_kafka_topic_name(m->rkt);
    const sy_tier *topic_tier = sy_config_tier_by_topic(w->cfg, r->src_topic);
    if (topic_tier) r->src_topic = topic_tier->topic; /* config-owned, outlives the message */
    r->off = sy_offsets_track(w->offsets, r->src_topic, m->partition, m->offset);
    sy_flow_taken(w, r->src_topic, m->partition, r->off);
    step(r, SY_EV_CONSUMED, NULL, NULL);
    run_decode(w, r);
}

void run_restore(worker *w, const sy_tier *tier, int32_t partition, int64_t offset, const char *origin,
                 const void *key, size_t keylen, const void *value, size_t len)
{
    char *raw = sy_xmalloc(keylen + len + 1);
    if (keylen) memcpy(raw, key, keylen);
    if (len) memcpy(raw + keylen, value, len);
    raw[keylen + len] = '\0';
    sy_run *r = run_alloc(w, partition, offset, raw, keylen, len);
    r->queued_ms = sy_now_ms();
    if (origin && origin[0]) r->origin = sy_xstrdup(origin);
    r->src_topic = tier->topic;
    r->batch_owned = true; /* its offset was committed: nothing to release, not held */
    r->offset_released = true;
    w->held--;
    static int hold_ms = -1; /* test hook (run.h): read once, not per rebuilt job */
    if (hold_ms < 0) {
        const char *hold = getenv("SWITCHYARD_BATCH_HOLD_REBUILT_MS");
        hold_ms = hold ? atoi(hold) : 0;
        if (hold_ms < 0) hold_ms = 0;
    }
    if (hold_ms) r->hold_until_us = sy_mono_us() + 1000 * (int64_t)hold_ms;
    step(r, SY_EV_REBUILT, NULL, NULL);
    run_decode(w, r);
}

void run_batch_owned(sy_run *r)
{
    if (r->batch_owned || r->state != SY_LS_CALL_OUT) return;
    step(r, SY_EV_BATCH_OWNED, NULL, NULL);
    r->batch_owned = true;
    r->w->held--;
}

static void run_decode(worker *w, sy_run *r)
{
    char err[512];
    sy_err_class bad = SY_ERR_NONE;
    if (sy_job_decode(r->raw + r->keylen, r->len, &r->job, err, sizeof err) != 0) {
        bad = SY_ERR_INVALID_JOB;
    } else {
        r->job_ok = true;
        r->task = sy_config_task(w->cfg, r->job.task);
        if (!r->task) {
            snprintf(err, sizeof err, "unknown task '%.200s'", r->job.task);
            bad = SY_ERR_UNKNOWN_TASK;
        }
    }
    if (bad != SY_ERR_NONE) {
        step(r, SY_EV_BAD_JOB, NULL, &(fx_args){.dl_class = bad, .dl_why = err});
        settle_if_done(r); /* not even truncated: lost, logged */
        return;
    }
    r->tier = r->task->tier;
    sy_store_key(&r->skey, r->task->name, r->job.idempotency_key);
    step(r, SY_EV_DECODED, NULL, NULL);
}

static int64_t estimate_input_tokens(const sy_run *r)
{
    size_t bytes = r->system.len + r->user.len;
    for (size_t i = 0; !r->task->has_user && i < r->job.nmessages; i++)
        bytes += strlen(r->job.messages[i].content);
    return sy_estimate_tokens(bytes);
}

/* The output budget: max_tokens, none for an embedding. */
static int64_t output_budget(const sy_run *r)
{
    return is_embedding(r) ? 0 : r->task->max_tokens;
}

/* Pacing reserves the input and the whole output budget. */
static int64_t estimate_tokens(const sy_run *r)
{
    return estimate_input_tokens(r) + output_budget(r);
}

static sy_health *model_health(const sy_run *r, int slot)
{
    return &r->gen->health[r->tier->index][slot];
}

static sy_account *model_account(const sy_run *r, const sy_model *m)
{
    return &r->w->accounts[m->provider->index];
}

/* What the worker knows of each model of the tier, for this job. */
static void model_views(const sy_run *r, sy_model_view *v)
{
    int64_t in = estimate_input_tokens(r), now_us = sy_mono_us(), now_ms = now_us / 1000;
    for (size_t i = 0; i < r->tier->nmodels && i < SY_ROUTE_MAX_MODELS; i++) {
        const sy_model *m = r->tier->models[i].model;
        const sy_health *h = model_health(r, (int)i);
        sy_account *a = model_account(r, m);
        double out = h->tokens_out >= 0 ? h->tokens_out : output_budget(r);
        v[i].fits = !m->context_window || in + output_budget(r) <= m->context_window;
        v[i].usable = sy_health_usable(h, now_ms) && sy_account_usable(a, now_us);
        v[i].cost_usd = sy_model_cost(m, in, (int64_t)out);
        v[i].latency_ms = h->latency_ms;
        v[i].headroom = sy_account_headroom(a, now_us);
    }
}

static void attempt(sy_run *r);

/* BEGIN: the deadline, the prompt, the route; then the first attempt. */
static void begin(sy_run *r)
{
    char err[512];
    r->deadline_ms = r->job.deadline_ms;
    if (!r->deadline_ms && r->task->deadline_ms) r->deadline_ms = sy_now_ms() + r->task->deadline_ms;
    if (render_prompt(r, err, sizeof err) != 0) {
        fail(r, SY_EV_NOT_RUNNABLE, SY_ERR_RENDER, err);
        return;
    }
    sy_model_view views[SY_ROUTE_MAX_MODELS];
    model_views(r, views);
    if (sy_route_begin(&r->route, r->tier, &r->job, views) != 0) {
        fail(r, SY_EV_NOT_RUNNABLE, SY_ERR_CONTEXT_WINDOW, r->route.why);
        return;
    }
    attempt(r);
}

static int run_priority(const sy_run *r)
{
    return r->task->priority + r->job.priority;
}

static void note_attempt(sy_run *r, sy_err_class c, int http_status, int64_t latency_ms)
{
    if (r->nhistory >= SY_HISTORY_MAX) return;
    r->history[r->nhistory++] = (sy_attempt_note){
        .model = r->model->alias, .error = c, .http_status = http_status, .latency_ms = latency_ms};
}

static void note_model_tried(sy_run *r)
{
    const char *alias = r->model->alias;
    size_t used = strlen(r->models_tried), n = strlen(alias);
    for (const char *p = r->models_tried; (p = strstr(p, alias)); p += n)
        if ((p == r->models_tried || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return;
    /* as snprintf("%s%s") wrote it (cut to fit), without printf once a job */
    size_t room = sizeof r->models_tried - used - 1; /* models_tried ends with a NUL */
    char *o = r->models_tried + used;
    if (used && room) *o++ = ',', room--;
    size_t k = n < room ? n : room;
    memcpy(o, alias, k);
    o[k] = '\0';
}

/* Reserve room under the account's limits now, if nobody waits before us. */
static bool pace(sy_run *r, size_t acct)
{
    worker *w = r->w;
    if (w->paced[acct].waiting.n) return false; /* those waiting go first */
    int64_t est = estimate_tokens(r);
    if (sy_account_reserve(&w->accounts[acct], est, sy_mono_us(), &r->pace_mark) > 0) return false;
    r->reserved_tokens = est;
    return true;
}

/* Why the model at place i of the route cannot take calls now (NONE: it
 * can), and for how long (ms). */
static sy_err_class unusable(const sy_run *r, int i, int64_t *wait_ms)
{
    int slot = r->route.order[i];
    const sy_model *m = r->tier->models[slot].model;
    int64_t now_us = sy_mono_us();
    int64_t cool = sy_account_cooling_us(model_account(r, m), now_us);
    const sy_health *h = model_health(r, slot);
    if (cool > 0) *wait_ms = cool / 1000 + 1;
    else if (!sy_health_usable(h, now_us / 1000)) *wait_ms = sy_health_wait_ms(h, now_us / 1000);
    else return SY_ERR_NONE;
    if (*wait_ms <= 0) *wait_ms = 100; /* half-open, all probes out: look again soon */
    return cool > 0 ? SY_ERR_ACCOUNT_COOLDOWN : SY_ERR_CIRCUIT_OPEN;
}

/* Wait delay_ms on the timer heap, but not past the job's deadline: a job
 * whose retry (or model) would come after it expires at its deadline. */
static void wait_timer(sy_run *r, int64_t delay_ms)
{
    if (r->deadline_ms) {
        int64_t left = r->deadline_ms - sy_now_ms() + 1; /* attempt() expires it then */
        if (delay_ms > left) delay_ms = left > 0 ? left : 0;
    }
    sy_timers_add(&r->w->timers, sy_mono_us() + delay_ms * 1000, r, &r->timer_pos);
}

/* Move the route to the first model from here on that can take calls,
 * noting the ones skipped. When none can, return false with the wait for
 * the soonest one. */
static bool choose_usable_model(sy_run *r, int64_t *soonest_ms)
{
    int64_t soonest = -1;
    for (int i = r->route.pos; i < r->route.n; i++) {
        int64_t wait = 0;
        sy_err_class why = unusable(r, i, &wait);
        if (why == SY_ERR_NONE) {
            for (int j = r->route.pos; j < i; j++) {
                r->model = r->tier->models[r->route.order[j]].model;
                note_attempt(r, unusable(r, j, &wait), 0, 0);
                r->w->counters.breaker_skips++;
            }
            sy_route_skip_to(&r->route, i);
            return true;
        }
        if (soonest < 0 || wait < soonest) soonest = wait;
    }
    *soonest_ms = soonest;
    return false;
}

static void send_attempt(sy_run *r);

/* The budget hook (spend.h): a spent budget of the job's tags holds it (a
 * timer, as when no model can take calls), moves it to the budget's tier,
 * or fails it as budget_exceeded. Returns true when the job goes no further. */
static bool over_budget(sy_run *r)
{
    const sy_budget *b = r->w->spend ? sy_spend_check(r->w->spend, &r->job) : NULL;
    if (!b || (b->action == SY_BUDGET_DOWNGRADE && b->tier == r->tier)) return false;
    if (b->action == SY_BUDGET_HOLD) {
        step(r, SY_EV_NO_MODEL, NULL, &(fx_args){.delay_ms = SY_SPEND_HOLD_MS});
        return true;
    }
    char why[600];
    snprintf(why, sizeof why, "the %s budget of %.200s=%.200s ($%.2f) is spent", sy_budget_period_name(b->period),
             b->tag, b->value, (double)b->limit_nano / 1e9);
    if (b->action == SY_BUDGET_DEADLETTER) {
        fail(r, SY_EV_NOT_RUNNABLE, SY_ERR_BUDGET_EXCEEDED, why);
        return true;
    }
    sy_model_view views[SY_ROUTE_MAX_MODELS];
    r->tier = b->tier;
    model_views(r, views);
    if (sy_route_begin(&r->route, r->tier, &r->job, views) != 0) {
        fail(r, SY_EV_NOT_RUNNABLE, SY_ERR_CONTEXT_WINDOW, r->route.why);
        return true;
    }
    return false;
}

/* ATTEMPT: the deadline, the budgets, a usable model, an engine slot, room
 * under the account; then the request. */
static void attempt(sy_run *r)
{
    worker *w = r->w;
    if (r->deadline_ms && sy_now_ms() > r->deadline_ms) {
        fail(r, SY_EV_EXPIRED, SY_ERR_EXPIRED, "job deadline passed before it could run");
        return;
    }
    if (over_budget(r)) return;
    int64_t wait_ms = 0;
    if (!choose_usable_model(r, &wait_ms)) {
        step(r, SY_EV_NO_MODEL, NULL, &(fx_args){.delay_ms = wait_ms});
        return;
    }
    r->model = sy_route_model(&r->route, r->tier);
    if (w->stopping || !sy_engine_has_room(w->engine)) { /* stopping: parked for good */
        step(r, SY_EV_NO_SLOT, NULL, NULL);
        return;
    }
    if (!pace(r, r->model->provider->index)) {
        step(r, SY_EV_NO_PACE, NULL, NULL);
        return;
    }
    send_attempt(r);
}

/* Release the jobs waiting on one account while its buckets have room. */
static int64_t release_account(worker *w, size_t acct, int64_t now)
{
    pace_queue *q = &w->paced[acct];
    if (q->next_try_us > now) return q->next_try_us - now;
    sy_run *r;
    while ((r = sy_waitq_peek(&q->waiting)) && sy_engine_has_room(w->engine)) {
        int64_t est = estimate_tokens(r);
        int64_t wait = sy_account_reserve(&w->accounts[acct], est, now, &r->pace_mark);
        if (wait > 0) {
            q->next_try_us = now + wait;
            return wait;
        }
        sy_waitq_pop(&q->waiting);
        r->reserved_tokens = est;
        step(r, SY_EV_PACE_ROOM, NULL, NULL);
    }
    return q->waiting.n ? 1000 : -1; /* engine full: the next turn tries again */
}

/* Jobs whose deadline passed while they waited on the account (paused
 * by a 429, stopped until a reset) end now, as expired; microseconds until
 * the next deadline there (-1: none). */
static int64_t expire_waiting(sy_waitq *q, int64_t now_ms)
{
    void **gone;
    size_t n = sy_waitq_take_expired(q, now_ms, &gone);
    for (size_t i = 0; i < n; i++)
        fail(gone[i], SY_EV_EXPIRED, SY_ERR_EXPIRED, "job deadline passed while it waited for "
                                                    "its provider account's rate limit");
    free(gone);
    int64_t next = sy_waitq_next_deadline(q);
    if (!next) return -1;
    int64_t ms = next - now_ms + 1; /* a deadline may be as far as INT64_MAX */
    return ms < 0 ? 0 : ms > SY_PROVIDER_MAX_WAIT_MS ? SY_PROVIDER_MAX_WAIT_MS * 1000 : ms * 1000;
}

static void sooner(int64_t *soonest, int64_t us)
{
    if (us >= 0 && (*soonest < 0 || us < *soonest)) *soonest = us;
}

int64_t run_release_paced(worker *w)
{
    int64_t now = sy_mono_us(), now_ms = sy_now_ms(), soonest = -1;
    for (size_t i = 0; i < w->cfg->nproviders; i++) {
        if (!w->paced[i].waiting.n) continue;
        sooner(&soonest, expire_waiting(&w->paced[i].waiting, now_ms));
        if (w->paced[i].waiting.n) sooner(&soonest, release_account(w, i, now));
    }
    return soonest;
}

/* The attempt goes into a batch of its tier (launch_prepared asks batchio). */
static bool batch_bound(const sy_run *r)
{
    return r->tier->mode == SY_TIER_BATCH && !(r->batch_tried && r->tier->batch.retry == SY_BATCH_RETRY_SYNC);
}

static void build_request(sy_run *r, sy_transfer *t, bool body_only);

/* SEND: build the request; its intent is staged and it is launched after
 * the group commit (PREPARED). */
static void send_attempt(sy_run *r)
{
    worker *w = r->w;
    if (!sy_health_allow(model_health(r, r->route.order[r->route.pos]), sy_mono_us() / 1000)) {
        sy_account *a = model_account(r, r->model); /* the breaker opened while it waited */
        sy_account_settle(a, r->reserved_tokens, 0);
        sy_account_settle_request(a);
        r->reserved_tokens = 0;
        step(r, SY_EV_BREAKER_OPENED, NULL, NULL);
        return;
    }
    note_model_tried(r);
    if (is_embedding(r)) { /* its request is its group's, built when sent (embed.h) */
        sy_route_attempt(&r->route);
        r->attempts++;
        step(r, SY_EV_PREPARED, NULL, NULL);
        return;
    }
    sy_transfer *t = sy_engine_acquire(w->engine);
    build_request(r, t, batch_bound(r));
    sy_route_attempt(&r->route);
    r->attempts++;
    r->prepared = t;
    step(r, SY_EV_PREPARED, NULL, NULL); /* the intent, durable before the call */
}

/* r's call in t: the body only for a job a batch takes (its body goes
 * into the batch's input file; headers would be built to be thrown away). */
static void build_request(sy_run *r, sy_transfer *t, bool body_only)
{
    sy_request_reset(&t->req);
    t->req.body_only = body_only;
    sy_call call = {
        .model = r->model,
        .system = r->has_system ? sy_buf_cstr(&r->system) : NULL,
        .messages = r->task->has_user ? &r->user_msg : r->job.messages,
        .nmessages = r->task->has_user ? 1 : r->job.nmessages,
        .max_tokens = r->task->max_tokens,
        .temperature = r->task->temperature,
        .want_json = r->task->parse == SY_PARSE_JSON,
        .params = &r->task->params,
    };
    sy_provider_build(&call, &t->req);
    sy_request_add_job_header(&t->req, r->job.idempotency_key);
}

/* STAGE_INTENT: the IN_FLIGHT record, durable before the call (rule 1 of
 * docs/durability.md). A job going into a batch has none: the batch's
 * record, durable before its create (or its Anthropic intent), is the
 * intent of every job it carries. */
static void stage_intent(sy_run *r)
{
    r->batch_intent = !is_embedding(r) && batch_bound(r);
    if (!r->batch_intent) jobstate_put(r, SY_STATE_IN_FLIGHT, -1, -1);
}

/* LAUNCH_CALL */
static void launch_prepared(sy_run *r)
{
    worker *w = r->w;
    if (is_embedding(r)) {
        embed_join(w, r); /* it waits in CALL_OUT for its group's answer */
        return;
    }
    sy_transfer *t = r->prepared;
    r->prepared = NULL;
    r->attempt_sent_us = sy_mono_us();
    if (!r->first_sent_us) {
        r->first_sent_us = r->attempt_sent_us;
        wmetrics_first_send(r);
    }
    if (batch_bound(r) && !r->own_call) {
        sy_account *a = model_account(r, r->model); /* a batch does not use the account's rate */
        sy_account_settle(a, r->reserved_tokens, 0);
        sy_account_settle_request(a);
        r->reserved_tokens = 0;
        if (r->handed_off) { /* its partition's next owner rebuilds it (run_revoked) */
            sy_engine_release(w->engine, t);
            release_followers(r); /* as after a failure: a copy of its message goes without a result */
            step(r, SY_EV_SHUTDOWN, NULL, NULL); /* freed: LAUNCH_CALL is its step's last effect */
            return;
        }
        if (batchio_take(w, r, t)) return; /* CALL_OUT until its batch answers (batchio.h) */
        if (r->batch_intent) { /* a call of its own after all: its intent first (rule 1) */
            r->batch_intent = false;
            r->own_call = true;
            jobstate_put(r, SY_STATE_IN_FLIGHT, -1, -1);
            r->prepared = t;
            run_defer(r); /* launched by run_after_group_commit */
            return;
        }
    }
    r->own_call = false;
    if (t->req.body_only) build_request(r, t, false); /* a call of its own after all: whole */
    int64_t timeout = r->tier->retry.timeout_ms;
    if (r->deadline_ms) { /* an attempt never outlives the job's deadline */
        int64_t left = r->deadline_ms - sy_now_ms();
        if (left < timeout) timeout = left > 1 ? left : 1;
        t->deadline_ms = r->deadline_ms; /* and if it waits for a free connection first (engine.h) */
    }
    sy_engine_launch(w->engine, t, (int)timeout, r);
}

/* The provider's certificate could not be verified: the same call would
 * fail the same way, so it is not retried (tls_error). */
static bool tls_untrusted(CURLcode c)
{
    return c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
           c == CURLE_SSL_CERTPROBLEM || c == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* What went wrong and where: "cannot connect to 127.0.0.1:9 (Connection
 * refused)". The host and port come from the parsed request URL, never its
 * userinfo, path or query; the reason from the OS when it gave one. */
static void transport_message(const sy_transfer *t, char *out, size_t len)
{
    char *host = NULL, *port = NULL;
    long os_errno = 0;
    if (t->url) {
        curl_url_get(t->url, CURLUPART_HOST, &host, 0);
        curl_url_get(t->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    }
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
    const char *where_h = host ? host : "?", *where_p = port ? port : "?";
    const char *why = curl_easy_strerror(t->curl_code);
    if (t->curl_code == CURLE_COULDNT_CONNECT)
        snprintf(out, len, "cannot connect to %s:%s (%s)", where_h, where_p,
                 os_errno ? strerror((int)os_errno) : why);
    else if (t->curl_code == CURLE_COULDNT_RESOLVE_HOST)
        snprintf(out, len, "cannot resolve host %s (%s)", where_h, why);
    else if (t->curl_code == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, len, "no answer from %s:%s in time (%s)", where_h, where_p, why);
    else if (tls_untrusted(t->curl_code))
        snprintf(out, len, "the TLS certificate of %s:%s is not trusted (%s); a private or "
                 "self-signed one can be trusted with the provider's ca_file:", where_h, where_p, why);
    else
        snprintf(out, len, "call to %s:%s failed (%s)", where_h, where_p, why);
    curl_free(host);
    curl_free(port);
}

/* An outcome with no answer behind it: err, and nothing said about
 * retrying or the provider's limits; the caller writes its message. */
static void unanswered(sy_outcome *o, sy_err_class err)
{
    *o = (sy_outcome){.error = err, .retry_after_ms = -1, .should_retry = -1, .rl = {-1, -1, -1, -1, -1, -1}};
}

/* Transport failure -> outcome (the adapter only sees HTTP answers). An
 * answer cut short at the engine's limits is response_too_large: the same
 * call would bring it again, so it is not retried (the tier falls back). */
static void transport_outcome(const worker *w, const sy_transfer *t, sy_outcome *o)
{
    unanswered(o, t->too_large                               ? SY_ERR_RESPONSE_TOO_LARGE
                  : t->curl_code == CURLE_OPERATION_TIMEDOUT ? SY_ERR_TIMEOUT
                  : tls_untrusted(t->curl_code)              ? SY_ERR_TLS
                                                             : SY_ERR_CONNECTION);
    o->http_status = t->too_large ? (int)t->http_status : 0;
    if (t->too_large)
        snprintf(o->message, sizeof o->message,
                 "response larger than %zu bytes of body or %zu bytes of headers "
                 "(--max-answer-bytes, --max-header-bytes); cut short",
                 w->opt.max_answer_bytes, w->opt.max_header_bytes);
    else
        transport_message(t, o->message, sizeof o->message);
}

/* A provider that cannot be reached is said in the log, at most every 10 s
 * per provider (each job's result and dead letter say it too). */
static void log_transport(sy_run *r)
{
    pace_queue *q = &r->w->paced[r->model->provider->index];
    int64_t now = sy_mono_us();
    if (q->transport_warned_us && now - q->transport_warned_us < 10000000) return;
    q->transport_warned_us = now;
    sy_log_ev(SY_LOG_WARN, &run_log_ctx(r, "provider_unreachable"), "provider '%s': %s",
              r->model->provider->name, r->last.message);
}

/* Does the answer have the shape the task asks for? A task that parses
 * JSON needs an object or array back (else output_parse, not retried); a
 * task with an output schema or a label set needs an answer that validates
 * (else output_invalid: retried, then the fallback, then the dead letter
 * with the reason, which names no byte of the answer: jschema.h). */
static void check_output(sy_run *r)
{
    const sy_task_params *tp = &r->task->params;
    const char *out = r->last.output ? r->last.output : "";
    char why[200] = "";
    r->label = 0;
    if (is_embedding(r)) return;
    if (r->task->parse != SY_PARSE_JSON && !tp->nlabels) return;
    json_error_t jerr;
    json_t *v = r->task->parse == SY_PARSE_JSON ? json_loads(out, JSON_DECODE_ANY, &jerr) : NULL;
    if (r->task->parse == SY_PARSE_JSON && !tp->output_schema && !(json_is_object(v) || json_is_array(v))) {
        r->last.error = SY_ERR_OUTPUT_PARSE;
        snprintf(r->last.message, sizeof r->last.message,
                 "task '%s' expects JSON; model %s answered text", r->task->name, r->model->alias);
    } else if (tp->output_schema && !v) {
        snprintf(why, sizeof why, "not JSON (line %d, column %d)", jerr.line, jerr.column);
    } else if (tp->output_schema) {
        sy_jschema_validate(tp->output_schema, v, why, sizeof why);
    } else if (tp->nlabels) {
        int k = sy_label_match(out, strlen(out), (const char *const *)tp->labels, tp->nlabels, why, sizeof why);
        if (k >= 0) r->label = (size_t)k + 1;
    }
    json_decref(v);
    if (!why[0]) return;
    r->last.error = SY_ERR_OUTPUT_INVALID;
    snprintf(r->last.message, sizeof r->last.message, "task '%s': model %s: the answer does not "
             "validate: %s", r->task->name, r->model->alias, why);
}

/* Retry jitter: xorshift64* over the worker's seed. */
static uint64_t worker_random(worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 2685821657736338717ULL;
}

static void after_failure(sy_run *r)
{
    int64_t delay_ms = 0;
    switch (sy_route_after_failure(&r->route, r->tier, &r->last, worker_random(r->w), &delay_ms)) {
    case SY_ROUTE_RETRY:
        step(r, r->last.error == SY_ERR_RATE_LIMITED ? SY_EV_RATE_LIMITED : SY_EV_RETRIABLE, NULL,
             &(fx_args){.delay_ms = delay_ms});
        break;
    case SY_ROUTE_FALLBACK:
        step(r, SY_EV_FALLBACK, NULL, NULL);
        break;
    case SY_ROUTE_GIVE_UP:
        step(r, SY_EV_PERMANENT, NULL, NULL);
        break;
    }
}

/* What the answer says about the account: usage, headers, 429s. */
static void pace_feedback(sy_run *r)
{
    sy_account *a = model_account(r, r->model);
    int64_t now = sy_mono_us(), used = r->last.tokens_in + r->last.tokens_out;
    sy_account_settle(a, r->reserved_tokens, r->last.error == SY_ERR_NONE ? used : r->reserved_tokens);
    r->reserved_tokens = 0;
    sy_account_learn(a, &r->last.rl, &r->pace_mark, now);
    r->w->paced[r->model->provider->index].next_try_us = 0; /* news: look again next turn */
    if (r->last.error == SY_ERR_RATE_LIMITED) {
        int64_t wait = r->last.retry_after_ms;
        if (wait < 0) wait = r->last.rl.reset_requests_ms > r->last.rl.reset_tokens_ms
                                 ? r->last.rl.reset_requests_ms : r->last.rl.reset_tokens_ms;
        sy_account_pause(a, wait, now);
    }
}

/* An auth (401) or quota error: the account cools down (logged once); the
 * route falls back, or retries once the cool-down is over. */
static void account_feedback(sy_run *r)
{
    if (!sy_route_account_error(&r->last)) return;
    const sy_provider *p = r->model->provider;
    int64_t now = sy_mono_us();
    sy_account *a = model_account(r, r->model);
    if (sy_account_cool(a, p->cooldown_ms, now))
        sy_log_ev(SY_LOG_WARN, &run_log_ctx(r, "account_cooling"),
                  "account of provider '%s': %s (HTTP %d); its models are skipped for %" PRId64
                  " s", p->name, sy_err_class_name(r->last.error), r->last.http_status,
                p->cooldown_ms / 1000);
    r->last.retry_after_ms = sy_account_cooling_us(a, now) / 1000 + 1;
}

/* What the answer says about the model: breaker, latency, output length. */
static void health_feedback(sy_run *r, int64_t latency_ms)
{
    sy_health *h = model_health(r, r->route.order[r->route.pos]);
    if (sy_health_record(h, r->last.error, latency_ms, r->last.tokens_out, sy_mono_us() / 1000))
        sy_log_ev(SY_LOG_WARN, &run_log_ctx(r, "circuit_open"),
                  "model '%s' of tier '%s': circuit open for %d ms after repeated %s",
                r->model->alias, r->tier->name, h->policy->cooldown_ms,
                sy_err_class_name(r->last.error));
}

/* What follows an answer, from a call or a batch line: its metrics, tokens
 * and cost (spend counted for budgets), the output check, the attempt
 * noted, then the job's next step (again: the same attempt once more, as
 * an embedding request refused whole and split). */
static void answered(sy_run *r, int64_t latency_ms, double cost, bool again)
{
    wmetrics_call(r, latency_ms, r->last.error);
    r->tokens_in += r->last.tokens_in;
    r->tokens_out += r->last.tokens_out;
    sy_usage_detail_add(&r->usage, &r->last.usage);
    r->cost_usd += cost;
    if (r->w->spend) sy_spend_add(r->w->spend, &r->job, cost); /* the budget hook: spend counted */
    if (r->last.error == SY_ERR_NONE) check_output(r);
    note_attempt(r, r->last.error, r->last.http_status, latency_ms);
    if (r->last.error == SY_ERR_NONE) step(r, SY_EV_RESPONSE_OK, NULL, NULL);
    else if (again) step(r, SY_EV_RETRIABLE, NULL, &(fx_args){.delay_ms = 0});
    else after_failure(r);
}

/* A call's outcome is in r->last: what it says about the account and the
 * model (health only when it speaks for its request: a request shared by
 * many embedding jobs is one call to the breaker), then answered(). */
static void attempt_ended(sy_run *r, int64_t latency_ms, bool count_health, bool again)
{
    pace_feedback(r);
    account_feedback(r);
    if (count_health) health_feedback(r, latency_ms);
    else sy_health_release(model_health(r, r->route.order[r->route.pos])); /* its probe, if any */
    free(r->batch_id); /* answered by an ordinary call */
    r->batch_id = NULL;
    answered(r, latency_ms, sy_model_cost_detail(r->model, r->last.tokens_in, r->last.tokens_out, &r->last.usage),
             again);
}

/* One embedding job's part of its group's answer (embed.h). */
static void embedding_ended(sy_run *r, sy_outcome *o, float **vec, uint32_t dim, bool first,
                            size_t n, int64_t latency_ms)
{
    size_t cap = sy_embed_bisect(n, o->error); /* refused whole: again, in halves */
    if (cap) r->embed_cap = (uint32_t)cap;
    sy_outcome_free(&r->last);
    r->last = *o;
    free(r->embedding);
    r->embedding = NULL;
    r->nembedding = 0;
    if (o->error == SY_ERR_NONE) {
        r->embedding = *vec;
        r->nembedding = dim;
        *vec = NULL;
    } else if (o->error == SY_ERR_TIMEOUT || o->error == SY_ERR_CONNECTION) {
        log_transport(r);
    }
    attempt_ended(r, latency_ms, first, cap != 0);
}

void run_on_response(worker *w, sy_transfer *t, void *opaque)
{
    sy_embed_group *g = embed_group_of(w, opaque);
    if (g) {
        sy_outcome transport = {0};
        bool failed = t->curl_code != CURLE_OK || t->too_large;
        if (failed) transport_outcome(w, t, &transport);
        embed_finish(w, g, t, failed ? &transport : NULL, embedding_ended);
        return;
    }
    sy_run *r = opaque;
    /* from when the call went out: a call may wait for a free connection first (engine.h) */
    int64_t latency_ms = (sy_mono_us() - (t->started_us > r->attempt_sent_us ? t->started_us : r->attempt_sent_us)) / 1000;
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    if (t->expired) { /* never sent: not the provider's failure (its breaker is left alone) */
        unanswered(&r->last, SY_ERR_TIMEOUT);
        snprintf(r->last.message, sizeof r->last.message, "the job's deadline passed while its call waited for a "
                 "free connection to provider '%s' (max_connections)", r->model->provider->name);
        attempt_ended(r, 0, false, false);
        return;
    }
    if (t->curl_code != CURLE_OK || t->too_large) {
        transport_outcome(w, t, &r->last);
        if (!t->too_large) log_transport(r);
    } else {
        sy_provider_parse(r->model->provider, (int)t->http_status, t->headers.data,
                          t->headers.len, t->body.data, t->body.len, &r->last);
        sy_outcome_estimate(&r->last, t->req.body.len); /* no usage: counted locally */
    }
    attempt_ended(r, latency_ms, true, false);
}

bool run_on_batch_line(sy_run *r, const char *batch_id, int status, const char *body, size_t len,
                       const char *error_code)
{
    int64_t latency_ms = (sy_mono_us() - r->attempt_sent_us) / 1000;
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    r->batch_tried = true;
    if (status > 0 && body) {
        sy_provider_parse_checked(r->model->provider, status, body, len, &r->last); /* checked by batch.c */
        sy_outcome_estimate(&r->last, r->batch_req_len);
    } else { /* expired, cancelled, failed batch, or no line: retried */
        unanswered(&r->last, SY_ERR_TIMEOUT);
        snprintf(r->last.message, sizeof r->last.message, "batch %s: no answer for this job (%s)", batch_id,
                 error_code && *error_code ? error_code : "none");
        /* the code is the provider's text, kept as its messages are: without the key (scrub.h) */
        sy_scrub_key_in(r->last.message, sizeof r->last.message, r->model->provider->api_key);
    }
    free(r->batch_id);
    r->batch_id = sy_xstrdup(batch_id);
    account_feedback(r);
    answered(r, latency_ms, sy_model_cost_batch(r->model, r->last.tokens_in, r->last.tokens_out), false);
    return r->state == SY_LS_PUBLISH_STAGED; /* else retried: nothing of it to wait for */
}

void run_on_timer(sy_run *r)
{
    if (r->state == SY_LS_INTENT_STAGED || r->state == SY_LS_PUBLISH_STAGED) {
        /* held by the test hook: launched (or its stored result sent) after the next commit */
        run_defer(r);
        return;
    }
    step(r, SY_EV_TIMER, NULL, NULL);
}

void run_on_slot(sy_run *r)
{
    step(r, SY_EV_SLOT, NULL, NULL);
}

void run_after_group_commit(worker *w)
{
    sy_run *r = w->deferred;
    w->deferred = NULL;
    while (r) {
        sy_run *next = r->next_deferred;
        if (r->hold_until_us && (r->state == SY_LS_INTENT_STAGED || r->state == SY_LS_PUBLISH_STAGED)) {
            /* test hook: once, on the timer heap */
            sy_timers_add(&w->timers, r->hold_until_us, r, &r->timer_pos);
            r->hold_until_us = 0;
            r = next;
            continue;
        }
        if (r->own_call && r->state == SY_LS_CALL_OUT) { /* its IN_FLIGHT is durable now */
            launch_prepared(r);
            r = next;
            continue;
        }
        sy_life_facts f = {.mirror = w->opt.changelog && r->answer != SY_ANSWER_DEDUP};
        step(r, SY_EV_GROUP_COMMITTED, &f, NULL);
        r = next;
    }
}

/* The client or broker refused r's result for good: RESULT_REFUSED, and a
 * dead letter saying why takes its place (publish.h). */
static void refused(sy_run *r, int err)
{
    char why[300];
    publish_refused_why(r, err, why, sizeof why);
    sy_log_ev(SY_LOG_WARN, &run_log_ctx(r, "result_refused"), "key '%s': %s; dead-lettered",
              r->job.idempotency_key, why);
    step(r, SY_EV_RESULT_REFUSED, NULL,
         &(fx_args){.dl_class = SY_ERR_UNPUBLISHABLE, .dl_why = why});
}

/* PRODUCE_RESULT */
static void produce_result(sy_run *r)
{
    sy_werr e = {0};
    int err = publish_produce_result(r, &e);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        fatal(r->w, &e); /* the run stays as it is: the loop ends */
        return;
    }
    if (err) refused(r, err);
    else wmetrics_result(r);
    settle_if_done(r);
}

/* A delivery failed: produced again, or replaced. True when something is
 * in flight in its place (the run waits for it). */
static bool delivery_failed(worker *w, sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    if (publish_produce_again(r, rk, m)) {
        step(r, SY_EV_DELIVERY_RETRIED, NULL, NULL);
        return true;
    }
    switch (publish_substitute(w, r, rk, m)) {
    case SY_SUB_IN_FLIGHT: return true;
    case SY_SUB_RESULT: refused(r, (int)m->err); return false;
    default: return false;
    }
}

/* A delivery report of the transactional producer: kept until the
 * transaction commits (txn.c); the run is held once all its messages are
 * acknowledged. */
static void txn_delivery(worker *w, const rd_kafka_message_t *m, sy_run *r)
{
    if (m->err && !sy_kafka_err_retriable(m->err)) {
        /* aborting and producing it again would fail again: its substitute
         * (a truncated dead letter, or a dead letter saying why the result
         * could not go out) goes in its place, and it is not kept */
        publish_substitute_kind k = publish_substitute(w, r, w->producer, m);
        if (k == SY_SUB_RESULT) refused(r, (int)m->err);
        if (k == SY_SUB_IN_FLIGHT || !r || --r->pending_deliveries > 0) return;
    } else {
        txn_keep(w->txn, m);
        if (!r) return;
        if (m->err) r->txn_failed = true;
        else if (publish_is_result(r, m)) {
            r->txn_out_partition = m->partition;
            r->txn_out_offset = m->offset;
        }
        if (--r->pending_deliveries > 0) return;
    }
    step(r, SY_EV_TXN_ACKED, &(sy_life_facts){.txn_failed = r->txn_failed}, NULL);
}

/* Test hook: SWITCHYARD_BATCH_CRASH_AT=before_result kills the worker when
 * the PUBLISHING record of a job a batch answered is on the changelog,
 * before its result is produced (tests/integration/batch_publish_crash.sh). */
static void crash_before_result(void)
{
    static int armed = -1;
    if (armed < 0) {
        const char *at = getenv("SWITCHYARD_BATCH_CRASH_AT");
        armed = at && !strcmp(at, "before_result");
    }
    if (!armed) return;
    sy_warn("SWITCHYARD_BATCH_CRASH_AT=before_result: killing the worker");
    raise(SIGKILL);
}

/* Test hook: SWITCHYARD_CRASH_AT=published_gap (tests/integration/
 * restore_gap.sh). The 20th result acknowledged (the victim), and every
 * later one of its input partition, get no PUBLISHED note or mirror and
 * never settle, their input offsets not committed: as if the worker had
 * died right after their acknowledgements. Once a later result in the
 * victim's output partition, of another input partition, is noted, the
 * worker is killed when the first changelog record made after that note
 * is acknowledged: records whose progress marks (or, in a batch
 * tier or with --transactions, PUBLISHED records) put the writer's notes
 * of that output partition above the victim's result. */
typedef struct gap_hook {
    int armed, seen, nafter;
    const char *topic; /* the victim's input topic and partition */
    int32_t part, out_part;
    int64_t out_off;
    const sy_run *victim;
    bool triggered;
    const sy_run *after[16]; /* runs whose changelog record was made after the trigger */
} gap_hook;
static gap_hook gap = {.armed = -1};

/* True when r's PUBLISHED note is left out. */
static bool published_gap(sy_run *r, int32_t out_partition, int64_t out_offset)
{
    if (gap.armed < 0) {
        const char *at = getenv("SWITCHYARD_CRASH_AT");
        gap.armed = at && !strcmp(at, "published_gap");
    }
    if (!gap.armed || r->batch_hold) return false;
    if (!gap.victim && ++gap.seen >= 20) {
        gap = (gap_hook){.armed = 1, .victim = r, .topic = r->src_topic, .part = r->partition,
                         .out_part = out_partition, .out_off = out_offset};
        sy_warn("SWITCHYARD_CRASH_AT=published_gap: no PUBLISHED mirror for key '%s' (%d/%lld)",
                r->job.idempotency_key, (int)out_partition, (long long)out_offset);
    }
    if (!gap.victim) return false;
    if (r->partition == gap.part && !strcmp(r->src_topic, gap.topic)) {
        r->pending_deliveries++; /* a mirror that never comes */
        return true;
    }
    if (out_partition == gap.out_part && out_offset > gap.out_off) gap.triggered = true;
    return false;
}

/* The hook: r's changelog record is being made; after the trigger, it
 * carries the trigger's note. */
static void published_gap_mirror(const sy_run *r)
{
    if (gap.triggered && gap.nafter < (int)(sizeof gap.after / sizeof *gap.after)) gap.after[gap.nafter++] = r;
}

/* The hook's kill: the first changelog record made after the trigger is
 * acknowledged (its run is alive until then: the pointer is its own). */
static void published_gap_kill(worker *w, rd_kafka_t *rk, const sy_run *r)
{
    if (!gap.triggered || rk != w->changelog_producer || r->state != SY_LS_MIRRORING) return;
    for (int i = 0; i < gap.nafter; i++)
        if (gap.after[i] == r) {
            sy_warn("SWITCHYARD_CRASH_AT=published_gap: later changelog records carry a note above it; killing the worker");
            raise(SIGKILL);
        }
}

void run_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    worker *w = opaque;
    sy_run *r = m->_private;
    if (batchio_on_delivery(w, m)) return; /* a batch's record on the changelog */
    if (w->txn && rk == w->producer) {
        txn_delivery(w, m, r); /* noted PUBLISHED when its transaction commits */
        return;
    }
    if (m->err && delivery_failed(w, r, rk, m)) return;
    if (!r) return; /* a mirror with no job behind it (recovery) */
    if (!m->err) published_gap_kill(w, rk, r);
    if (r->batch_id && r->state == SY_LS_MIRRORING) crash_before_result();
    if (r->state == SY_LS_MIRRORING) /* acknowledged, or done without (publish_substitute) */
        step(r, SY_EV_MIRRORED, NULL, NULL);
    else if (!m->err && publish_is_result(r, m))
        step(r, SY_EV_RESULT_DELIVERED, NULL,
             &(fx_args){.out_partition = m->partition, .out_offset = m->offset});
    /* whatever became of it: the partition never waits for good */
    r->pending_deliveries--;
    settle_if_done(r);
}

void run_txn_commit(worker *w)
{
    if (sy_werr_is_fatal(&w->fatal)) return; /* the producer is gone: nothing to commit */
    void **runs;
    size_t n;
    sy_werr e = {0};
    switch (txn_commit(w, &runs, &n, &e)) {
    case SY_TXN_COMMITTED:
        for (size_t i = 0; i < n; i++) {
            sy_run *r = runs[i];
            sy_life_facts f = {.has_out = r->txn_out_offset >= 0};
            fx_args a = {.out_partition = r->txn_out_partition, .out_offset = r->txn_out_offset};
            r->txn_out_offset = -1;
            step(r, SY_EV_TXN_COMMITTED, &f, &a);
            settle_if_done(r);
        }
        break;
    case SY_TXN_ABORTED: /* every message of the aborted transaction is out again */
        for (size_t i = 0; i < n; i++)
            if (runs[i]) {
                sy_run *r = runs[i];
                r->txn_failed = false;
                r->txn_out_offset = -1;
            }
        for (size_t i = 0; i < n; i++)
            if (runs[i]) {
                sy_run *r = runs[i];
                r->pending_deliveries++;
                step(r, SY_EV_TXN_ABORTED, NULL, NULL);
            }
        break;
    case SY_TXN_FATAL:
        fatal(w, &e);
        break;
    case SY_TXN_IDLE:
        break;
    }
}

static bool run_in(const sy_run *r, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        if (r->partition == parts->elems[i].partition && r->src_topic &&
            !strcmp(r->src_topic, parts->elems[i].topic))
            return true;
    return false;
}

size_t run_results_held_in(worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = 0;
    for (const sy_run *r = w->runs; r; r = r->next)
        n += r->offset_released && run_in(r, parts) &&
             (r->state == SY_LS_PUBLISH_STAGED || r->state == SY_LS_MIRRORING || r->state == SY_LS_PRODUCING ||
              r->state == SY_LS_TXN_HELD);
    return n;
}

size_t run_revoked(worker *w, const rd_kafka_topic_partition_list_t *parts, sy_revoke_pass pass)
{
    sy_run **gone = NULL;
    size_t ngone = 0, ngone_later = 0, handed = 0, dropped = 0, waiting = 0;
    for (sy_run *r = w->runs; r; r = r->next) {
        if (!run_in(r, parts)) continue;
        /* a job a batch holds (docs/durability.md, "Batches follow
         * partitions"): owned, the next owner rebuilds it from the record;
         * never sent, or (last) not owned yet, the next owner consumes it;
         * either way it goes here without a result */
        if (r->handed_off) continue;
        batchio_revoke what = r->in_batch || r->batch_owned ? batchio_hand_over(w, r, pass == SY_REVOKE_LAST)
                                                            : BATCHIO_KEEP;
        if (what == BATCHIO_RELEASE) { /* rebuilt, not joined yet: freed where it would join */
            r->handed_off = true;
            ngone_later++;
        } else if (what == BATCHIO_HANDED || what == BATCHIO_DROPPED) {
            gone = sy_xrealloc(gone, (ngone + 1) * sizeof *gone);
            gone[ngone++] = r;
            if (what == BATCHIO_HANDED) handed++;
            else dropped++;
        } else if (pass == SY_REVOKE_FIRST) {
            waiting += what == BATCHIO_WAIT;
            step(r, SY_EV_REVOKED, NULL, NULL);
        }
    }
    for (size_t i = 0; i < ngone; i++) step(gone[i], SY_EV_SHUTDOWN, NULL, NULL); /* freed */
    free(gone);
    if (ngone || ngone_later) batchio_after_hand_over(w);
    if (waiting) sy_info("revoke: %zu batch job(s) wait for their batch to own them", waiting);
    if (handed) sy_info("revoke: %zu batch-owned job(s) left to the partitions' next owner", handed);
    if (ngone_later)
        sy_info("revoke: %zu rebuilt job(s) not in their batch yet left to the partitions' next owner "
                "(released where they would join it)", ngone_later);
    if (dropped)
        sy_info("revoke: %zu batch job(s) no batch owns yet dropped here; the partitions' next owner "
                "consumes them", dropped);
    return dropped;
}

void run_abandon_all(worker *w)
{
    while (w->runs) {
        sy_run *r = w->runs;
        step(r, SY_EV_SHUTDOWN, NULL, NULL);
        if (w->runs == r) run_free(r); /* not in the table (cannot be): freed all the same */
    }
}

/* One event of r: the transition, counted, then its effects in order
 * (lifecycle.h). An effect may raise the run's next event itself (the
 * store's answer, the checks before a call, ...); FREE is always last. */
static void step(sy_run *r, sy_life_event ev, const sy_life_facts *f, const fx_args *a)
{
    static const fx_args none;
    worker *w = r->w;
    sy_life_state from = r->state;
    sy_life_step s = sy_life_next(from, ev, f);
    if (s.effects & SY_FX_ERROR) {
        if (w->counters.invalid++ < 20)
            sy_warn("job at %s/%d/%" PRId64 ": event %s in state %s is not in the lifecycle; "
                    "ignored", r->src_topic ? r->src_topic : "?", (int)r->partition, r->offset,
                    sy_life_event_name(ev), sy_life_state_name(from));
        return;
    }
    if (!a) a = &none;
    w->counters.transitions[from][ev]++;
    if (ev == SY_EV_RETRIABLE || ev == SY_EV_RATE_LIMITED || ev == SY_EV_FALLBACK) wmetrics_event(r, ev);
    r->state = s.next;
    for (uint32_t fx = s.effects; fx; fx &= fx - 1) {
        uint32_t bit = fx & -fx;
        w->counters.effects[__builtin_ctz(bit)]++;
        switch (bit) {
        case SY_FX_ROUTE: route(r); break;
        case SY_FX_TAKE_KEY: sy_keymap_put(&w->working, sy_buf_cstr(&r->skey), r); break;
        case SY_FX_JOIN_WAITERS: join_waiters(r); break;
        case SY_FX_BEGIN: begin(r); break;
        case SY_FX_ATTEMPT: attempt(r); break;
        case SY_FX_SEND: send_attempt(r); break;
        case SY_FX_SET_TIMER: wait_timer(r, a->delay_ms); break;
        case SY_FX_QUEUE_READY:
            sy_waitq_push(&w->ready, r->task->index, run_priority(r), r);
            break;
        case SY_FX_QUEUE_PACED:
            sy_waitq_push_until(&w->paced[r->model->provider->index].waiting, r->task->index,
                                run_priority(r), r->deadline_ms, r);
            break;
        case SY_FX_STAGE_INTENT: stage_intent(r); break;
        case SY_FX_STAGE_RESULT:
            if (publish_stage_result(r) != 0) { /* ok, but too large to keep: it fails */
                publish_too_large(r);
                step(r, SY_EV_TOO_LARGE_TO_KEEP, NULL, NULL);
            }
            break;
        case SY_FX_WAKE_WAITERS: release_followers(r); break;
        case SY_FX_DEFER: run_defer(r); break;
        case SY_FX_LAUNCH_CALL: launch_prepared(r); break;
        case SY_FX_MIRROR:
            published_gap_mirror(r);
            if (!publish_mirror(r)) step(r, SY_EV_MIRRORED, NULL, NULL); /* nothing to await */
            break;
        case SY_FX_PRODUCE_RESULT: produce_result(r); break;
        case SY_FX_NOTE_PUBLISHED:
            if (published_gap(r, a->out_partition, a->out_offset)) break;
            publish_note_published(r, a->out_partition, a->out_offset);
            if (r->batch_hold) batchio_result_out(w, r, true); /* after its PUBLISHED mirror */
            break;
        case SY_FX_CLOSE_RECORD:
            publish_close_record(r);
            if (r->batch_hold) batchio_result_out(w, r, true);
            break;
        case SY_FX_PRODUCE_DEAD_LETTER: publish_dead_letter(r, a->dl_class, a->dl_why); break;
        case SY_FX_HOLD: txn_hold(w->txn, r); break;
        case SY_FX_RELEASE_OFFSET: /* once: a batch that owns the job released it already */
            if (!r->offset_released) sy_offsets_done(w->offsets, r->off);
            r->offset_released = true;
            break;
        case SY_FX_FREE: run_free(r); return;
        }
    }
}

const batchio_hooks run_batch_hooks = {
    .owned = run_batch_owned, .line = run_on_batch_line, .restore = run_restore};
