/* fuzz_job.c -- libFuzzer target for the job decoder: any bytes a producer
 * can put on a topic go through sy_job_decode (msgpack and JSON paths) and,
 * when they decode, back through both encoders and the decoder again. Also
 * feeds the same bytes to sy_msgpack_to_json (what `results` runs on any
 * topic). Run by tests/integration/fuzz.sh for a bounded time. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "job.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_job job, again;
    char err[256];
    sy_buf b;
    sy_buf_init(&b);
    if (sy_job_decode(data, size, &job, err, sizeof err) == 0) {
        sy_job_encode_msgpack(&job, &b);
        if (sy_job_decode(b.data, b.len, &again, err, sizeof err) != 0) abort();
        sy_job_free(&again);
        sy_buf_reset(&b);
        sy_job_encode_json(&job, &b);
        if (sy_job_decode(b.data, b.len, &again, err, sizeof err) != 0) abort();
        sy_job_free(&again);
        sy_job_free(&job);
    }
    sy_buf_reset(&b);
    sy_msgpack_to_json(data, size, &b);
    sy_buf_free(&b);
    return 0;
}
