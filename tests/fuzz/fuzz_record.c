/* fuzz_record.c -- libFuzzer target for the worker's state records as they
 * come back from LMDB (sy_record_decode) and from a changelog topic
 * (changelog_decode: writer id, then the record), and for what a decoded
 * record is used for: its stored result is published again
 * (sy_result_restamp) in both formats; and for the progress mark a
 * changelog record carries in a header (sy_progress_decode: a mark that
 * decodes encodes back to the same bytes). A record that decodes must encode
 * back to one that decodes to the same fields, and every string it points
 * to must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "result_restamp.h"
#include "store.h"
#include "changelog.h"
#include "worker.h"

static int inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
    const uint8_t *q = p;
    return q >= data && q + n <= data + size;
}

static void check(const sy_job_record *r, const uint8_t *data, size_t size)
{
    if (!inside(r->src_topic, strlen(r->src_topic) + 1, data, size) ||
        !inside(r->model, strlen(r->model) + 1, data, size) ||
        !inside(r->out_topic, strlen(r->out_topic) + 1, data, size) ||
        (r->result_len && !inside(r->result, r->result_len, data, size)))
        abort();
    sy_buf enc, out;
    sy_buf_init(&enc);
    sy_buf_init(&out);
    sy_record_encode(&enc, r);
    sy_job_record again;
    if (sy_record_decode(enc.data, enc.len, &again) != 0) abort();
    if (again.state != r->state || again.ok != r->ok || again.attempts != r->attempts ||
        again.src_offset != r->src_offset || again.out_offset != r->out_offset ||
        again.src_partition != r->src_partition || again.out_partition != r->out_partition ||
        again.updated_ms != r->updated_ms || again.expires_ms != r->expires_ms ||
        strcmp(again.src_topic, r->src_topic) || strcmp(again.model, r->model) ||
        strcmp(again.out_topic, r->out_topic) || again.result_len != r->result_len ||
        (r->result_len && memcmp(again.result, r->result, r->result_len)))
        abort();
    sy_result_restamp(r->result, r->result_len, "job-2", true, SY_FORMAT_JSON, &out);
    sy_result_restamp(r->result, r->result_len, NULL, false, SY_FORMAT_MSGPACK, &out);
    sy_buf_free(&enc);
    sy_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_job_record rec;
    uint64_t owner;
    if (sy_record_decode(data, size, &rec) == 0) check(&rec, data, size);
    if (changelog_decode(data, size, &owner, &rec) == 0) check(&rec, data, size);
    sy_progress p;
    if (sy_progress_decode(data, size, &p) == 0) {
        unsigned char again[SY_PROGRESS_MAX_BYTES];
        if (sy_progress_encode(p.done, p.notes, p.nnotes, again) != size || memcmp(again, data, size)) abort();
        for (uint32_t i = 0; i < p.nnotes; i++)
            if (sy_progress_scan_from(p.notes, p.nnotes, p.notes[i].partition) <= 0) abort();
    }
    return 0;
}
