/* answer.c -- what the fake "model" says, deterministically.
 *
 * Tests check content, so the reply is a pure function of the request:
 * U is the text of the last user message. A request that asks for JSON (a
 * response_format, or "JSON" in the system prompt or in U) gets
 * {"label":L,"echo":E} with L picked by the hash of U and E the first 40
 * bytes of U; any other request gets "ECHO " + U (the [[size:N]] marker
 * makes it "ECHO " and 'x's, N bytes in all). Token counts follow a
 * fixed rule: a message costs ceil(bytes/4) + 3, a reply ceil(bytes/4). */
#include "fake.h"
#include "util.h"

#include <string.h>

#define ECHO_MAX_BYTES 2000
#define JSON_ECHO_MAX_BYTES 40

static const char *const labels[] = {"billing", "technical", "account", "other"};

void fp_prompt_init(fp_prompt *p)
{
    memset(p, 0, sizeof *p);
    sy_buf_init(&p->user);
    sy_buf_init(&p->system);
}

void fp_prompt_free(fp_prompt *p)
{
    sy_buf_free(&p->user);
    sy_buf_free(&p->system);
}

/* Longest prefix of s (n bytes) of at most max bytes that ends on a UTF-8
 * character boundary. */
size_t fp_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return k;
}

static int64_t tokens_of(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}

/* Text of a content value: a string, or the text blocks of an array. */
static const char *content_text(json_t *content, sy_buf *out)
{
    if (json_is_string(content)) {
        sy_buf_append(out, json_string_value(content), json_string_length(content));
        return NULL;
    }
    if (json_is_null(content)) return NULL;
    if (!json_is_array(content)) return "content must be a string or an array of content blocks";
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block) {
        if (!json_is_object(block)) return "each content block must be an object";
        json_t *text = json_object_get(block, "text");
        if (json_is_string(text)) sy_buf_append(out, json_string_value(text), json_string_length(text));
    }
    return NULL;
}

static const char *read_message(json_t *msg, fp_prompt *p, sy_buf *scratch)
{
    if (!json_is_object(msg)) return "each message must be an object";
    const char *role = json_string_value(json_object_get(msg, "role"));
    if (!role) return "each message needs a string 'role'";
    sy_buf_reset(scratch);
    const char *why = content_text(json_object_get(msg, "content"), scratch);
    if (why) return why;
    p->prompt_tokens += tokens_of(scratch->len) + 3;
    if (!strcmp(role, "user")) {
        sy_buf_reset(&p->user);
        sy_buf_append(&p->user, scratch->data, scratch->len);
    } else if (!strcmp(role, "system") || !strcmp(role, "developer")) {
        sy_buf_append(&p->system, scratch->data, scratch->len);
    }
    return NULL;
}

static const char *read_max_tokens(fp_api api, json_t *root, fp_prompt *p)
{
    json_t *max = NULL;
    if (api != FP_API_ANTHROPIC) max = json_object_get(root, "max_completion_tokens");
    if (!max || json_is_null(max)) max = json_object_get(root, "max_tokens");
    if (!max || json_is_null(max))
        return api == FP_API_ANTHROPIC ? "max_tokens: Field required" : NULL;
    if (!json_is_integer(max) || json_integer_value(max) < 1)
        return "max_tokens must be an integer of at least 1";
    p->max_tokens = json_integer_value(max);
    return NULL;
}

static int asks_for_json(json_t *root)
{
    const char *type = json_string_value(json_object_get(json_object_get(root, "response_format"), "type"));
    return type && (!strcmp(type, "json_object") || !strcmp(type, "json_schema"));
}

const char *fp_prompt_read(fp_api api, json_t *root, fp_prompt *p)
{
    if (!json_is_object(root)) return "the request body must be a JSON object";
    json_t *model = json_object_get(root, "model"); /* Azure: the deployment in the URL picks it */
    if (api != FP_API_AZURE ? !json_is_string(model) : model && !json_is_string(model))
        return "model: Field required";
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return "messages: must be a non-empty array";
    if (json_is_true(json_object_get(root, "stream"))) return "stream: not supported by the fake provider";
    const char *why = read_max_tokens(api, root, p);
    if (why) return why;
    sy_buf scratch;
    sy_buf_init(&scratch);
    json_t *system = json_object_get(root, "system");
    if (api == FP_API_ANTHROPIC && system && !(why = content_text(system, &p->system)))
        p->prompt_tokens += tokens_of(p->system.len) + 3;
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg) {
        if (why) break;
        why = read_message(msg, p, &scratch);
    }
    sy_buf_free(&scratch);
    p->want_json = api != FP_API_ANTHROPIC && asks_for_json(root);
    sy_buf_cstr(&p->user);
    sy_buf_cstr(&p->system);
    return why;
}

static int mentions_json(const fp_prompt *p)
{
    return memmem(p->user.data, p->user.len, "JSON", 4) ||
           memmem(p->system.data, p->system.len, "JSON", 4);
}

static void json_reply(const fp_prompt *p, sy_buf *out)
{
    uint64_t h = sy_hash64(p->user.data, p->user.len);
    sy_buf_printf(out, "{\"label\":\"%s\",\"echo\":", labels[h % 4]);
    sy_buf_json_str(out, p->user.data, fp_utf8_cut(p->user.data, p->user.len, JSON_ECHO_MAX_BYTES));
    sy_buf_putc(out, '}');
}

void fp_answer_compute(const fp_prompt *p, int64_t size, fp_answer *a)
{
    sy_buf_reset(&a->text);
    if (size > 5) {
        sy_buf_puts(&a->text, "ECHO ");
        sy_buf_reserve(&a->text, (size_t)size);
        memset(a->text.data + 5, 'x', (size_t)size - 5);
        a->text.len = (size_t)size;
    } else if (p->want_json || mentions_json(p)) {
        json_reply(p, &a->text);
    } else {
        sy_buf_puts(&a->text, "ECHO ");
        sy_buf_append(&a->text, p->user.data, fp_utf8_cut(p->user.data, p->user.len, ECHO_MAX_BYTES));
    }
    a->truncated = p->max_tokens > 0 && tokens_of(a->text.len) > p->max_tokens;
    if (a->truncated) a->text.len = fp_utf8_cut(a->text.data, a->text.len, (size_t)p->max_tokens * 4);
    a->completion_tokens = tokens_of(a->text.len);
    if (a->completion_tokens < 1) a->completion_tokens = 1;
}
