/* fuzz_submit.c -- libFuzzer target for submit's readers (cli/input.c,
 * cli/openai_batch_in.c): byte 0 picks CSV, JSONL or an OpenAI Batch API
 * input file, the rest is the file. Every record is either
 * accepted as a job or rejected with a FILE:LINE place and a reason; an
 * accepted job must go through both wire encodings and decode again (what
 * the scheduler will do with it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

static void on_job(void *ctx, const sy_job *j)
{
    (void)ctx;
    sy_buf b;
    sy_buf_init(&b);
    sy_job again;
    char err[256];
    sy_job_encode_msgpack(j, &b);
    if (sy_job_decode(b.data, b.len, &again, err, sizeof err) != 0) abort();
    sy_job_free(&again);
    sy_buf_reset(&b);
    sy_job_encode_json(j, &b);
    if (sy_job_decode(b.data, b.len, &again, err, sizeof err) != 0) abort();
    sy_job_free(&again);
    sy_buf_free(&b);
}

static void on_reject(void *ctx, const char *where, const char *why)
{
    (void)ctx;
    if (strncmp(where, "in.csv:", 7) || !why || !*why) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const meta[] = {"env=fuzz"};
    if (size < 2) return 0;
    FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
    if (!f) return 0;
    sy_input in = {.file = "in.csv", .task = "t", .task_col = "task", .id_col = "id",
                   .key_col = "key", .meta_cols = "team,env", .meta = meta, .nmeta = 1,
                   .job = on_job, .reject = on_reject};
    if (data[0] & 1) sy_input_csv(&in, f);
    else if (data[0] & 2) sy_input_openai_batch(&in, f);
    else sy_input_jsonl(&in, f);
    fclose(f);
    return 0;
}
