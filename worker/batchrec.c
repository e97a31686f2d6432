/* batchrec.c -- a batch's durable record, encoded and decoded
 * (batchrec.h). The layout, all integers little-endian:
 *   u8 version, u8 kind, u8 status, u8 0, i64 recorded_ms, u32 n,
 *   u32 total (version 2 on; version 1 has none: total = n), then tier,
 *   model, file_id, batch_id, and n custom_ids, each a u16 length and
 *   its bytes; then per job a u8 (1: its message follows):
 *   i32 partition, i64 offset, origin (u16 length), key and value (u32
 *   length each, then the bytes).
 * Decoding checks every length before it reads. */
#include "batchrec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void put_u16(sy_buf *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    sy_buf_append(b, p, 2);
}

static void put_u64(sy_buf *b, uint64_t v, int bytes)
{
    unsigned char p[8];
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
    sy_buf_append(b, p, (size_t)bytes);
}

static void put_str(sy_buf *b, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max) n = max; /* never the case for what batchio records; cut, not overflowed */
    put_u16(b, (uint16_t)n);
    sy_buf_append(b, s ? s : "", n);
}

/* The batch's whole job count (total 0: the n it lists). */
static size_t whole_count(const sy_batchrec *r)
{
    return r->total > r->n ? r->total : r->n;
}

void sy_batchrec_encode(sy_buf *out, const sy_batchrec *r)
{
    unsigned char head[4] = {SY_BATCHREC_VERSION, (unsigned char)r->kind, (unsigned char)r->status, 0};
    sy_buf_append(out, head, 4);
    put_u64(out, (uint64_t)r->recorded_ms, 8);
    put_u64(out, r->n, 4);
    put_u64(out, whole_count(r), 4);
    put_str(out, r->tier, SY_BATCHREC_NAME_MAX - 1);
    put_str(out, r->model, SY_BATCHREC_NAME_MAX - 1);
    put_str(out, r->file_id, SY_BATCHREC_ID_MAX - 1);
    put_str(out, r->batch_id, SY_BATCHREC_ID_MAX - 1);
    for (size_t i = 0; i < r->n; i++) put_str(out, r->ids[i], SY_BATCHREC_CID_MAX);
    for (size_t i = 0; i < r->n; i++) {
        const sy_batchrec_job *j = r->jobs ? &r->jobs[i] : NULL;
        bool keep = j && j->present && (uint64_t)j->keylen + j->len <= SY_BATCHREC_MSG_MAX;
        sy_buf_putc(out, keep ? 1 : 0);
        if (!keep) continue;
        put_u64(out, (uint32_t)j->partition, 4);
        put_u64(out, (uint64_t)j->offset, 8);
        put_str(out, j->origin, SY_BATCHREC_ORIGIN_MAX - 1);
        put_u64(out, j->keylen, 4);
        sy_buf_append(out, j->key, j->keylen);
        put_u64(out, j->len, 4);
        sy_buf_append(out, j->value, j->len);
    }
}

/* ---- decoding ---- */

typedef struct rd {
    const unsigned char *p;
    size_t left;
} rd;

static uint64_t get_u(rd *r, int bytes, int *bad)
{
    if (r->left < (size_t)bytes) {
        *bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    r->left -= (size_t)bytes;
    return v;
}

typedef enum str_kind { S_NAME, S_ID, S_CID } str_kind;

static bool str_ok(const unsigned char *s, size_t n, str_kind k)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (k == S_ID ? !(c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                          (c >= 'A' && c <= 'Z'))
                      : c == 0 || (k == S_NAME && (c < 0x20 || c == 0x7f)))
            return false;
    }
    return true;
}

/* One string: offset into storage (NUL-terminated there), or -1. */
static long get_str(rd *r, sy_buf *storage, size_t max, str_kind k, int *bad)
{
    size_t n = (size_t)get_u(r, 2, bad);
    if (*bad || n > max || n > r->left || !str_ok(r->p, n, k)) {
        *bad = 1;
        return -1;
    }
    long at = (long)storage->len;
    sy_buf_append(storage, r->p, n);
    sy_buf_putc(storage, '\0');
    r->p += n;
    r->left -= n;
    return at;
}

int sy_batchrec_decode(const void *data, size_t len, sy_batchrec_view *v)
{
    memset(v, 0, sizeof *v);
    rd r = {data, data ? len : 0};
    int bad = 0;
    unsigned version = (unsigned)get_u(&r, 1, &bad), kind = (unsigned)get_u(&r, 1, &bad),
             status = (unsigned)get_u(&r, 1, &bad);
    get_u(&r, 1, &bad);
    int64_t recorded = (int64_t)get_u(&r, 8, &bad);
    uint64_t n = get_u(&r, 4, &bad);
    uint64_t total = version >= 2 ? get_u(&r, 4, &bad) : n;
    if (bad || (version != 1 && version != SY_BATCHREC_VERSION) || total < n || total > SY_BATCHREC_JOBS_MAX ||
        (kind != SY_BR_OPENAI && kind != SY_BR_ANTHROPIC) || (status != SY_BR_UPLOADED && status != SY_BR_CREATED) ||
        n > SY_BATCHREC_JOBS_MAX ||
        n * 2 > r.left) /* each id takes two bytes at least: n is bounded by the bytes there */
        return -1;
    sy_buf_init(&v->storage);
    long at[4];
    at[0] = get_str(&r, &v->storage, SY_BATCHREC_NAME_MAX - 1, S_NAME, &bad);
    at[1] = bad ? -1 : get_str(&r, &v->storage, SY_BATCHREC_NAME_MAX - 1, S_NAME, &bad);
    at[2] = bad ? -1 : get_str(&r, &v->storage, SY_BATCHREC_ID_MAX - 1, S_ID, &bad);
    at[3] = bad ? -1 : get_str(&r, &v->storage, SY_BATCHREC_ID_MAX - 1, S_ID, &bad);
    long *cid = sy_xcalloc(n ? (size_t)n : 1, sizeof *cid);
    for (uint64_t i = 0; !bad && i < n; i++) {
        cid[i] = get_str(&r, &v->storage, SY_BATCHREC_CID_MAX, S_CID, &bad);
        if (!bad && v->storage.data[cid[i]] == '\0') bad = 1; /* an empty custom_id */
    }
    /* the jobs' messages: offsets into storage, resolved below */
    typedef struct jat {
        int present;
        int32_t partition;
        int64_t offset;
        long origin, key, value;
        uint32_t keylen, len;
    } jat;
    jat *ja = sy_xcalloc(n ? (size_t)n : 1, sizeof *ja);
    for (uint64_t i = 0; !bad && i < n; i++) {
        unsigned present = (unsigned)get_u(&r, 1, &bad);
        if (bad || present > 1) {
            bad = 1;
            break;
        }
        if (!present) continue;
        ja[i].present = 1;
        ja[i].partition = (int32_t)(uint32_t)get_u(&r, 4, &bad);
        ja[i].offset = (int64_t)get_u(&r, 8, &bad);
        ja[i].origin = bad ? -1 : get_str(&r, &v->storage, SY_BATCHREC_ORIGIN_MAX - 1, S_NAME, &bad);
        for (int part = 0; part < 2 && !bad; part++) {
            uint64_t len = get_u(&r, 4, &bad);
            if (bad || len > SY_BATCHREC_MSG_MAX || len > r.left) {
                bad = 1;
                break;
            }
            long at = (long)v->storage.len;
            sy_buf_append(&v->storage, r.p, (size_t)len);
            sy_buf_putc(&v->storage, '\0');
            r.p += len;
            r.left -= (size_t)len;
            if (part == 0) ja[i].key = at, ja[i].keylen = (uint32_t)len;
            else ja[i].value = at, ja[i].len = (uint32_t)len;
        }
        if (!bad && (ja[i].partition < 0 || ja[i].offset < 0 || (uint64_t)ja[i].keylen + ja[i].len > SY_BATCHREC_MSG_MAX))
            bad = 1;
    }
    /* what must hold of a whole record: a name for tier and model, the
     * batch id once CREATED, a file id for OpenAI's, nothing after it */
    if (bad || r.left || !v->storage.data[at[0]] || !v->storage.data[at[1]] ||
        (status == SY_BR_CREATED && !v->storage.data[at[3]]) ||
        (kind == SY_BR_OPENAI && !v->storage.data[at[2]])) {
        free(cid);
        free(ja);
        sy_buf_free(&v->storage);
        memset(v, 0, sizeof *v);
        return -1;
    }
    const char *base = v->storage.data;
    v->ids_owned = sy_xcalloc(n ? (size_t)n : 1, sizeof *v->ids_owned);
    for (uint64_t i = 0; i < n; i++) v->ids_owned[i] = (char *)base + cid[i];
    free(cid);
    v->jobs_owned = sy_xcalloc(n ? (size_t)n : 1, sizeof *v->jobs_owned);
    for (uint64_t i = 0; i < n; i++)
        if (ja[i].present)
            v->jobs_owned[i] = (sy_batchrec_job){.present = 1, .partition = ja[i].partition,
                                                 .offset = ja[i].offset, .origin = base + ja[i].origin,
                                                 .key = base + ja[i].key, .keylen = ja[i].keylen,
                                                 .value = base + ja[i].value, .len = ja[i].len};
    free(ja);
    v->rec = (sy_batchrec){.kind = (sy_batchrec_kind)kind, .status = (sy_batchrec_status)status,
                           .recorded_ms = recorded, .tier = base + at[0], .model = base + at[1],
                           .file_id = base + at[2], .batch_id = base + at[3], .n = (size_t)n, .total = (size_t)total,
                           .ids = (const char *const *)v->ids_owned, .jobs = v->jobs_owned};
    return 0;
}

void sy_batchrec_view_free(sy_batchrec_view *v)
{
    free(v->ids_owned);
    free(v->jobs_owned);
    sy_buf_free(&v->storage);
    memset(v, 0, sizeof *v);
}

/* ---- on the changelog ---- */

int sy_batchrec_is_log_key(const char *key, size_t len)
{
    size_t n = sizeof SY_BATCHREC_LOG_PREFIX - 1;
    return key && len >= n && !memcmp(key, SY_BATCHREC_LOG_PREFIX, n);
}

const char *sy_batchrec_log_base(sy_buf *out, const char *store_key)
{
    sy_buf_reset(out);
    if (sy_batchrec_is_log_key(store_key, strlen(store_key))) {
        const char *bar = strrchr(store_key, '|'); /* the partition's separator */
        size_t n = sizeof SY_BATCHREC_LOG_PREFIX - 1;
        sy_buf_append(out, store_key, bar && (size_t)(bar - store_key) > n ? (size_t)(bar - store_key) : strlen(store_key));
        return sy_buf_cstr(out);
    }
    sy_buf_puts(out, SY_BATCHREC_LOG_PREFIX);
    for (const char *p = store_key; *p; p++) sy_buf_putc(out, *p == '\x1f' ? '|' : *p);
    return sy_buf_cstr(out);
}

const char *sy_batchrec_log_key(sy_buf *out, const char *base, int32_t partition)
{
    sy_buf_reset(out);
    sy_buf_printf(out, "%s|%d", base, (int)partition);
    return sy_buf_cstr(out);
}

size_t sy_batchrec_partitions(const sy_batchrec *r, int32_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; r->jobs && i < r->n; i++) {
        if (!r->jobs[i].present) continue;
        int32_t p = r->jobs[i].partition;
        size_t at = 0;
        while (at < n && out[at] < p) at++;
        if (at < n && out[at] == p) continue;
        if (n == max) {
            if (at == n) continue; /* above every kept one: not kept */
            n--;                   /* the highest goes, to keep the lowest max */
        }
        memmove(out + at + 1, out + at, (n - at) * sizeof *out);
        out[at] = p;
        n++;
    }
    return n;
}

static bool of_part(const sy_batchrec *r, size_t i, int32_t partition)
{
    return r->jobs && r->jobs[i].present && r->jobs[i].partition == partition;
}

/* r's record with only the kept jobs of `partition` among jobs from..to-1;
 * their count. */
static size_t encode_of(sy_buf *out, const sy_batchrec *r, int32_t partition, size_t from, size_t to)
{
    size_t k = 0;
    for (size_t i = from; i < to; i++) k += of_part(r, i, partition);
    const char **ids = sy_xcalloc(k ? k : 1, sizeof *ids);
    sy_batchrec_job *jobs = sy_xcalloc(k ? k : 1, sizeof *jobs);
    size_t j = 0;
    for (size_t i = from; i < to; i++)
        if (of_part(r, i, partition)) {
            ids[j] = r->ids[i];
            jobs[j++] = r->jobs[i];
        }
    sy_batchrec part = *r;
    part.total = whole_count(r); /* the whole batch's, not this part's */
    part.n = k;
    part.ids = ids;
    part.jobs = jobs;
    sy_batchrec_encode(out, &part);
    free(ids);
    free(jobs);
    return k;
}

size_t sy_batchrec_encode_partition(sy_buf *out, const sy_batchrec *r, int32_t partition)
{
    return encode_of(out, r, partition, 0, r->n);
}

int sy_batchrec_of_partition(const sy_batchrec *r, int32_t partition)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->jobs || !r->jobs[i].present || r->jobs[i].partition != partition) return 0;
    return 1;
}

/* ---- parts ---- */

static size_t str_bytes(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return 2 + (n > max ? max : n);
}

/* What one job adds to a record's bytes (sy_batchrec_encode). */
static size_t job_bytes(const sy_batchrec *r, size_t i)
{
    const sy_batchrec_job *j = &r->jobs[i];
    size_t n = str_bytes(r->ids[i], SY_BATCHREC_CID_MAX) + 1;
    if (j->present && (uint64_t)j->keylen + j->len <= SY_BATCHREC_MSG_MAX)
        n += 4 + 8 + str_bytes(j->origin, SY_BATCHREC_ORIGIN_MAX - 1) + 4 + j->keylen + 4 + j->len;
    return n;
}

static size_t head_bytes(const sy_batchrec *r)
{
    return 4 + 8 + 4 + 4 + str_bytes(r->tier, SY_BATCHREC_NAME_MAX - 1) +
           str_bytes(r->model, SY_BATCHREC_NAME_MAX - 1) +
           str_bytes(r->file_id, SY_BATCHREC_ID_MAX - 1) + str_bytes(r->batch_id, SY_BATCHREC_ID_MAX - 1);
}

/* From job index *at (of all r's jobs): the indexes of the next part's
 * jobs end before the returned index; how many in *k. */
static size_t part_end(const sy_batchrec *r, int32_t partition, size_t max_bytes, size_t at, size_t *k)
{
    size_t bytes = head_bytes(r);
    *k = 0;
    for (; at < r->n; at++) {
        if (!of_part(r, at, partition)) continue;
        size_t jb = job_bytes(r, at);
        if (*k && bytes + jb > max_bytes) break;
        bytes += jb;
        (*k)++;
    }
    return at;
}

size_t sy_batchrec_count_parts(const sy_batchrec *r, int32_t partition, size_t max_bytes)
{
    size_t parts = 0, k, at = 0;
    while ((at = part_end(r, partition, max_bytes, at, &k)), k) parts++;
    return parts;
}

size_t sy_batchrec_encode_part(sy_buf *out, const sy_batchrec *r, int32_t partition, size_t max_bytes,
                               size_t *cursor)
{
    /* *cursor counts the partition's jobs: find the index of the first */
    size_t at = 0, seen = 0;
    while (at < r->n && (!of_part(r, at, partition) || seen++ < *cursor)) at++;
    size_t k, end = part_end(r, partition, max_bytes, at, &k);
    if (!k) return 0;
    encode_of(out, r, partition, at, end);
    *cursor += k;
    return k;
}

const char *sy_batchrec_log_part_key(sy_buf *out, const char *base, int32_t partition, uint32_t part,
                                     uint32_t count)
{
    sy_batchrec_log_key(out, base, partition);
    if (count > 1) sy_buf_printf(out, "#%u/%u", part, count);
    return sy_buf_cstr(out);
}

/* A decimal at *p (no sign, no leading zero unless "0"), at most max;
 * *p moves past it. -1 when there is none or it is too large. */
static int64_t get_dec(const char **p, const char *end, int64_t max)
{
    const char *s = *p;
    int64_t v = 0;
    if (s == end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')) return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > max) return -1;
    }
    *p = s;
    return v;
}

int sy_batchrec_log_key_parse(const char *key, size_t len, int32_t *partition, uint32_t *part, uint32_t *count,
                              size_t *base_len)
{
    size_t pre = sizeof SY_BATCHREC_LOG_PREFIX - 1;
    if (!sy_batchrec_is_log_key(key, len)) return -1;
    const char *end = key + len, *bar = NULL;
    for (const char *q = key + pre; q < end; q++)
        if (*q == '|') bar = q;
    if (!bar || (size_t)(bar - key) <= pre) return -1;
    const char *p = bar + 1;
    int64_t pa = get_dec(&p, end, INT32_MAX), i = 0, n = 1;
    if (pa < 0) return -1;
    if (p < end && *p == '#') {
        p++;
        i = get_dec(&p, end, SY_BATCHREC_PARTS_PER_MAX);
        if (i < 0 || p == end || *p != '/') return -1;
        p++;
        n = get_dec(&p, end, SY_BATCHREC_PARTS_PER_MAX);
        if (n < 2 || i >= n) return -1; /* one part has the key without "#i/n" */
    }
    if (p != end) return -1;
    *partition = (int32_t)pa;
    *part = (uint32_t)i;
    *count = (uint32_t)n;
    *base_len = (size_t)(bar - key);
    return 0;
}

int sy_batchrec_parts_complete(const char *const *keys, size_t n)
{
    if (n == 0 || n > SY_BATCHREC_PARTS_PER_MAX) return 0;
    int32_t p0 = 0;
    uint32_t c0 = 0;
    size_t b0 = 0;
    unsigned char *seen = sy_xcalloc(n, 1);
    int ok = 1;
    for (size_t k = 0; ok && k < n; k++) {
        int32_t p;
        uint32_t i, c;
        size_t b;
        ok = sy_batchrec_log_key_parse(keys[k], strlen(keys[k]), &p, &i, &c, &b) == 0;
        if (ok && k == 0) p0 = p, c0 = c, b0 = b;
        ok = ok && p == p0 && c == c0 && b == b0 && !memcmp(keys[k], keys[0], b) && c == n && !seen[i];
        if (ok) seen[i] = 1;
    }
    free(seen);
    return ok; /* n distinct parts below count == n: every one */
}
