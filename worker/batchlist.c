/* batchlist.c -- the providers' batch listings as hostile bytes, and the
 * choice of a crash's unrecorded batch among them, and the partition lists
 * of the OpenAI batches' metadata (batchlist.h). Pure:
 * batchio.c does the HTTP and acts on what is decided here. */
#include "batchlist.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

#define T_MIN_MS 946684800000LL  /* 2000-01-01 */
#define T_MAX_MS 7258118400000LL /* 2200-01-01 */

bool sy_blist_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= SY_BLIST_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static void take_id(json_t *o, const char *key, char out[SY_BLIST_ID_MAX])
{
    const char *s = json_string_value(json_object_get(o, key));
    out[0] = '\0';
    if (sy_blist_id_ok(s)) memcpy(out, s, strlen(s) + 1);
}

static void take_name(json_t *o, const char *key, char out[SY_BLIST_NAME_MAX])
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = s ? strlen(s) : 0;
    out[0] = '\0';
    if (n && n < SY_BLIST_NAME_MAX) memcpy(out, s, n + 1);
}

int64_t sy_blist_time_ms(const char *s)
{
    int64_t t = sy_parse_rfc3339_ms(s);
    return t < T_MIN_MS || t > T_MAX_MS ? -1 : t;
}

/* A time field: Unix seconds (an integer) or RFC 3339 (a string). */
static int64_t time_of(json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t s = json_integer_value(v);
        return s < T_MIN_MS / 1000 || s > T_MAX_MS / 1000 ? -1 : (int64_t)s * 1000;
    }
    return sy_blist_time_ms(json_string_value(v));
}

/* A request count: 0..SY_BLIST_COUNT_MAX, else -1. */
static int64_t count_of(json_t *v)
{
    if (!json_is_integer(v)) return -1;
    json_int_t c = json_integer_value(v);
    return c < 0 || c > SY_BLIST_COUNT_MAX ? -1 : (int64_t)c;
}

static bool item_of(json_t *it, bool anthropic, sy_blist_item *e)
{
    memset(e, 0, sizeof *e);
    if (!json_is_object(it)) return false;
    take_id(it, "id", e->id);
    if (!e->id[0]) return false;
    e->status = sy_batch_status_of(json_string_value(json_object_get(it, anthropic ? "processing_status" : "status")));
    e->created_ms = time_of(json_object_get(it, "created_at"));
    json_t *ended = json_object_get(it, anthropic ? "ended_at" : "completed_at");
    e->ended_ms = json_is_null(ended) || !ended ? -1 : time_of(ended);
    json_t *rc = json_object_get(it, "request_counts");
    if (anthropic) { /* the sum of its five counts, each bounded */
        static const char *const k[] = {"processing", "succeeded", "errored", "canceled", "expired"};
        e->total = 0;
        for (size_t i = 0; i < sizeof k / sizeof k[0] && e->total >= 0; i++) {
            int64_t c = count_of(json_object_get(rc, k[i]));
            e->total = c < 0 ? -1 : e->total + c;
        }
        if (e->total > SY_BLIST_COUNT_MAX) e->total = -1;
    } else {
        e->total = count_of(json_object_get(rc, "total"));
        take_id(it, "input_file_id", e->input_file_id);
        json_t *md = json_object_get(it, "metadata");
        take_name(md, "switchyard_tier", e->md_tier);
        take_name(md, "switchyard_model", e->md_model);
        take_name(md, "switchyard_topic", e->md_topic);
        const char *parts = json_string_value(json_object_get(md, "switchyard_partitions"));
        if (sy_blist_parts_ok(parts)) memcpy(e->md_parts, parts, strlen(parts) + 1);
    }
    return true;
}

int sy_blist_decode(const void *body, size_t len, bool anthropic, sy_blist_page *p)
{
    memset(p, 0, sizeof *p);
    json_t *o = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *data = json_object_get(o, "data");
    if (!json_is_array(data)) {
        json_decref(o);
        return -1;
    }
    size_t n = json_array_size(data);
    p->items = sy_xcalloc(n < SY_BLIST_ITEMS_MAX ? (n ? n : 1) : SY_BLIST_ITEMS_MAX, sizeof *p->items);
    p->oldest_ms = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (p->n == SY_BLIST_ITEMS_MAX || !item_of(json_array_get(data, i), anthropic, &p->items[p->n])) {
            p->skipped++;
            continue;
        }
        if (p->items[p->n].created_ms >= 0 && p->items[p->n].created_ms < p->oldest_ms)
            p->oldest_ms = p->items[p->n].created_ms;
        p->n++;
    }
    p->has_more = json_is_true(json_object_get(o, "has_more"));
    take_id(o, "last_id", p->last_id);
    json_decref(o);
    return 0;
}

void sy_blist_page_free(sy_blist_page *p)
{
    free(p->items);
    memset(p, 0, sizeof *p);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void sy_blist_parts_spec(const int32_t *parts, size_t n, char out[SY_BLIST_PARTS_MAX])
{
    out[0] = '\0';
    if (!n) return;
    int32_t *s = sy_xcalloc(n, sizeof *s);
    memcpy(s, parts, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_i32);
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && (s[j + 1] == s[j] || s[j + 1] == s[j] + 1)) j++;
        char r[32];
        int k = s[j] == s[i] ? snprintf(r, sizeof r, "%s%" PRId32, len ? "," : "", s[i])
                             : snprintf(r, sizeof r, "%s%" PRId32 "-%" PRId32, len ? "," : "", s[i], s[j]);
        if (len + (size_t)k >= SY_BLIST_PARTS_MAX) { /* too many ranges for one value: any */
            memcpy(out, "*", 2);
            free(s);
            return;
        }
        memcpy(out + len, r, (size_t)k + 1);
        len += (size_t)k;
        i = j + 1;
    }
    free(s);
}

/* A partition number at *p (digits, no leading zero, <= INT32_MAX): its
 * value, *p moved past it; -1 when none. */
static int64_t part_num(const char **p)
{
    const char *s = *p;
    int64_t v = 0;
    size_t d = 0;
    while (s[d] >= '0' && s[d] <= '9') {
        v = v * 10 + (s[d] - '0');
        if (++d > 10 || v > INT32_MAX) return -1;
    }
    if (!d || (d > 1 && s[0] == '0')) return -1;
    *p = s + d;
    return v;
}

/* Reads a list whole, checking whether a range holds one of the n
 * partitions: -1 malformed, 1 met, 0 not. Ranges are compared, never
 * expanded (a hostile "0-2147483647" costs what "0" does). */
static int parts_walk(const char *spec, const int32_t *parts, size_t n)
{
    if (!spec || !spec[0] || strlen(spec) >= SY_BLIST_PARTS_MAX) return -1;
    if (!strcmp(spec, "*")) return 1;
    int met = 0;
    for (const char *p = spec;;) {
        int64_t lo = part_num(&p), hi = lo;
        if (lo < 0) return -1;
        if (*p == '-') {
            p++;
            if ((hi = part_num(&p)) < lo) return -1;
        }
        for (size_t i = 0; !met && i < n; i++) met = parts[i] >= lo && parts[i] <= hi;
        if (!*p) return met;
        if (*p++ != ',') return -1;
    }
}

bool sy_blist_parts_ok(const char *spec)
{
    return parts_walk(spec, NULL, 0) >= 0;
}

bool sy_blist_parts_meet(const char *spec, const int32_t *parts, size_t n)
{
    return parts_walk(spec, parts, n) == 1;
}

sy_blist_next sy_blist_after_page(const sy_blist_page *p, const char *cursor, int pages, int64_t window_start_ms)
{
    if (!p->has_more) return SY_BLN_DONE;
    if (p->oldest_ms != INT64_MAX && p->oldest_ms < window_start_ms) return SY_BLN_DONE;
    if (!p->last_id[0] || (cursor && !strcmp(cursor, p->last_id))) return SY_BLN_CUT; /* no way on */
    if (pages >= SY_BLIST_PAGES_MAX) return SY_BLN_CUT;
    return SY_BLN_MORE;
}

bool sy_blist_candidate(const sy_blist_item *it, int64_t intent_ms, int64_t until_ms, size_t njobs)
{
    if (it->created_ms < 0 || it->total < 0 || (uint64_t)it->total != (uint64_t)njobs || !njobs) return false;
    if (it->status == SY_BST_FAILED) return false; /* nothing to answer with */
    return it->created_ms >= intent_ms - SY_BLIST_MARGIN_MS && it->created_ms <= until_ms + SY_BLIST_MARGIN_MS;
}

bool sy_blist_ours(const sy_batch_match *m, size_t total)
{
    uint64_t others = total > m->n ? total - m->n : 0; /* the lines of the intent's other shares */
    return m->n && m->nanswered * 2 >= m->n && (uint64_t)m->nanswered + others > m->unknown;
}

size_t sy_blist_pick(const bool *confirmed, const int64_t *created_ms, size_t n)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (confirmed[i] && (best == n || created_ms[i] > created_ms[best])) best = i;
    return best;
}
