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

void jobstate_mirror(sy_run *r, sy_job_state st, int32_t out_partition, int64_t out_offset)
{
    sy_job_record rec = run_record(r, st, out_partition, out_offset);
    changelog_mirror(r->w, sy_buf_cstr(&r->skey), &rec, r);
}
