/* batch.c -- the pure decisions of a batch tier's batches (batch.h):
 * the batch's state machine, the send and poll timing, the provider's
 * status, the input line, and matching output lines back to jobs.
 * No I/O here; the output lines are hostile and handled as such. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "providers/jscan.h"
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

void sy_batch_line_span(bool items, const size_t *line_at, size_t n, size_t len, size_t i, size_t *from,
                        size_t *to)
{
    *from = line_at[i];
    *to = i + 1 < n ? line_at[i + 1] : len;
    if (!items) return;
    if (i > 0) { /* the comma before it goes, the one before the next stays */
        (*from)--;
        if (i + 1 < n) (*to)--;
    } /* the first: the comma after it goes with it (to is the next item's start) */
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

/* A copy of a span (malloc'd, NUL-terminated): a line's body handed to
 * the adapter as the provider wrote it, without building a tree of it. */
static char *span_dup(sy_jspan v)
{
    size_t n = (size_t)(v.end - v.p);
    char *s = sy_xmalloc(n + 1);
    memcpy(s, v.p, n);
    s[n] = '\0';
    return s;
}

/* A string span decoded into out (reset first); false when it is not a
 * string or holds a NUL (\u0000), which no key or code of ours has. */
static bool span_cstr(sy_jspan v, sy_buf *out)
{
    out->len = 0;
    if (!sy_js_string(v, out)) return false;
    const char *s = sy_buf_cstr(out);
    return strlen(s) == out->len;
}

/* Anthropic's result of one request into a (status, body, code). */
static void anthropic_result(sy_jspan result, sy_buf *tmp, sy_batch_answer *a)
{
    static const char *const keys[] = {"type", "message", "error"};
    sy_jspan f[3];
    sy_js_get_many(result, keys, f, 3);
    if (sy_js_string_is(f[0], "succeeded") && sy_js_is_object(f[1])) {
        a->status_code = 200;
        a->body = span_dup(f[1]);
    } else if (sy_js_string_is(f[0], "errored") && sy_js_is_object(f[2])) {
        bool typed = span_cstr(sy_js_get(sy_js_get(f[2], "error"), "type"), tmp);
        a->status_code = anthropic_error_status(typed ? sy_buf_cstr(tmp) : NULL);
        a->body = span_dup(f[2]);
    } else {
        copy_code(a->error_code, sizeof a->error_code, span_cstr(f[0], tmp) ? sy_buf_cstr(tmp) : NULL);
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

/* The line is read with jscan (worker/providers/jscan.h), checked whole
 * once, its members and its response's found in the same pass
 * (sy_js_parse_want); the body the adapter reads
 * is copied as a span, not rebuilt (a jansson tree of the line and its
 * body dumped back to text were 60% of a batch job's instructions). */
sy_batch_line_kind sy_batch_match_line(sy_batch_match *m, const char *line, size_t len,
                                       sy_batch_answer *a)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
    if (len == 0) return SY_BL_BLANK;
    sy_jspan root;
    static const char *const keys[] = {"custom_id", "response", "error", "result"};
    static const char *const rkeys[] = {"status_code", "body"};
    sy_jspan f[4], r[2];
    sy_buf cid;
    sy_buf_init(&cid);
    /* checked, and its members and response's found, in one pass */
    sy_jwant response = {.keys = rkeys, .found = r, .n = 2};
    sy_jwant want = {.keys = keys, .found = f, .n = 4, .sub_of = 1, .sub = &response};
    /* a repeated custom_id is ambiguous: which job? */
    if (len > SY_BATCH_LINE_MAX || !sy_js_parse_want(line, len, &root, &want) || !sy_js_is_object(root) ||
        want.repeated & 1 || !span_cstr(f[0], &cid)) {
        sy_buf_free(&cid);
        m->malformed++;
        return SY_BL_MALFORMED;
    }
    uintptr_t slot = (uintptr_t)sy_keymap_get(&m->ids, sy_buf_cstr(&cid));
    if (!slot) {
        sy_buf_free(&cid);
        m->unknown++;
        return SY_BL_UNKNOWN;
    }
    size_t idx = slot - 1;
    if (m->answered[idx]) {
        sy_buf_free(&cid);
        m->duplicate++;
        return SY_BL_DUPLICATE;
    }
    memset(a, 0, sizeof *a);
    a->index = idx;
    if (sy_js_is_object(f[3])) {
        anthropic_result(f[3], &cid, a);
    } else {
        int64_t code = sy_js_int(r[0]);
        a->status_code = code >= 100 && code <= 599 ? (int)code : 0;
        a->body = sy_js_is_object(r[1]) ? span_dup(r[1]) : NULL;
        bool coded = span_cstr(sy_js_get(f[2], "code"), &cid);
        copy_code(a->error_code, sizeof a->error_code, coded ? sy_buf_cstr(&cid) : NULL);
    }
    sy_buf_free(&cid);
    if (!a->status_code && !a->error_code[0]) copy_code(a->error_code, sizeof a->error_code, "no_response");
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
