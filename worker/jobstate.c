/* jobstate.c -- a job's record, from its run: staged in the store and
 * mirrored to the changelog (jobstate.h). */
#include "jobstate.h"

#include "util.h"
#include "changelog.h"

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

int jobstate_put(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset)
{
    sy_job_record rec = run_record(r, st, out_partition, out_offset);
    return sy_store_put(r->w->store, sy_buf_cstr(&r->skey), &rec);
}

/* A sync job's PUBLISHING record carries its partition's progress mark,
 * and its PUBLISHED state is then not mirrored: the mark's done prefix
 * tells the next owner once its result is out (codec/progress.h). Where
 * the prefix runs ahead of the results, both states are mirrored as
 * before: a batch tier's jobs (released once their batch owns them) and
 * --transactions (released when acknowledged in a transaction that may
 * still abort). The tier's mode alone does not tell: a job rebuilt from
 * a batch record keeps batch_owned under a tier a reload made sync, and
 * has no tracked offset whose prefix could be read. */
static bool may_mark(const sy_run *r)
{
    return r->tier && r->tier->mode == SY_TIER_SYNC && !r->w->txn && !r->batch_owned && !r->in_batch &&
           !r->batch_id && !r->batch_hold && !r->batch_tried;
}

void jobstate_mirror(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset)
{
    sy_job_record rec = run_record(r, st, out_partition, out_offset);
    if (st == SY_STATE_PUBLISHING && may_mark(r)) {
        r->marked = true;
        changelog_mirror_marked(r->w, sy_buf_cstr(&r->skey), &rec, r, sy_offsets_done_below(r->w->offsets, r->off));
        return;
    }
    if (st == SY_STATE_PUBLISHED && r->marked) return;
    r->marked = false;
    changelog_mirror(r->w, sy_buf_cstr(&r->skey), &rec, r);
}
