/* batch.c -- the pure decisions of a batch tier's batches (batch.h):
 * the batch's state machine, the send and poll timing, the provider's
 * status, the input line, and matching output lines back to jobs.
 * No I/O here; the output lines are hostile and handled as such. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

/* ---- the state machine ---- */

#define T(s, e, n, fx) [SY_BS_##s][SY_BE_##e] = {SY_BS_##n, (fx)}

static const sy_batch_step table[SY_BS_COUNT][SY_BE_COUNT] = {
    T(COLLECTING, SEND, COLLECTING, SY_BX_UPLOAD),
    T(COLLECTING, UPLOADED, UPLOADED, SY_BX_RECORD),
    T(UPLOADED, RECORDED, UPLOADED, SY_BX_CREATE),
    T(UPLOADED, CREATED, CREATED, SY_BX_RECORD),
    T(CREATED, RECORDED, POLLING, SY_BX_POLL),
    T(POLLING, RUNNING, POLLING, SY_BX_POLL),
    T(POLLING, ENDED, POLLING, SY_BX_DOWNLOAD),
    T(POLLING, DOWNLOADED, DOWNLOADED, SY_BX_PUBLISH),
    T(POLLING, FAILED, DOWNLOADED, SY_BX_PUBLISH),
    T(COLLECTING, FAILED, DOWNLOADED, SY_BX_PUBLISH),
    T(UPLOADED, FAILED, DOWNLOADED, SY_BX_PUBLISH),
    T(CREATED, FAILED, DOWNLOADED, SY_BX_PUBLISH),
    T(DOWNLOADED, PUBLISHED, DONE, SY_BX_FORGET),
    T(COLLECTING, ADOPTED, POLLING, SY_BX_POLL),
};

#undef T

sy_batch_step sy_batch_next(sy_batch_state s, sy_batch_event ev)
{
    if ((unsigned)s >= SY_BS_COUNT || (unsigned)ev >= SY_BE_COUNT || !table[s][ev].effects)
        return (sy_batch_step){s, SY_BX_ERROR};
    return table[s][ev];
}

const char *sy_batch_state_name(sy_batch_state s)
{
    static const char *const names[] = {"COLLECTING", "UPLOADED", "CREATED", "POLLING", "DOWNLOADED", "DONE"};
    _Static_assert(sizeof names / sizeof names[0] == SY_BS_COUNT, "a name per state");
    return (unsigned)s < SY_BS_COUNT ? names[s] : "?";
}

/* ---- collecting and polling ---- */

bool sy_batch_fits(const sy_batch_policy *p, int64_t njobs, int64_t nbytes, int64_t line_bytes)
{
    if (line_bytes < 0 || line_bytes > p->max_bytes) return false;
    return njobs < p->max_jobs && nbytes <= p->max_bytes - line_bytes;
}

int64_t sy_batch_due_at(const sy_batch_policy *p, int64_t njobs, int64_t first_ms)
{
    if (njobs <= 0) return INT64_MAX;
    return first_ms > INT64_MAX - p->max_wait_ms ? INT64_MAX : first_ms + p->max_wait_ms;
}

bool sy_batch_due(const sy_batch_policy *p, int64_t njobs, int64_t nbytes, int64_t first_ms,
                  int64_t now_ms)
{
    if (njobs <= 0) return false;
    return njobs >= p->max_jobs || nbytes >= p->max_bytes || now_ms >= sy_batch_due_at(p, njobs, first_ms);
}

int64_t sy_batch_poll_delay(const sy_batch_policy *p, int polls)
{
    int64_t d = p->poll_ms;
    for (int i = 0; i < polls && d < p->poll_max_ms; i++) d *= 2;
    return d < p->poll_max_ms ? d : p->poll_max_ms;
}

sy_batch_status sy_batch_status_of(const char *s)
{
    static const struct {
        const char *name;
        sy_batch_status st;
    } map[] = {
        {"validating", SY_BST_RUNNING}, {"in_progress", SY_BST_RUNNING}, {"finalizing", SY_BST_RUNNING},
        {"cancelling", SY_BST_RUNNING}, {"completed", SY_BST_ENDED},     {"expired", SY_BST_ENDED},
        {"failed", SY_BST_FAILED},      {"cancelled", SY_BST_FAILED},
        {"canceling", SY_BST_RUNNING},  {"ended", SY_BST_ENDED}, /* Anthropic's processing_status */
    };
    for (size_t i = 0; s && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].name)) return map[i].st;
    return SY_BST_UNKNOWN;
}

bool sy_batch_overdue(int64_t created_ms, int64_t now_ms)
{
    return now_ms - created_ms > SY_BATCH_GIVE_UP_MS;
}

/* ---- the input line ---- */

void sy_batch_input_line(sy_buf *out, const char *custom_id, const char *url, const char *body,
                         size_t body_len)
{
    sy_buf_puts(out, "{\"custom_id\":");
    sy_buf_json_cstr(out, custom_id);
    sy_buf_puts(out, ",\"method\":\"POST\",\"url\":");
    sy_buf_json_cstr(out, url);
    sy_buf_puts(out, ",\"body\":");
    sy_buf_append(out, body, body_len);
    sy_buf_puts(out, "}\n");
}

void sy_batch_anthropic_item(sy_buf *out, const char *custom_id, const char *body, size_t body_len)
{
    sy_buf_puts(out, "{\"custom_id\":");
    sy_buf_json_cstr(out, custom_id);
    sy_buf_puts(out, ",\"params\":");
    sy_buf_append(out, body, body_len);
    sy_buf_putc(out, '}');
}

void sy_batch_anthropic_id(const char *key, char out[SY_BATCH_ID_MAX])
{
    size_t n = strlen(key);
    bool plain = n >= 1 && n <= 64;
    for (size_t i = 0; plain && i < n; i++)
        plain = key[i] == '_' || key[i] == '-' || (key[i] >= '0' && key[i] <= '9') ||
                (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z');
    if (plain) memcpy(out, key, n + 1);
    else snprintf(out, SY_BATCH_ID_MAX, "h%016llx%016llx", (unsigned long long)sy_hash64(key, n),
                  (unsigned long long)sy_fnv1a64(0xcbf29ce484222325ULL, key, n));
}

/* Anthropic's error types as HTTP statuses (what the same error would
 * have answered to a single call), for the adapter's reading. */
static int anthropic_error_status(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {{"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
               {"permission_error", 403},      {"not_found_error", 404},      {"request_too_large", 413},
               {"rate_limit_error", 429},      {"api_error", 500},            {"timeout_error", 504},
               {"overloaded_error", 529}};
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(type, map[i].type)) return map[i].status;
    return 500;
}

static void copy_code(char *out, size_t outlen, const char *code);

/* Anthropic's result of one request into a (status, body, code). */
static void anthropic_result(json_t *result, sy_batch_answer *a)
{
    const char *type = json_string_value(json_object_get(result, "type"));
    json_t *msg = json_object_get(result, "message"), *err = json_object_get(result, "error");
    if (type && !strcmp(type, "succeeded") && json_is_object(msg)) {
        a->status_code = 200;
        a->body = json_dumps(msg, JSON_COMPACT);
    } else if (type && !strcmp(type, "errored") && json_is_object(err)) {
        a->status_code = anthropic_error_status(json_string_value(json_object_get(json_object_get(err, "error"), "type")));
        a->body = json_dumps(err, JSON_COMPACT);
    } else {
        copy_code(a->error_code, sizeof a->error_code, type);
    }
}

/* ---- matching ---- */

void sy_batch_match_init(sy_batch_match *m, const char *const *custom_ids, size_t n)
{
    memset(m, 0, sizeof *m);
    sy_keymap_init(&m->ids);
    m->n = n;
    m->answered = sy_xcalloc(n ? n : 1, sizeof *m->answered);
    for (size_t i = 0; i < n; i++) sy_keymap_put(&m->ids, custom_ids[i], (void *)(uintptr_t)(i + 1));
}

void sy_batch_match_free(sy_batch_match *m)
{
    sy_keymap_free(&m->ids);
    free(m->answered);
    memset(m, 0, sizeof *m);
}

/* error.code as printable ASCII, cut to fit. */
static void copy_code(char *out, size_t outlen, const char *code)
{
    size_t j = 0;
    for (size_t i = 0; code && code[i] && j + 1 < outlen; i++)
        out[j++] = code[i] >= 0x20 && code[i] < 0x7f ? code[i] : '?';
    out[j] = '\0';
}

sy_batch_line_kind sy_batch_match_line(sy_batch_match *m, const char *line, size_t len,
                                       sy_batch_answer *a)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
    if (len == 0) return SY_BL_BLANK;
    if (len > SY_BATCH_LINE_MAX) {
        m->malformed++;
        return SY_BL_MALFORMED;
    }
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    const char *cid = json_string_value(json_object_get(o, "custom_id"));
    if (!json_is_object(o) || !cid) {
        json_decref(o);
        m->malformed++;
        return SY_BL_MALFORMED;
    }
    uintptr_t slot = (uintptr_t)sy_keymap_get(&m->ids, cid);
    if (!slot) {
        json_decref(o);
        m->unknown++;
        return SY_BL_UNKNOWN;
    }
    size_t idx = slot - 1;
    if (m->answered[idx]) {
        json_decref(o);
        m->duplicate++;
        return SY_BL_DUPLICATE;
    }
    json_t *resp = json_object_get(o, "response"), *error = json_object_get(o, "error");
    json_t *status = json_object_get(resp, "status_code"), *body = json_object_get(resp, "body");
    json_int_t code = json_is_integer(status) ? json_integer_value(status) : 0;
    memset(a, 0, sizeof *a);
    a->index = idx;
    if (json_is_object(json_object_get(o, "result"))) {
        anthropic_result(json_object_get(o, "result"), a);
    } else {
        a->status_code = code >= 100 && code <= 599 ? (int)code : 0;
        a->body = json_is_object(body) ? json_dumps(body, JSON_COMPACT) : NULL;
        copy_code(a->error_code, sizeof a->error_code, json_string_value(json_object_get(error, "code")));
    }
    if (!a->status_code && !a->error_code[0]) copy_code(a->error_code, sizeof a->error_code, "no_response");
    json_decref(o);
    m->answered[idx] = true;
    m->nanswered++;
    return SY_BL_ANSWER;
}

bool sy_batch_match_next_missing(const sy_batch_match *m, size_t *cursor, size_t *index)
{
    for (size_t i = *cursor; i < m->n; i++)
        if (!m->answered[i]) {
            *index = i;
            *cursor = i + 1;
            return true;
        }
    *cursor = m->n;
    return false;
}
