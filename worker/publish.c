/* publish.c -- the end of a job's path: its result and, if it failed, its
 * dead letter.
 *
 * A run stays alive until the broker has acknowledged everything it
 * published (pending_deliveries reaches zero); only then is its input offset
 * marked done, so the commit never passes a job whose result could still be
 * lost. A delivery that fails is produced again with the same run. */
#include <stdio.h>
#include <string.h>

#include "deadletter.h"
#include "log.h"
#include "result.h"
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
    res->cost_usd = r->cost_usd;
    res->latency_ms = r->first_sent_us ? (sy_mono_us() - r->first_sent_us) / 1000 : 0;
    res->error_class = r->last.error;
    res->error_message = ok ? NULL : r->last.message;
    res->http_status = r->last.http_status;
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

void publish_dead_letter_only(sy_run *r, sy_err_class c, const char *why)
{
    dead_letter(r, c, why);
    if (r->pending_deliveries == 0) run_free(r); /* produce refused: redelivered after restart */
}

void publish_result(sy_run *r)
{
    worker *w = r->w;
    sy_result res;
    fill_result(r, &res);
    sy_buf_reset(&w->scratch);
    sy_result_encode(&res, r->task->format, &w->scratch);
    r->pending_deliveries++;
    if (sy_kafka_produce(w->producer, r->task->output_topic, r->job.idempotency_key,
                         strlen(r->job.idempotency_key), w->scratch.data, w->scratch.len, NULL,
                         r) != 0)
        r->pending_deliveries--;
    if (res.ok) w->succeeded++;
    else {
        w->failed++;
        dead_letter(r, r->last.error, r->last.message);
    }
    if (r->pending_deliveries == 0) run_free(r);
}

void publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    worker *w = opaque;
    sy_run *r = m->_private;
    if (m->err) {
        sy_warn("delivery to %s failed (%s); producing again", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
        rd_kafka_headers_t *h = NULL;
        if (rd_kafka_message_headers(m, &h) == 0) h = rd_kafka_headers_copy(h);
        if (sy_kafka_produce(rk, rd_kafka_topic_name(m->rkt), m->key, m->key_len, m->payload,
                             m->len, h, r) == 0)
            return;
    }
    if (--r->pending_deliveries > 0) return;
    if (!m->err) sy_offsets_done(w->offsets, r->off);
    run_free(r);
}
