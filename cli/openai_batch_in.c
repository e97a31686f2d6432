/* openai_batch_in.c -- `switchyard submit --openai-batch`: an OpenAI Batch
 * API input file, unchanged, into checked jobs (input.h).
 *
 * Each line is {"custom_id", "method": "POST", "url":
 * "/v1/chat/completions", "body": {chat completion request}}. custom_id
 * becomes the job's id and idempotency key; body.messages its messages
 * (text content only; a developer message is a system message); the task
 * is --task, else body.model (a pipeline may name a task after a model).
 * A job carries no model or sampling parameters of its own (its task's
 * tier and settings decide them), so body.model and the other body
 * members are kept in the job's metadata (openai.model, openai.params as
 * compact JSON) rather than dropped unseen; openai.model picks the model
 * when it is the alias of one of the task's tier (SY_META_MODEL). Tools, streaming and n > 1
 * have no meaning here and are refused.
 *
 * Everything is bounded: lines (SY_OPENAI_BATCH_MAX_LINE), requests
 * (SY_OPENAI_BATCH_MAX_REQUESTS) and bytes (SY_OPENAI_BATCH_MAX_BYTES, the
 * OpenAI Batch API's own limits); a repeated custom_id is refused at its
 * second line. Reasons name the line (FILE:LINE) and never repeat its
 * bytes unescaped. No I/O but reading f: fuzzed with the other readers
 * (tests/fuzz/fuzz_submit.c). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "input.h"
#include "util.h"

#define MAX_CUSTOM_ID 256

/* Next line into b without its newline; only the first max bytes are
 * kept and *over says there were more. 0 at the end of input. */
static int read_line(FILE *f, sy_buf *b, size_t max, bool *over)
{
    int c;
    bool any = false;
    sy_buf_reset(b);
    *over = false;
    while ((c = getc_unlocked(f)) != EOF) {
        any = true;
        if (c == '\n') break;
        if (b->len < max) sy_buf_putc(b, (char)c);
        else *over = true;
    }
    while (b->len && b->data[b->len - 1] == '\r') b->len--;
    return any;
}

/* Text of a message's content: a string, or text parts joined by "\n". */
static const char *content_text(json_t *content, sy_buf *out)
{
    if (json_is_string(content)) {
        sy_buf_append(out, json_string_value(content), json_string_length(content));
        return NULL;
    }
    if (!json_is_array(content) || !json_array_size(content))
        return "a message's content must be a string or a non-empty list of text parts";
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *text = json_object_get(part, "text");
        if (!type || strcmp(type, "text") || !json_is_string(text))
            return "only text content parts are supported (no images, audio or files)";
        if (i) sy_buf_putc(out, '\n');
        sy_buf_append(out, json_string_value(text), json_string_length(text));
    }
    return NULL;
}

static const char *messages_of(json_t *body, json_t *job)
{
    json_t *msgs = json_object_get(body, "messages"), *out = json_array();
    json_object_set_new(job, "messages", out);
    if (!json_is_array(msgs) || !json_array_size(msgs)) return "body.messages must be a non-empty list";
    size_t i;
    json_t *m;
    sy_buf text;
    sy_buf_init(&text);
    const char *why = NULL;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "user") &&
                      strcmp(role, "assistant"))) {
            why = "a message's role must be system, developer, user or assistant (no tool messages)";
            break;
        }
        sy_buf_reset(&text);
        if ((why = content_text(json_object_get(m, "content"), &text))) break;
        json_t *o = json_object();
        json_object_set_new(o, "role", json_string(strcmp(role, "developer") ? role : "system"));
        json_object_set_new(o, "content", json_stringn(text.data ? text.data : "", text.len));
        json_array_append_new(out, o);
    }
    sy_buf_free(&text);
    return why;
}

/* body.model and the parameters a job cannot carry, into metadata. */
static const char *params_of(json_t *body, json_t *job)
{
    static const char *const refused[] = {"tools", "functions", "tool_choice", "function_call",
                                          "audio", "modalities", "prediction", NULL};
    for (const char *const *k = refused; *k; k++)
        if (json_object_get(body, *k)) return "tools, functions, audio and predictions are not supported";
    if (json_is_true(json_object_get(body, "stream"))) return "stream: true is not supported";
    json_t *n = json_object_get(body, "n");
    if (n && !(json_is_integer(n) && json_integer_value(n) == 1)) return "n must be 1";
    json_t *model = json_object_get(body, "model");
    if (!json_is_string(model) || !json_string_length(model)) return "body.model must be a non-empty string";
    json_t *meta = json_object(), *rest = json_deep_copy(body);
    json_object_set_new(job, "metadata", meta);
    json_object_set(meta, SY_META_MODEL, model);
    json_object_del(rest, "messages");
    json_object_del(rest, "model");
    if (json_object_size(rest)) {
        char *text = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
        json_object_set_new(meta, "openai.params", json_string(text ? text : "{}"));
        free(text);
    }
    json_decref(rest);
    return NULL;
}

static bool custom_id_ok(json_t *id)
{
    const char *s = json_string_value(id);
    size_t n = json_string_length(id);
    if (!s || n == 0 || n > MAX_CUSTOM_ID) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* One request line as a job (in *job), or why not. */
static const char *line_job(const sy_input *in, json_t *line, json_t *seen, long lineno, json_t **job,
                            char *why, size_t whylen)
{
    static const char *const keys[] = {"custom_id", "method", "url", "body", NULL};
    const char *k;
    json_t *v;
    if (!json_is_object(line)) return "a request must be a JSON object";
    json_object_foreach(line, k, v) {
        const char *const *known = keys;
        while (*known && strcmp(*known, k)) known++;
        if (!*known) return "unknown member (a request has custom_id, method, url and body)";
    }
    json_t *id = json_object_get(line, "custom_id"), *body = json_object_get(line, "body");
    if (!custom_id_ok(id)) return "custom_id must be a string of 1 to 256 bytes without control characters";
    json_t *first = json_object_get(seen, json_string_value(id));
    if (first) {
        snprintf(why, whylen, "custom_id repeats the one of line %lld", (long long)json_integer_value(first));
        return why;
    }
    const char *method = json_string_value(json_object_get(line, "method"));
    const char *url = json_string_value(json_object_get(line, "url"));
    if (!method || strcmp(method, "POST")) return "method must be POST";
    if (!url || strcmp(url, "/v1/chat/completions"))
        return "url must be /v1/chat/completions (the only endpoint submit takes)";
    if (!json_is_object(body)) return "body must be a JSON object";
    *job = json_object();
    const char *bad = params_of(body, *job);
    if (!bad) bad = messages_of(body, *job);
    if (bad) return bad;
    json_object_set(*job, "id", id);
    json_object_set(*job, "idempotency_key", id);
    json_object_set_new(*job, "task", json_string(in->task ? in->task
                                                            : json_string_value(json_object_get(body, "model"))));
    json_object_set_new(seen, json_string_value(id), json_integer(lineno));
    return NULL;
}

void sy_input_openai_batch(const sy_input *in, FILE *f)
{
    json_t *seen = json_object();
    sy_buf line;
    sy_buf_init(&line);
    bool over;
    long requests = 0;
    size_t bytes = 0;
    for (long lineno = 1; read_line(f, &line, SY_OPENAI_BATCH_MAX_LINE, &over); lineno++) {
        char where[600], why[160];
        snprintf(where, sizeof where, "%s:%ld", in->file, lineno);
        bytes += line.len + 1;
        if (bytes > SY_OPENAI_BATCH_MAX_BYTES || requests >= SY_OPENAI_BATCH_MAX_REQUESTS) {
            snprintf(why, sizeof why, "the file is over %d requests or %d MB (the Batch API's limits); "
                     "the rest is not read", SY_OPENAI_BATCH_MAX_REQUESTS, SY_OPENAI_BATCH_MAX_BYTES >> 20);
            in->reject(in->ctx, where, why);
            break;
        }
        if (line.len == strspn(sy_buf_cstr(&line), " \t")) continue;
        requests++;
        if (over) {
            snprintf(why, sizeof why, "line longer than %d bytes", SY_OPENAI_BATCH_MAX_LINE);
            in->reject(in->ctx, where, why);
            continue;
        }
        json_error_t je;
        json_t *req = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES, &je), *job = NULL;
        const char *bad = req ? line_job(in, req, seen, lineno, &job, why, sizeof why) : NULL;
        if (!req) {
            char text[120];
            sy_escape_ctl(text, sizeof text, je.text, strlen(je.text));
            snprintf(why, sizeof why, "not JSON: %s", text);
            bad = why;
        }
        if (bad) in->reject(in->ctx, where, bad);
        else sy_input_take(in, job, where);
        json_decref(job);
        json_decref(req);
    }
    sy_buf_free(&line);
    json_decref(seen);
}
