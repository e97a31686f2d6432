/* publish.c -- the end of a job's path: its result and, if it failed, its
 * dead letter (publish.h).
 *
 *   stage     the job's outcome is final: encode the result, stage its
 *             PUBLISHING record (or restamp a stored one: replay, dedup)
 *   produce   after the group commit (and the changelog's ack of
 *             PUBLISHING): the result, and a failed job's dead letter
 *   delivered note PUBLISHED (store, changelog); a failed delivery is
 *             produced again or replaced (publish_substitute)
 *
 * Each function is one effect of the job's state machine (lifecycle.h),
 * called by run.c, which owns the order; nothing here calls back into
 * run.c or worker.c, and nothing here ends the process: a dead producer is
 * returned as a fatal error.
 *
 * A result is produced only after its PUBLISHING record is durable
 * (docs/durability.md says why). A delivery that fails is produced again
 * while its error may pass (a bounded number of times); one refused for
 * good is replaced, so the input offset is always released in the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.h"
#include "deadletter.h"
#include "jobstate.h"
#include "log.h"
#include "publish.h"
#include "metrics.h"
#include "result.h"
#include "result_restamp.h"
#include "util.h"

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
    res->output_json = !ok ? NULL : r->label ? r->task->params.labels_json[r->label - 1]
                     : r->task->parse == SY_PARSE_JSON ? r->last.output : NULL;
    res->embedding = ok ? r->embedding : NULL;
    res->nembedding = r->nembedding;
    res->provider = r->model ? r->model->provider->name : NULL;
    res->model = r->model ? r->model->alias : NULL;
    res->model_name = r->model ? r->model->name : NULL;
    res->tier = r->tier->name;
    res->prompt_id = r->task->prompt_id;
    res->prompt_version = r->prompt_version ? r->prompt_version : r->task->prompt_version;
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
    res->batch_id = r->batch_id;
}

void publish_dead_letter(sy_run *r, sy_err_class c, const char *why)
{
    worker *w = r->w;
    sy_dead_letter d = {
        .stage = "worker", .src_topic = r->src_topic, .src_partition = r->partition,
        .src_offset = r->offset, .key = r->raw, .keylen = r->keylen, .value = r->raw + r->keylen,
        .len = r->len, .error_class = c, .message = why, .attempts = r->attempts,
        .http_status = r->last.http_status, .models = r->models_tried[0] ? r->models_tried : NULL,
    };
    r->pending_deliveries++;
    w->counters.dead_letters++;
    wmetrics_dead_letter(w, c);
    if (sy_dead_letter_produce(w->producer, w->opt.dlq_topic, &d, r) != 0)
        r->pending_deliveries--;
}

/* The answer makes a result larger than the store keeps (an eighth of
 * --state-map-mb): kept, it could fill the store. The job fails. */
void publish_too_large(sy_run *r)
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
}

/* The bytes of r's result as produced. */
static const sy_buf *result_bytes(const sy_run *r)
{
    return r->result_is_stored ? &r->stored : &r->result;
}

int publish_stage_result(sy_run *r)
{
    sy_result res;
    fill_result(r, &res);
    sy_buf_reset(&r->stored);
    /* room for the record's ~60 strings at once, not grown by doubling */
    sy_buf_reserve(&r->stored, 1024 + (res.output ? strlen(res.output) : 0) + (res.output_json ? strlen(res.output_json) : 0));
    sy_result_encode(&res, SY_FORMAT_MSGPACK, &r->stored);
    sy_buf_reset(&r->result);
    r->result_is_stored = r->task->format == SY_FORMAT_MSGPACK; /* produced from `stored` */
    if (!r->result_is_stored) sy_result_encode(&res, SY_FORMAT_JSON, &r->result);
    r->result_ok = res.ok;
    if (jobstate_put(r, SY_STATE_PUBLISHING, -1, -1) != 0) {
        if (res.ok) return 1; /* the job fails instead, with a small result */
        sy_warn("key '%s': its failed result (%zu bytes) is too large for the state store; "
                "published without a record", r->job.idempotency_key, r->stored.len);
    }
    return 0;
}

int publish_restamp(sy_run *r, const sy_job_record *rec, sy_answer answer)
{
    bool dedup = answer == SY_ANSWER_DEDUP;
    sy_buf_reset(&r->result);
    r->result_is_stored = false;
    if (sy_result_restamp(rec->result, rec->result_len, dedup ? r->job.id : NULL, dedup,
                          r->task->format, &r->result) != 0) {
        sy_warn("stored result of key '%s' is unreadable; running the job again",
                r->job.idempotency_key);
        return -1;
    }
    r->result_ok = rec->ok;
    r->answer = answer;
    if (!dedup) { /* the same message again: its result becomes PUBLISHED on ack */
        sy_buf_reset(&r->stored);
        sy_buf_append(&r->stored, rec->result, rec->result_len);
        r->attempts = (int)rec->attempts;
    }
    return 0;
}

/* The Kafka client refused the result itself (larger than
 * message.max.bytes, say): it can never be published. The job ends as a
 * dead letter with this reason, and its record is closed (PUBLISHED with
 * no output offset), so neither a redelivery nor a restart tries again; a
 * resubmission of its key meets the same refusal and the same end. */
void publish_refused_why(const sy_run *r, int err, char *why, size_t len)
{
    snprintf(why, len, "the result (%zu bytes) could not be produced to %s: %s", result_bytes(r)->len,
             r->task->output_topic, rd_kafka_err2str((rd_kafka_resp_err_t)err));
}

void publish_close_record(sy_run *r)
{
    if (r->answer != SY_ANSWER_DEDUP) jobstate_put(r, SY_STATE_PUBLISHED, -1, -1);
}

int publish_produce_result(sy_run *r, sy_werr *e)
{
    worker *w = r->w;
    char source[300]; /* "topic/partition/offset", written without printf (once a job) */
    size_t tl = strnlen(r->src_topic, sizeof source - 2 * SY_I64_CHARS - 2), n = tl;
    memcpy(source, r->src_topic, tl);
    source[n++] = '/';
    n += sy_fmt_i64(source + n, r->partition);
    source[n++] = '/';
    n += sy_fmt_i64(source + n, r->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "switchyard.source", -1, source, (ssize_t)n);
    r->pending_deliveries++;
    int err = sy_kafka_produce(w->producer, r->task->output_topic, r->job.idempotency_key,
                               strlen(r->job.idempotency_key), result_bytes(r)->data, result_bytes(r)->len, h, r);
    if (err) r->pending_deliveries--;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* The producer is dead (fenced by a newer instance with its
         * transactional.id, or an idempotence failure): nothing it produces
         * gets out, and noting this result as dead-lettered would close its
         * record with no result anywhere. The worker stops: the store keeps
         * the result and the next owner publishes it. */
        char why[400];
        rd_kafka_fatal_error(w->producer, why, sizeof why);
        e->kind = SY_WERR_FATAL;
        e->exit_code = 1;
        snprintf(e->msg, sizeof e->msg, "the producer failed fatally (%s)", why);
        return err;
    }
    if (err) return err;
    if (r->answer == SY_ANSWER_RUN && !r->result_ok)
        publish_dead_letter(r, r->last.error, r->last.message);
    return 0;
}

bool publish_mirror(sy_run *r)
{
    int before = r->pending_deliveries;
    jobstate_mirror(r, SY_STATE_PUBLISHING, -1, -1);
    return r->pending_deliveries > before;
}

bool publish_is_result(const sy_run *r, const rd_kafka_message_t *m)
{
    return r->task && r->answer != SY_ANSWER_DEDUP && !strcmp(rd_kafka_topic_name(m->rkt), r->task->output_topic);
}

void publish_note_published(sy_run *r, int32_t partition, int64_t offset)
{
    jobstate_put(r, SY_STATE_PUBLISHED, partition, offset);
    sy_store_note_output(r->w->store, r->task->output_topic, partition, offset);
    changelog_note_output(r->w, r->task->output_topic, partition, offset);
    jobstate_mirror(r, SY_STATE_PUBLISHED, partition, offset); /* not when marked */
}

/* A message the client or broker refused for good, or still failed after
 * SY_PRODUCE_RETRIES: what takes its place. A dead letter goes out
 * truncated (deadletter.h); a result becomes a dead letter saying why
 * (publish_unpublishable); a changelog record is done without: the result
 * still goes out and the local store holds the state, only a partition
 * that moves before the key expires may call again for it. Returns true
 * when a substitute now stands in the message's place (the run waits for
 * it), false when the message counts as settled. */
publish_substitute_kind publish_substitute(worker *w, sy_run *r, rd_kafka_t *rk,
                                           const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!strcmp(topic, w->opt.dlq_topic))
        return sy_dead_letter_truncate(rk, m) == 0 ? SY_SUB_IN_FLIGHT : SY_SUB_NONE;
    if (r && r->task && !strcmp(topic, r->task->output_topic)) return SY_SUB_RESULT;
    if (sy_kafka_first_failure(topic))
        sy_error("records to %s cannot be produced (%s); going on without them (a partition "
                 "that moves may call again for their jobs; later failures here are not logged)",
                 topic, rd_kafka_err2str(m->err));
    return SY_SUB_NONE;
}

/* Produce a failed message again while its error may pass, at most
 * SY_PRODUCE_RETRIES times per run (librdkafka already retried it for
 * delivery.timeout.ms). */
bool publish_produce_again(sy_run *r, rd_kafka_t *rk, const rd_kafka_message_t *m)
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
