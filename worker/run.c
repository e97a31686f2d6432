/* run.c -- one job's life in the worker: start, attempts, outcome.
 *
 *   run_start        decode the job, find its task; ask the store whether
 *                    this key was already answered (redelivery: skip or
 *                    replay; resubmission: answer deduplicated); if another
 *                    message with the key is in work, wait for it
 *   run_begin        choose the first model (route.c), render the prompt
 *   run_attempt      note the intent (IN_FLIGHT) in the store, prepare the
 *                    request; it is launched after the group commit
 *   run_on_response  read the outcome; success -> publish; failure ->
 *                    retry later (timers), fall back now, or give up
 *
 * Bad data never crashes the worker: an undecodable job or unknown task is
 * dead-lettered at once; a missing template variable fails the job with a
 * result and a dead letter. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "origin.h"
#include "util.h"
#include "worker.h"

static sy_run *run_new(worker *w, const rd_kafka_message_t *m)
{
    sy_run *r = sy_xcalloc(1, sizeof *r);
    r->w = w;
    r->partition = m->partition;
    r->offset = m->offset;
    r->keylen = m->key_len;
    r->len = m->len;
    r->raw = sy_kafka_copy_key_value(m);
    rd_kafka_headers_t *h = NULL;
    char origin[SY_ORIGIN_MAX];
    if (rd_kafka_message_headers(m, &h) == 0 && sy_origin_of(h, origin)) r->origin = sy_xstrdup(origin);
    r->timer_pos = SY_TIMER_NONE;
    r->next = w->runs;
    if (w->runs) w->runs->prev = r;
    w->runs = r;
    w->held++;
    return r;
}

void run_free(sy_run *r)
{
    worker *w = r->w;
    if (r->leader) sy_keymap_del(&w->working, sy_buf_cstr(&r->skey));
    if (r->prev) r->prev->next = r->next;
    else w->runs = r->next;
    if (r->next) r->next->prev = r->prev;
    w->held--;
    if (r->job_ok) sy_job_free(&r->job);
    sy_buf_free(&r->system);
    sy_buf_free(&r->user);
    sy_buf_free(&r->result);
    sy_buf_free(&r->stored);
    sy_buf_free(&r->skey);
    sy_outcome_free(&r->last);
    free(r->raw);
    free(r->origin);
    free(r);
}

void run_defer(sy_run *r)
{
    if (r->in_deferred) return;
    r->in_deferred = true;
    r->next_deferred = r->w->deferred;
    r->w->deferred = r;
}

static sy_job_record run_record(const sy_run *r, sy_job_state st, int32_t out_partition,
                                int64_t out_offset)
{
    worker *w = r->w;
    bool final = st == SY_STATE_PUBLISHING || st == SY_STATE_PUBLISHED;
    int64_t now = sy_now_ms();
    return (sy_job_record){
        .state = st, .ok = r->result_ok, .attempts = (uint32_t)r->attempts,
        .src_topic = r->src_topic, .src_partition = r->partition, .src_offset = r->offset,
        .updated_ms = now, .expires_ms = final && w->opt.key_ttl_ms ? now + w->opt.key_ttl_ms : 0,
        .model = r->model ? r->model->alias : NULL, .out_topic = r->task->output_topic,
        .out_partition = out_partition, .out_offset = out_offset,
        .result = final ? r->stored.data : NULL, .result_len = final ? r->stored.len : 0,
        .origin = r->origin,
    };
}

int run_note_state(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset)
{
    sy_job_record rec = run_record(r, st, out_partition, out_offset);
    return sy_store_put(r->w->store, sy_buf_cstr(&r->skey), &rec);
}

void run_mirror_state(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset)
{
    sy_job_record rec = run_record(r, st, out_partition, out_offset);
    changelog_mirror(r->w, sy_buf_cstr(&r->skey), &rec, r);
}

/* Mark the run failed with class c and publish its failed result. */
static void fail(sy_run *r, sy_err_class c, const char *why)
{
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    r->last.error = c;
    snprintf(r->last.message, sizeof r->last.message, "%.*s", (int)sizeof r->last.message - 1, why);
    publish_result(r);
}

static int render_prompt(sy_run *r, char *err, size_t errlen)
{
    const sy_task *t = r->task;
    if (t->has_system && sy_template_render(&t->system, &r->job, &r->system, err, errlen) != 0)
        return -1;
    if (t->has_user) {
        if (sy_template_render(&t->user, &r->job, &r->user, err, errlen) != 0) return -1;
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

bool run_same_origin(const sy_run *r, const char *origin)
{
    return r->origin && origin && !strcmp(r->origin, origin);
}

/* A copy of a job the scheduler routed again (it crashed before committing
 * its jobs-topic offset): the job is answered already, or being answered,
 * under the same origin. It is released without a second result. */
void run_release_rerouted(sy_run *r)
{
    sy_debug("key '%s': routed again from %s; already answered", r->job.idempotency_key, r->origin);
    r->w->rerouted++;
    sy_offsets_done(r->w->offsets, r->off);
    run_free(r);
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
        if (o != r && (o->pending_deliveries > 0 || o->produce_pending || o->awaiting_mirror) &&
            o->partition == r->partition && o->offset == r->offset && o->src_topic &&
            !strcmp(o->src_topic, r->src_topic))
            return true;
    return false;
}

#define RECHECK_MS 50

/* What the store knows of this key. Returns true when the run is answered
 * (or finished, or waiting for its first copy) without a call. */
static bool answer_from_store(sy_run *r)
{
    worker *w = r->w;
    sy_job_record rec;
    if (!sy_store_get(w->store, sy_buf_cstr(&r->skey), &rec, &w->record_scratch) && !older_record(r, &rec))
        return false;
    bool same = same_message(r, &rec);
    if (!same && rec.state != SY_STATE_IN_FLIGHT && run_same_origin(r, rec.origin)) {
        run_release_rerouted(r); /* its PUBLISHING result goes out with the first copy */
        return true;
    }
    if (rec.state == SY_STATE_IN_FLIGHT) {
        if (same) r->attempts = (int)rec.attempts; /* carry on counting */
        return false;
    }
    if (rec.expires_ms && rec.expires_ms < sy_now_ms()) return false;
    if (same && rec.state == SY_STATE_PUBLISHED) { /* result already on the output topic */
        w->skipped++;
        sy_offsets_done(w->offsets, r->off);
        run_free(r);
        return true;
    }
    if (!same && !rec.ok) return false; /* a failure is not an answer to a resubmission */
    if (same && rec.state == SY_STATE_PUBLISHING && first_copy_publishing(r)) {
        r->recheck = true; /* look again once the first copy is acknowledged */
        sy_timers_add(&w->timers, sy_mono_us() + RECHECK_MS * 1000, r, &r->timer_pos);
        return true;
    }
    publish_stored(r, &rec, !same);
    return true;
}

/* Another message with this key is in work: wait for its answer. */
static bool wait_for_leader(sy_run *r)
{
    sy_run *leader = sy_keymap_get(&r->w->working, sy_buf_cstr(&r->skey));
    if (!leader) return false;
    r->next_follower = leader->followers;
    leader->followers = r;
    return true;
}

/* Answered from the store, waiting for another message with its key, or
 * run: the leader of its key. */
static void run_route(sy_run *r)
{
    if (answer_from_store(r) || wait_for_leader(r)) return;
    r->leader = true;
    sy_keymap_put(&r->w->working, sy_buf_cstr(&r->skey), r);
    run_begin(r);
}

void run_start(worker *w, const rd_kafka_message_t *m)
{
    sy_run *r = run_new(w, m);
    r->src_topic = rd_kafka_topic_name(m->rkt);
    const sy_tier *topic_tier = sy_config_tier_by_topic(&w->cfg, r->src_topic);
    if (topic_tier) r->src_topic = topic_tier->topic; /* config-owned, outlives the message */
    r->off = sy_offsets_track(w->offsets, r->src_topic, m->partition, m->offset);
    sy_flow_taken(w, r->src_topic, m->partition, r->off);
    w->consumed++;

    char err[512];
    if (sy_job_decode(m->payload, m->len, &r->job, err, sizeof err) != 0) {
        publish_dead_letter_only(r, SY_ERR_INVALID_JOB, err);
        return;
    }
    r->job_ok = true;
    r->task = sy_config_task(&w->cfg, r->job.task);
    if (!r->task) {
        snprintf(err, sizeof err, "unknown task '%.200s'", r->job.task);
        publish_dead_letter_only(r, SY_ERR_UNKNOWN_TASK, err);
        return;
    }
    r->tier = r->task->tier;
    sy_store_key(&r->skey, r->task->name, r->job.idempotency_key);
    run_route(r);
}

static int64_t estimate_input_tokens(const sy_run *r)
{
    size_t bytes = r->system.len + r->user.len;
    for (size_t i = 0; !r->task->has_user && i < r->job.nmessages; i++)
        bytes += strlen(r->job.messages[i].content);
    return sy_estimate_tokens(bytes);
}

/* Pacing reserves the input and the whole output budget. */
static int64_t estimate_tokens(const sy_run *r)
{
    return estimate_input_tokens(r) + r->task->max_tokens;
}

static sy_health *model_health(const sy_run *r, int slot)
{
    return &r->w->health[r->tier->index][slot];
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
        double out = h->tokens_out >= 0 ? h->tokens_out : r->task->max_tokens;
        v[i].fits = !m->context_window || in + r->task->max_tokens <= m->context_window;
        v[i].usable = sy_health_usable(h, now_ms) && sy_account_usable(a, now_us);
        v[i].cost_usd = sy_model_cost(m, in, (int64_t)out);
        v[i].latency_ms = h->latency_ms;
        v[i].headroom = sy_account_headroom(a, now_us);
    }
}

void run_begin(sy_run *r)
{
    char err[512];
    r->deadline_ms = r->job.deadline_ms;
    if (!r->deadline_ms && r->task->deadline_ms) r->deadline_ms = sy_now_ms() + r->task->deadline_ms;
    if (render_prompt(r, err, sizeof err) != 0) {
        fail(r, SY_ERR_RENDER, err);
        return;
    }
    sy_model_view views[SY_ROUTE_MAX_MODELS];
    model_views(r, views);
    if (sy_route_begin(&r->route, r->tier, &r->job, views) != 0) {
        fail(r, SY_ERR_CONTEXT_WINDOW, r->route.why);
        return;
    }
    run_attempt(r);
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
    snprintf(r->models_tried + used, sizeof r->models_tried - used, "%s%s", used ? "," : "",
             alias);
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
        int64_t left = r->deadline_ms - sy_now_ms() + 1; /* run_attempt expires it then */
        if (delay_ms > left) delay_ms = left > 0 ? left : 0;
    }
    sy_timers_add(&r->w->timers, sy_mono_us() + delay_ms * 1000, r, &r->timer_pos);
}

/* Move the route to the first model from here on that can take calls,
 * noting the ones skipped. When none can, wait (a timer) for the soonest
 * one and return false. */
static bool choose_usable_model(sy_run *r)
{
    int64_t soonest = -1;
    for (int i = r->route.pos; i < r->route.n; i++) {
        int64_t wait = 0;
        sy_err_class why = unusable(r, i, &wait);
        if (why == SY_ERR_NONE) {
            for (int j = r->route.pos; j < i; j++) {
                r->model = r->tier->models[r->route.order[j]].model;
                note_attempt(r, unusable(r, j, &wait), 0, 0);
                r->w->breaker_skips++;
            }
            sy_route_skip_to(&r->route, i);
            return true;
        }
        if (soonest < 0 || wait < soonest) soonest = wait;
    }
    wait_timer(r, soonest);
    return false;
}

static void send_attempt(sy_run *r);

void run_attempt(sy_run *r)
{
    worker *w = r->w;
    if (r->recheck) { /* a redelivered copy waiting for its first one (answer_from_store) */
        r->recheck = false;
        run_route(r);
        return;
    }
    if (r->deadline_ms && sy_now_ms() > r->deadline_ms) {
        fail(r, SY_ERR_EXPIRED, "job deadline passed before it could run");
        return;
    }
    if (!choose_usable_model(r)) return;
    r->model = sy_route_model(&r->route, r->tier);
    if (w->stopping || !sy_engine_has_room(w->engine)) { /* stopping: parked for good */
        sy_waitq_push(&w->ready, r->task->index, run_priority(r), r);
        return;
    }
    size_t acct = r->model->provider->index;
    if (!pace(r, acct)) {
        sy_waitq_push_until(&w->paced[acct].waiting, r->task->index, run_priority(r),
                            r->deadline_ms, r);
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
        send_attempt(r);
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
        fail(gone[i], SY_ERR_EXPIRED, "job deadline passed while it waited for its provider "
                                      "account's rate limit");
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
    for (size_t i = 0; i < w->cfg.nproviders; i++) {
        if (!w->paced[i].waiting.n) continue;
        sooner(&soonest, expire_waiting(&w->paced[i].waiting, now_ms));
        if (w->paced[i].waiting.n) sooner(&soonest, release_account(w, i, now));
    }
    return soonest;
}

/* Build the request and note the intent; launched after the group commit. */
static void send_attempt(sy_run *r)
{
    worker *w = r->w;
    if (!sy_health_allow(model_health(r, r->route.order[r->route.pos]), sy_mono_us() / 1000)) {
        sy_account *a = model_account(r, r->model); /* the breaker opened while it waited */
        sy_account_settle(a, r->reserved_tokens, 0);
        sy_account_settle_request(a);
        r->reserved_tokens = 0;
        run_attempt(r);
        return;
    }
    sy_transfer *t = sy_engine_acquire(w->engine);
    note_model_tried(r);
    sy_call call = {
        .model = r->model,
        .system = r->task->has_system ? sy_buf_cstr(&r->system) : NULL,
        .messages = r->task->has_user ? &r->user_msg : r->job.messages,
        .nmessages = r->task->has_user ? 1 : r->job.nmessages,
        .max_tokens = r->task->max_tokens,
        .temperature = r->task->temperature,
        .want_json = r->task->parse == SY_PARSE_JSON,
        .params = &r->task->params,
    };
    sy_provider_build(&call, &t->req);
    sy_request_add_job_header(&t->req, r->job.idempotency_key);
    sy_route_attempt(&r->route);
    r->attempts++;
    run_note_state(r, SY_STATE_IN_FLIGHT, -1, -1); /* the intent, durable before the call */
    r->prepared = t;
    run_defer(r);
}

void run_launch_prepared(sy_run *r)
{
    worker *w = r->w;
    sy_transfer *t = r->prepared;
    r->prepared = NULL;
    w->calls++;
    r->call_out = true;
    r->attempt_sent_us = sy_mono_us();
    if (!r->first_sent_us) r->first_sent_us = r->attempt_sent_us;
    int64_t timeout = r->tier->retry.timeout_ms;
    if (r->deadline_ms) { /* an attempt never outlives the job's deadline */
        int64_t left = r->deadline_ms - sy_now_ms();
        if (left < timeout) timeout = left > 1 ? left : 1;
    }
    sy_engine_launch(w->engine, t, (int)timeout, r);
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
    else
        snprintf(out, len, "call to %s:%s failed (%s)", where_h, where_p, why);
    curl_free(host);
    curl_free(port);
}

/* Transport failure -> outcome (the adapter only sees HTTP answers). An
 * answer cut short at the engine's limits is response_too_large: the same
 * call would bring it again, so it is not retried (the tier falls back). */
static void transport_outcome(const worker *w, const sy_transfer *t, sy_outcome *o)
{
    o->error = t->too_large ? SY_ERR_RESPONSE_TOO_LARGE
               : t->curl_code == CURLE_OPERATION_TIMEDOUT ? SY_ERR_TIMEOUT : SY_ERR_CONNECTION;
    o->http_status = t->too_large ? (int)t->http_status : 0;
    o->retry_after_ms = -1;
    o->should_retry = -1;
    o->rl = (sy_ratelimit_info){-1, -1, -1, -1, -1, -1}; /* no headers: nothing said */
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
    sy_warn("provider '%s': %s", r->model->provider->name, r->last.message);
}

/* A task that parses JSON needs an object or array back. */
static bool output_parses(const sy_run *r)
{
    if (r->task->parse != SY_PARSE_JSON) return true;
    json_error_t jerr;
    json_t *v = json_loads(r->last.output, JSON_DECODE_ANY, &jerr);
    bool ok = v && (json_is_object(v) || json_is_array(v));
    json_decref(v);
    return ok;
}

static void after_failure(sy_run *r)
{
    worker *w = r->w;
    int64_t delay_ms = 0;
    switch (sy_route_after_failure(&r->route, r->tier, &r->last, worker_random(w), &delay_ms)) {
    case SY_ROUTE_RETRY:
        w->retries++;
        wait_timer(r, delay_ms);
        break;
    case SY_ROUTE_FALLBACK:
        w->fallbacks++;
        run_attempt(r);
        break;
    case SY_ROUTE_GIVE_UP:
        publish_result(r);
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
        sy_warn("account of provider '%s': %s (HTTP %d); its models are skipped for %" PRId64
                " s", p->name, sy_err_class_name(r->last.error), r->last.http_status,
                p->cooldown_ms / 1000);
    r->last.retry_after_ms = sy_account_cooling_us(a, now) / 1000 + 1;
}

/* What the answer says about the model: breaker, latency, output length. */
static void health_feedback(sy_run *r, int64_t latency_ms)
{
    sy_health *h = model_health(r, r->route.order[r->route.pos]);
    if (sy_health_record(h, r->last.error, latency_ms, r->last.tokens_out, sy_mono_us() / 1000))
        sy_warn("model '%s' of tier '%s': circuit open for %d ms after repeated %s",
                r->model->alias, r->tier->name, h->policy->cooldown_ms,
                sy_err_class_name(r->last.error));
}

void run_on_response(worker *w, sy_transfer *t, void *opaque)
{
    sy_run *r = opaque;
    int64_t latency_ms = (sy_mono_us() - r->attempt_sent_us) / 1000;
    r->call_out = false;
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    if (t->curl_code != CURLE_OK || t->too_large) {
        transport_outcome(w, t, &r->last);
        if (!t->too_large) log_transport(r);
    } else {
        sy_provider_parse(r->model->provider, (int)t->http_status, t->headers.data,
                          t->headers.len, t->body.data, t->body.len, &r->last);
        sy_outcome_estimate(&r->last, t->req.body.len); /* no usage: counted locally */
    }
    pace_feedback(r);
    account_feedback(r);
    health_feedback(r, latency_ms);
    r->tokens_in += r->last.tokens_in;
    r->tokens_out += r->last.tokens_out;
    sy_usage_detail_add(&r->usage, &r->last.usage);
    r->cost_usd += sy_model_cost_detail(r->model, r->last.tokens_in, r->last.tokens_out, &r->last.usage);
    if (r->last.error == SY_ERR_NONE && !output_parses(r)) {
        r->last.error = SY_ERR_OUTPUT_PARSE;
        snprintf(r->last.message, sizeof r->last.message,
                 "task '%s' expects JSON; model %s answered text", r->task->name, r->model->alias);
    }
    note_attempt(r, r->last.error, r->last.http_status, latency_ms);
    if (r->last.error == SY_ERR_NONE) publish_result(r);
    else after_failure(r);
}
