/* publish.c -- the end of a job's path: its result and, if it failed, its
 * dead letter.
 *
 *   publish_result   the job's outcome is final: encode the result, stage
 *                    it in the store (PUBLISHING) and answer the other
 *                    messages waiting on the same key
 *   publish_stored   answer from a stored result (replay or deduplicated)
 *   publish_deferred after the group commit: produce result (+ dead letter)
 *   on delivery      note PUBLISHED; once everything the run produced is
 *                    acknowledged, release its input offset
 *   publish_committed  with --transactions, deliveries of the result
 *                    producer go to txn.c instead, and PUBLISHED is noted
 *                    here once their transaction has committed
 *
 * A result is produced only after its PUBLISHING record is durable, so a
 * crash can never leave a result on the output topic that the store does
 * not know about. A delivery that fails is produced again with the same run
 * while its error may pass (a bounded number of times); one refused for
 * good is replaced (publish_substitute), so the input offset is always
 * released in the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadletter.h"
#include "log.h"
#include "result.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

static void fill_result(const sy_run *r, sy_result *res)
{
    const sy_job *j = &r->job;
    bool ok = r->last.error == SY_ERR_NONE;
    memset(res, 0, sizeof *res);
    res->job_id = j->id;
    res->task = j->task;
    res->idempotency_key = j->idempotency_key;
    res->ok = ok;
    res->output = ok ? r->last.output : NULL;
    res->output_json = ok && r->task->parse == SY_PARSE_JSON ? r->last.output : NULL;
    res->provider = r->model ? r->model->provider->name : NULL;
    res->model = r->model ? r->model->alias : NULL;
    res->model_name = r->model ? r->model->name : NULL;
    res->tier = r->tier->name;
    res->prompt_id = r->task->prompt_id;
    res->prompt_version = r->task->prompt_version;
    res->attempts = r->attempts;
    res->tokens_in = r->tokens_in;
    res->tokens_out = r->tokens_out;
    res->usage = r->usage;
    res->cost_usd = r->cost_usd;
    res->latency_ms = r->first_sent_us ? (sy_mono_us() - r->first_sent_us) / 1000 : 0;
    res->error_class = r->last.error;
    res->error_message = ok ? NULL : r->last.message;
    res->http_status = r->last.http_status;
    res->strategy = sy_tier_strategy_name(r->tier->strategy);
    res->route_reason = r->route.why[0] ? r->route.why : NULL;
    res->history = r->history;
    res->nhistory = r->nhistory;
    res->metadata = j->metadata;
    res->nmetadata = j->nmetadata;
    res->finished_ms = sy_now_ms();
}

static void dead_letter(sy_run *r, sy_err_class c, const char *why)
{
    worker *w = r->w;
    sy_dead_letter d = {
        .stage = "worker", .src_topic = r->src_topic, .src_partition = r->partition,
        .src_offset = r->offset, .key = r->raw, .keylen = r->keylen, .value = r->raw + r->keylen,
        .len = r->len, .error_class = c, .message = why, .attempts = r->attempts,
        .http_status = r->last.http_status, .models = r->models_tried[0] ? r->models_tried : NULL,
    };
    r->pending_deliveries++;
    w->dead++;
    if (sy_dead_letter_produce(w->producer, w->opt.dlq_topic, &d, r) != 0)
        r->pending_deliveries--;
}

/* Nothing of the run is in flight: its offset is released and it ends. */
static void run_end_now(sy_run *r)
{
    sy_offsets_done(r->w->offsets, r->off);
    run_free(r);
}

void publish_dead_letter_only(sy_run *r, sy_err_class c, const char *why)
{
    dead_letter(r, c, why);
    if (r->pending_deliveries == 0) run_end_now(r); /* not even truncated: lost, logged */
}

/* The other messages carrying this key get the leader's answer; after a
 * failure they run on their own (a failure is not an answer). */
static void release_followers(sy_run *leader)
{
    sy_run *f = leader->followers;
    leader->followers = NULL;
    sy_keymap_del(&leader->w->working, sy_buf_cstr(&leader->skey));
    leader->leader = false;
    sy_job_record rec = {.ok = leader->result_ok, .result = leader->stored.data,
                         .result_len = leader->stored.len};
    while (f) {
        sy_run *next = f->next_follower;
        if (run_same_origin(f, leader->origin)) run_release_rerouted(f); /* the same job, again */
        else if (leader->result_ok) publish_stored(f, &rec, true);
        else if (!sy_keymap_get(&f->w->working, sy_buf_cstr(&f->skey))) {
            f->leader = true;
            sy_keymap_put(&f->w->working, sy_buf_cstr(&f->skey), f);
            run_begin(f);
        } else {
            sy_run *l = sy_keymap_get(&f->w->working, sy_buf_cstr(&f->skey));
            f->next_follower = l->followers;
            l->followers = f;
        }
        f = next;
    }
}

/* The answer makes a result larger than the store keeps (an eighth of
 * --state-map-mb): kept, it could fill the store. The job fails. */
static void too_large_to_keep(sy_run *r)
{
    char why[256];
    snprintf(why, sizeof why, "the answer makes a result of %zu bytes, more than the state store keeps "
             "(an eighth of --state-map-mb)", r->stored.len);
    sy_warn("key '%s': %s", r->job.idempotency_key, why);
    int status = r->last.http_status;
    sy_outcome_free(&r->last);
    memset(&r->last, 0, sizeof r->last);
    r->last.error = SY_ERR_RESPONSE_TOO_LARGE;
    r->last.http_status = status;
    snprintf(r->last.message, sizeof r->last.message, "%s", why);
    publish_result(r);
}

void publish_result(sy_run *r)
{
    worker *w = r->w;
    sy_result res;
    fill_result(r, &res);
    sy_buf_reset(&r->stored);
    sy_result_encode(&res, SY_FORMAT_MSGPACK, &r->stored);
    sy_buf_reset(&r->result);
    if (r->task->format == SY_FORMAT_MSGPACK) sy_buf_append(&r->result, r->stored.data, r->stored.len);
    else sy_result_encode(&res, SY_FORMAT_JSON, &r->result);
    r->result_ok = res.ok;
    if (run_note_state(r, SY_STATE_PUBLISHING, -1, -1) != 0) {
        if (res.ok) {
            too_large_to_keep(r); /* the job fails instead, with a small result */
            return;
        }
        sy_warn("key '%s': its failed result (%zu bytes) is too large for the state store; "
                "published without a record", r->job.idempotency_key, r->stored.len);
    }
    r->produce_pending = true;
    r->mirror_first = w->opt.changelog;
    r->dead_letter_pending = !res.ok;
    if (res.ok) w->succeeded++;
    else w->failed++;
    release_followers(r);
    run_defer(r);
}

void publish_stored(sy_run *r, const sy_job_record *rec, bool dedup)
{
    worker *w = r->w;
    sy_buf_reset(&r->result);
    if (sy_result_restamp(rec->result, rec->result_len, dedup ? r->job.id : NULL, dedup,
                          r->task->format, &r->result) != 0) {
        sy_warn("stored result of key '%s' is unreadable; running the job again",
                r->job.idempotency_key);
        run_begin(r);
        return;
    }
    r->result_ok = rec->ok;
    r->dedup = dedup;
    r->replay = !dedup;
    if (r->replay) { /* the same message again: its result becomes PUBLISHED on ack */
        sy_buf_reset(&r->stored);
        sy_buf_append(&r->stored, rec->result, rec->result_len);
        r->attempts = (int)rec->attempts;
        r->mirror_first = w->opt.changelog; /* it may have died before its mirror */
        w->replayed++;
    } else {
        w->deduplicated++;
    }
    r->produce_pending = true;
    run_defer(r);
}

/* The Kafka client refused the result itself (larger than
 * message.max.bytes, say): it can never be published. The job ends as a
 * dead letter with the reason, and its record is closed (PUBLISHED with no
 * output offset), so neither a redelivery nor a restart tries again; a
 * resubmission of its key meets the same refusal and the same end. */
void publish_unpublishable(sy_run *r, int err)
{
    char why[300];
    snprintf(why, sizeof why, "the result (%zu bytes) could not be produced to %s: %s",
             r->result.len, r->task->output_topic, rd_kafka_err2str((rd_kafka_resp_err_t)err));
    sy_warn("key '%s': %s; dead-lettered", r->job.idempotency_key, why);
    if (!r->dedup) run_note_state(r, SY_STATE_PUBLISHED, -1, -1);
    r->dead_letter_pending = false; /* this dead letter says why */
    dead_letter(r, SY_ERR_UNPUBLISHABLE, why);
}

/* The result itself, once the changelog holds its PUBLISHING record. */
static void produce_result(sy_run *r)
{
    worker *w = r->w;
    char source[300];
    snprintf(source, sizeof source, "%s/%d/%lld", r->src_topic, (int)r->partition,
             (long long)r->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "switchyard.source", -1, source, -1);
    r->produce_pending = false;
    r->pending_deliveries++;
    int err = sy_kafka_produce(w->producer, r->task->output_topic, r->job.idempotency_key,
                               strlen(r->job.idempotency_key), r->result.data, r->result.len, h, r);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* The producer is dead (fenced by a newer instance with its
         * transactional.id, or an idempotence failure): nothing it produces
         * gets out, and noting this result as dead-lettered would close its
         * record with no result anywhere. Stop as txn.c does: the store
         * keeps the result and the next owner publishes it. */
        char why[512];
        rd_kafka_fatal_error(w->producer, why, sizeof why);
        sy_error("the producer failed fatally (%s); stopping (the store keeps every result: a "
                 "restart publishes what is left)", why);
        exit(1);
    }
    if (err) {
        r->pending_deliveries--;
        publish_unpublishable(r, err);
    }
    if (r->dead_letter_pending) {
        r->dead_letter_pending = false;
        dead_letter(r, r->last.error, r->last.message);
    }
    if (r->pending_deliveries == 0) run_end_now(r);
}

void publish_deferred(sy_run *r)
{
    r->produce_pending = false;
    if (r->mirror_first) {
        r->mirror_first = false;
        int before = r->pending_deliveries;
        run_mirror_state(r, SY_STATE_PUBLISHING, -1, -1);
        r->awaiting_mirror = r->pending_deliveries > before;
        if (r->awaiting_mirror) return; /* produce_result on its acknowledgement */
    }
    produce_result(r);
}

bool publish_is_result(const sy_run *r, const rd_kafka_message_t *m)
{
    return r->task && !r->dedup && !strcmp(rd_kafka_topic_name(m->rkt), r->task->output_topic);
}

/* The result is on the output topic, at partition/offset. */
static void note_published(sy_run *r, int32_t partition, int64_t offset)
{
    run_note_state(r, SY_STATE_PUBLISHED, partition, offset);
    sy_store_note_output(r->w->store, r->task->output_topic, partition, offset);
    run_mirror_state(r, SY_STATE_PUBLISHED, partition, offset);
}

void publish_committed(sy_run *r)
{
    if (r->txn_has_out) note_published(r, r->txn_out_partition, r->txn_out_offset);
    r->txn_has_out = false;
    if (r->pending_deliveries == 0) run_free(r);
}

/* A message the client or broker refused for good, or still failed after
 * SY_PRODUCE_RETRIES: what takes its place. A dead letter goes out
 * truncated (deadletter.h); a result becomes a dead letter saying why
 * (publish_unpublishable); a changelog record is done without: the result
 * still goes out and the local store holds the state, only a partition
 * that moves before the key expires may call again for it. Returns true
 * when a substitute now stands in the message's place (the run waits for
 * it), false when the message counts as settled. */
bool publish_substitute(worker *w, sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!strcmp(topic, w->opt.dlq_topic)) return sy_dead_letter_truncate(rk, m) == 0;
    if (r && r->task && !strcmp(topic, r->task->output_topic)) {
        publish_unpublishable(r, (int)m->err);
        return false;
    }
    if (sy_kafka_first_failure(topic))
        sy_error("records to %s cannot be produced (%s); going on without them (a partition "
                 "that moves may call again for their jobs; later failures here are not logged)",
                 topic, rd_kafka_err2str(m->err));
    return false;
}

/* Produce a failed message again while its error may pass, at most
 * SY_PRODUCE_RETRIES times per run (librdkafka already retried it for
 * delivery.timeout.ms). */
static bool produce_again(sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    if (!r || !sy_kafka_err_retriable(m->err) || r->produce_retries >= SY_PRODUCE_RETRIES)
        return false;
    r->produce_retries++;
    sy_warn("delivery to %s failed (%s); producing again (%d of %d)", rd_kafka_topic_name(m->rkt),
            rd_kafka_err2str(m->err), r->produce_retries, SY_PRODUCE_RETRIES);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == 0) h = rd_kafka_headers_copy(h);
    return sy_kafka_produce_to(rk, rd_kafka_topic_name(m->rkt), m->partition, m->key, m->key_len,
                               m->payload, m->len, h, r) == 0;
}

/* One of the run's messages is settled; the last one frees it. */
static void settled(worker *w, sy_run *r, bool release_offset)
{
    if (--r->pending_deliveries > 0) return;
    if (release_offset) sy_offsets_done(w->offsets, r->off);
    run_free(r);
}

void publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    worker *w = opaque;
    sy_run *r = m->_private;
    if (w->txn && rk == w->producer) {
        txn_on_delivery(w, m); /* noted PUBLISHED when its transaction commits */
        return;
    }
    if (m->err && (produce_again(r, rk, m) || publish_substitute(w, r, rk, m))) return;
    if (!r) return; /* a mirror with no job behind it (recovery) */
    if (r->awaiting_mirror) { /* acknowledged, or done without (publish_substitute) */
        r->awaiting_mirror = false;
        produce_result(r);
    } else if (!m->err && publish_is_result(r, m)) {
        note_published(r, m->partition, m->offset);
    }
    settled(w, r, true); /* whatever became of it: the partition never waits for good */
}
