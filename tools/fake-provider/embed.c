/* embed.c -- the fake's embeddings API: POST /v1/embeddings (OpenAI) and
 * [/prefix]/openai/deployments/{d}/embeddings?api-version=V (Azure), with
 * api.c's flow around it (key, rate limits, markers, random faults).
 *
 * The vector of an input is a pure function of its text, so that a test
 * can compute it: element j (0-based) is
 *     ((FNV-1a-64(input + ":" + decimal j) mod 2001) - 1000) / 1024
 * (exact in a float and in decimal), `dimensions` elements when the
 * request asks for them (1..4096), else 8. Tokens: ceil(bytes/4) + 1 per
 * input. The inputs are joined with newlines into the prompt text that
 * the markers are read from, so a marker in any input decides for the
 * whole request ([[status:429]], [[latency:MS]], [[no-usage]], ...); one
 * marker is per input: [[bad-index]] gives that input's vector the index
 * n + 7, out of range, so that it has none of its own (the worker must
 * fail that job alone). */
#include "fake.h"
#include "util.h"

#include <string.h>

#define DEFAULT_DIMS 8
#define MAX_DIMS 4096
#define MAX_INPUTS 2048

const char *fp_embed_read(fp_api api, json_t *root, fp_prompt *p)
{
    if (!json_is_object(root)) return "the request body must be a JSON object";
    json_t *model = json_object_get(root, "model");
    if (api != FP_API_AZURE ? !json_is_string(model) : model && !json_is_string(model))
        return "model: Field required";
    json_t *input = json_object_get(root, "input"), *v;
    if (json_is_string(input)) input = NULL; /* one string: read below as a list of one */
    json_t *one = json_object_get(root, "input");
    size_t n = input ? json_array_size(input) : json_is_string(one) ? 1 : 0;
    if (!n || n > MAX_INPUTS) return "input: must be a string or an array of 1 to 2048 strings";
    json_t *dims = json_object_get(root, "dimensions");
    if (dims && (!json_is_integer(dims) || json_integer_value(dims) < 1 ||
                 json_integer_value(dims) > MAX_DIMS))
        return "dimensions: must be an integer in [1, 4096]";
    json_t *fmt = json_object_get(root, "encoding_format");
    if (fmt && !(json_is_string(fmt) && !strcmp(json_string_value(fmt), "float")))
        return "encoding_format: the fake provider answers float only";
    for (size_t i = 0; i < n; i++) {
        v = input ? json_array_get(input, i) : one;
        if (!json_is_string(v) || !json_string_length(v)) return "input: each must be a non-empty string";
        if (i) sy_buf_putc(&p->user, '\n');
        sy_buf_append(&p->user, json_string_value(v), json_string_length(v));
        p->prompt_tokens += ((int64_t)json_string_length(v) + 3) / 4 + 1;
    }
    sy_buf_cstr(&p->user);
    sy_buf_cstr(&p->system); /* none, but a string (answer.c reads it) */
    return NULL;
}

static void vector(const char *s, size_t len, int dims, sy_buf *b)
{
    sy_buf key;
    sy_buf_init(&key);
    sy_buf_putc(b, '[');
    for (int j = 0; j < dims; j++) {
        sy_buf_reset(&key);
        sy_buf_append(&key, s, len);
        sy_buf_printf(&key, ":%d", j);
        uint64_t h = sy_hash64(key.data, key.len);
        sy_buf_printf(b, j ? ",%.10g" : "%.10g", ((double)(h % 2001) - 1000) / 1024);
    }
    sy_buf_putc(b, ']');
    sy_buf_free(&key);
}

void fp_embed_body(json_t *root, int no_usage, int64_t tokens_in, sy_buf *b)
{
    json_t *input = json_object_get(root, "input"), *dims = json_object_get(root, "dimensions");
    size_t n = json_is_array(input) ? json_array_size(input) : 1;
    int d = dims ? (int)json_integer_value(dims) : DEFAULT_DIMS;
    sy_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(input) ? json_array_get(input, i) : input;
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        size_t index = memmem(s, len, "[[bad-index]]", 13) ? n + 7 : i;
        sy_buf_printf(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", index);
        vector(s, len, d, b);
        sy_buf_putc(b, '}');
    }
    sy_buf_puts(b, "],\"model\":");
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model)) sy_buf_json_cstr(b, json_string_value(model));
    else sy_buf_puts(b, "\"deployment\"");
    if (!no_usage)
        sy_buf_printf(b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}",
                      (long long)tokens_in, (long long)tokens_in);
    sy_buf_putc(b, '}');
}
