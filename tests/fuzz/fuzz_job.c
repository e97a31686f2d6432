/* fuzz_job.c -- libFuzzer target for the job decoder: any bytes a producer
 * can put on a topic go through sy_job_decode (msgpack and JSON paths) and,
 * when they decode, back through both encoders and the decoder again. Also
 * feeds the same bytes to sy_msgpack_to_json (what `results` runs on any
 * topic) and, as a provider's answer body, to the JSON reader (jscan): what
 * it accepts jansson must accept too (but for numbers out of a double's
 * or an int64's range, which jscan does not range-check; lone UTF-16
 * surrogates in \u escapes, which jscan reads as U+FFFD on purpose: some
 * encoders emit them and an answer should not be lost for one character;
 * and \u0000 in object keys, valid JSON that jansson does not support),
 * and every value it can reach must decode. Run by scripts/fuzz.sh for a bounded time. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jscan.h"
#include "job.h"
#include "msgpack_json.h"

/* Walk every value below v (bounded: the reader's depth bound holds). */
static void walk(sy_jspan v, sy_buf *b)
{
    sy_buf_reset(b);
    sy_js_string(v, b);
    sy_js_int(v);
    sy_jspan e;
    sy_jsiter it = sy_js_iter(v);
    while (sy_js_iter_next(&it, &e)) walk(e, b);
    if (sy_js_is_object(v)) walk(sy_js_get(v, "content"), b);
}

static void check_jscan(const uint8_t *data, size_t size, sy_buf *b)
{
    sy_jspan root;
    if (!sy_js_parse((const char *)data, size, &root)) return;
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    char why[JSON_ERROR_TEXT_LENGTH];
    snprintf(why, sizeof why, "%s", je.text);
    char *near = strstr(why, " near ");
    if (near) *near = '\0'; /* the error, without the input it quotes */
    bool tolerated = !v && (strstr(why, "overflow") || strstr(why, "too big") ||
                            strstr(why, "invalid Unicode") || strstr(why, "NUL byte in object key"));
    if (!v && !tolerated) abort(); /* jscan accepted what jansson rejects */
    json_decref(v);
    walk(root, b);
}

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
    check_jscan(data, size, &b);
    sy_buf_free(&b);
    return 0;
}
