/* openai_batch_out.c -- `switchyard results --openai-batch-output`: a
 * result or dead letter as an OpenAI Batch API output line, so tools that
 * read a batch's output file read switchyard's answers unchanged.
 *
 *   ok result:    {"id","custom_id","response":{"status_code":200,
 *                  "request_id","body":{chat.completion}},"error":null}
 *   failed result, dead letter:
 *                 {"id","custom_id","response":null,
 *                  "error":{"code": error class,"message"}}
 *
 * custom_id is the job's idempotency key (what submit --openai-batch made
 * of the input's custom_id; a dead letter's Kafka key). id is
 * batch_req_<partition>_<offset> of the record, request_id the job id;
 * the completion's model is the provider's model name, its usage the
 * result's tokens, finish_reason "stop" (a result does not keep the
 * provider's). results.c does the reading; this file only the shape. */
#include "openai_batch.h"

#include <string.h>

static json_t *str_or_null(json_t *v)
{
    return json_is_string(v) ? json_incref(v) : json_null();
}

static json_t *completion(json_t *r)
{
    json_t *tok = json_object_get(r, "tokens");
    json_int_t in = json_integer_value(json_object_get(tok, "in")), out = json_integer_value(json_object_get(tok, "out"));
    json_t *msg = json_pack("{s:s, s:O?, s:n}", "role", "assistant", "content", json_object_get(r, "output"),
                            "refusal");
    json_t *choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "message", msg, "logprobs", "finish_reason", "stop");
    json_t *usage = json_pack("{s:I, s:I, s:I}", "prompt_tokens", in, "completion_tokens", out,
                              "total_tokens", in + out);
    char id[300];
    snprintf(id, sizeof id, "chatcmpl-%s", json_string_value(json_object_get(r, "job_id")) ?: "");
    return json_pack("{s:s, s:s, s:I, s:o, s:[o], s:o}", "id", id, "object", "chat.completion", "created",
                     (json_int_t)(json_integer_value(json_object_get(r, "finished_ms")) / 1000), "model",
                     str_or_null(json_object_get(r, "model_name")), "choices", choice, "usage", usage);
}

json_t *sy_openai_batch_line(const sy_batch_record *rec)
{
    char id[64];
    snprintf(id, sizeof id, "batch_req_%d_%lld", rec->partition, (long long)rec->offset);
    if (rec->dl_class) /* a dead letter: the job never got a result */
        return json_is_string(rec->key)
                   ? json_pack("{s:s, s:O, s:n, s:{s:O, s:o}}", "id", id, "custom_id", rec->key, "response",
                               "error", "code", rec->dl_class, "message", str_or_null(rec->dl_message))
                   : NULL;
    json_t *r = rec->value, *key = json_object_get(r, "idempotency_key");
    if (!json_is_object(r) || !json_is_string(key)) return NULL;
    if (json_is_string(json_object_get(r, "status")) &&
        !strcmp(json_string_value(json_object_get(r, "status")), "ok"))
        return json_pack("{s:s, s:O, s:{s:i, s:O?, s:o}, s:n}", "id", id, "custom_id", key, "response",
                         "status_code", 200, "request_id", json_object_get(r, "job_id"), "body",
                         completion(r), "error");
    json_t *err = json_object_get(r, "error");
    return json_pack("{s:s, s:O, s:n, s:{s:o, s:o}}", "id", id, "custom_id", key, "response", "error", "code",
                     str_or_null(json_object_get(err, "class")), "message",
                     str_or_null(json_object_get(err, "message")));
}
