/* jscan.c -- see jscan.h. */
#include "jscan.h"

#include <string.h>

#define MAX_DEPTH 128

/* Byte classes, as tables so that the scanning loops test one byte with
 * one load: a string's run of plain characters stops at a quote, a
 * backslash, a control character or a non-ASCII byte (checked as UTF-8);
 * skipping a value already checked stops at quotes, backslashes and
 * brackets only. */
#define BYTES4(F, b) F(b), F(b + 1), F(b + 2), F(b + 3)
#define BYTES16(F, b) BYTES4(F, b), BYTES4(F, b + 4), BYTES4(F, b + 8), BYTES4(F, b + 12)
#define BYTES64(F, b) BYTES16(F, b), BYTES16(F, b + 16), BYTES16(F, b + 32), BYTES16(F, b + 48)
#define BYTES256(F) BYTES64(F, 0), BYTES64(F, 64), BYTES64(F, 128), BYTES64(F, 192)
#define STRING_STOP(c) ((c) < 0x20 || (c) == '"' || (c) == '\\' || (c) >= 0x80)
#define SKIP_STOP(c) ((c) == '"' || (c) == '\\' || (c) == '{' || (c) == '[' || (c) == '}' || (c) == ']')
static const bool string_stop[256] = {BYTES256(STRING_STOP)};
static const bool skip_stop[256] = {BYTES256(SKIP_STOP)};

static const char *blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end)
{
    if (end - p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the UTF-8 sequence at p (1..4), 0 if invalid. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || end - p < n) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 2 && c < 0xc2) return 0;                                 /* overlong */
    if (n == 3 && c == 0xe0 && p[1] < 0xa0) return 0;                 /* overlong */
    if (n == 3 && c == 0xed && p[1] >= 0xa0) return 0;                /* surrogate */
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[1] >= 0x90))) return 0;
    return n;
}

/* Past a string starting at its opening quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end;) {
        while (p < end && !string_stop[(unsigned char)*p]) p++;
        if (p >= end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (++p >= end) return NULL;
            if (*p == 'u') {
                if (hex4(p + 1, end) < 0) return NULL;
                p += 5;
            } else if (strchr("\"\\/bfnrt", *p) && *p) {
                p++;
            } else {
                return NULL;
            }
        } else {
            int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (!n) return NULL;
            p += n;
        }
    }
    return NULL;
}

static const char *digits(const char *p, const char *end)
{
    const char *s = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p > s ? p : NULL;
}

static const char *skip_number(const char *p, const char *end)
{
    if (*p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if (!(p = digits(p, end))) return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!(p = digits(p, end))) return NULL;
    }
    return p;
}

static const char *skip_value(const char *p, const char *end, int depth);

/* Past an object or array starting at its bracket, or NULL. */
static const char *skip_container(const char *p, const char *end, int depth)
{
    char close = *p == '{' ? '}' : ']';
    bool object = *p == '{';
    if (depth >= MAX_DEPTH) return NULL;
    p = blanks(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || !(p = skip_string(p, end))) return NULL;
            p = blanks(p, end);
            if (p >= end || *p != ':') return NULL;
            p = blanks(p + 1, end);
        }
        if (!(p = skip_value(p, end, depth + 1))) return NULL;
        p = blanks(p, end);
        if (p >= end) return NULL;
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p = blanks(p + 1, end);
    }
}

static const char *skip_literal(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && !memcmp(p, word, n) ? p + n : NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    if (p >= end) return NULL;
    switch (*p) {
    case '"': return skip_string(p, end);
    case '{':
    case '[': return skip_container(p, end, depth);
    case 't': return skip_literal(p, end, "true");
    case 'f': return skip_literal(p, end, "false");
    case 'n': return skip_literal(p, end, "null");
    default: return (*p == '-' || (*p >= '0' && *p <= '9')) ? skip_number(p, end) : NULL;
    }
}

bool sy_js_parse(const char *text, size_t len, sy_jspan *root)
{
    const char *end = text + len, *p = blanks(text, end), *q = skip_value(p, end, 0);
    if (!q || blanks(q, end) != end) return false;
    *root = (sy_jspan){p, q};
    return true;
}

sy_jspan sy_js_checked(const char *text, size_t len)
{
    const char *end = text + len, *p = blanks(text, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r')) end--;
    return (sy_jspan){p < end ? p : NULL, end};
}

/* Values inside a document sy_js_parse has checked: no need to validate
 * again, only to find where a value ends, so lookups cost a quick scan. */
static const char *next_string(const char *p, const char *end)
{
    for (p++; p < end;) {
        const char *q = memchr(p, '"', (size_t)(end - p)); /* a word at a time */
        if (!q) break;
        /* escaped when an odd run of backslashes comes before it (the run
         * starts at or after p: before p is a quote) */
        const char *b = q;
        while (b > p && b[-1] == '\\') b--;
        if (((q - b) & 1) == 0) return q + 1;
        p = q + 1;
    }
    return end;
}

static const char *next(const char *p, const char *end)
{
    if (*p == '"') return next_string(p, end);
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
               *p != '\n' && *p != '\r')
            p++;
        return p;
    }
    int depth = 0;
    while (p < end) {
        while (p < end && !skip_stop[(unsigned char)*p]) p++;
        if (p >= end) break;
        char c = *p;
        if (c == '"') {
            p = next_string(p, end);
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth == 0) return p + 1;
        p++;
    }
    return end;
}

/* The member name [k, kend) (with its quotes) is key: a name without
 * escapes (all of them in practice) is compared as is. */
static bool name_is(const char *k, const char *kend, bool plain, const char *key)
{
    size_t klen = (size_t)(kend - k - 2);
    return plain ? strlen(key) == klen && !memcmp(k + 1, key, klen) : sy_js_string_is((sy_jspan){k, kend}, key);
}

static bool plain_name(const char *k, const char *kend)
{
    return !memchr(k + 1, '\\', (size_t)(kend - k - 2));
}

/* Member [k, kend) with value [v, vend): into found[i] when it is
 * keys[i]; a second one sets bit i of *repeated. */
static void note_member(const char *k, const char *kend, const char *v, const char *vend,
                        const char *const *keys, sy_jspan *found, size_t n, unsigned *repeated)
{
    bool plain = plain_name(k, kend);
    for (size_t i = 0; i < n; i++)
        if (name_is(k, kend, plain, keys[i])) {
            if (found[i].p && i < 32) *repeated |= 1u << i;
            found[i] = (sy_jspan){v, vend};
        }
}

unsigned sy_js_get_many(sy_jspan obj, const char *const *keys, sy_jspan *found, size_t n)
{
    unsigned repeated = 0;
    for (size_t i = 0; i < n; i++) found[i] = (sy_jspan){0};
    if (!sy_js_is_object(obj)) return 0;
    const char *p = blanks(obj.p + 1, obj.end);
    while (p < obj.end && *p == '"') {
        const char *k = p, *kend = next(p, obj.end);
        p = blanks(blanks(kend, obj.end) + 1, obj.end); /* past ':' */
        const char *v = p;
        p = next(p, obj.end);
        if (kend - k < 2) break; /* only in a document not checked */
        note_member(k, kend, v, p, keys, found, n, &repeated);
        p = blanks(p, obj.end);
        if (*p != ',') break;
        p = blanks(p + 1, obj.end);
    }
    return repeated;
}

static void want_reset(sy_jwant *w)
{
    for (; w; w = w->sub) {
        w->repeated = 0;
        for (size_t i = 0; i < w->n; i++) w->found[i] = (sy_jspan){0};
    }
}

/* Past the object at p (its members checked as skip_container checks
 * them, the wanted ones noted on the way), or NULL. */
static const char *object_want(const char *p, const char *end, int depth, sy_jwant *w)
{
    if (depth >= MAX_DEPTH) return NULL;
    const char *q = blanks(p + 1, end);
    if (q < end && *q == '}') return q + 1;
    for (;;) {
        const char *k = q, *kend, *v;
        if (q >= end || *q != '"' || !(kend = q = skip_string(q, end))) return NULL;
        q = blanks(q, end);
        if (q >= end || *q != ':') return NULL;
        v = q = blanks(q + 1, end);
        /* the member whose members are wanted too: checked noting them */
        bool sub = w->sub && name_is(k, kend, plain_name(k, kend), w->keys[w->sub_of]);
        if (sub) want_reset(w->sub);
        if (sub && q < end && *q == '{') q = object_want(q, end, depth + 1, w->sub);
        else q = skip_value(q, end, depth + 1);
        if (!q) return NULL;
        note_member(k, kend, v, q, w->keys, w->found, w->n, &w->repeated);
        q = blanks(q, end);
        if (q >= end) return NULL;
        if (*q == '}') return q + 1;
        if (*q != ',') return NULL;
        q = blanks(q + 1, end);
    }
}

bool sy_js_parse_want(const char *text, size_t len, sy_jspan *root, sy_jwant *want)
{
    const char *end = text + len, *p = blanks(text, end), *q;
    want_reset(want);
    if (p >= end || *p != '{') return sy_js_parse(text, len, root);
    if (!(q = object_want(p, end, 0, want)) || blanks(q, end) != end) return false;
    *root = (sy_jspan){p, q};
    return true;
}

bool sy_js_parse_many(const char *text, size_t len, sy_jspan *root, const char *const *keys,
                      sy_jspan *found, size_t n, unsigned *repeated)
{
    sy_jwant w = {.keys = keys, .found = found, .n = n};
    bool ok = sy_js_parse_want(text, len, root, &w);
    *repeated = w.repeated;
    return ok;
}

sy_jspan sy_js_get(sy_jspan obj, const char *key)
{
    sy_jspan found;
    sy_js_get_many(obj, &key, &found, 1);
    return found;
}

sy_jsiter sy_js_iter(sy_jspan arr)
{
    if (!sy_js_is_array(arr)) return (sy_jsiter){NULL, NULL};
    return (sy_jsiter){blanks(arr.p + 1, arr.end), arr.end};
}

bool sy_js_iter_next(sy_jsiter *it, sy_jspan *v)
{
    const char *p = it->p, *end = it->end;
    if (!p || p >= end || *p == ']') return false;
    const char *after = next(p, end);
    *v = (sy_jspan){p, after};
    p = blanks(after, end);
    it->p = p < end && *p == ',' ? blanks(p + 1, end) : NULL; /* NULL: that was the last */
    return true;
}

sy_jspan sy_js_at(sy_jspan arr, size_t i)
{
    sy_jsiter it = sy_js_iter(arr);
    sy_jspan v;
    for (size_t n = 0; sy_js_iter_next(&it, &v); n++)
        if (n == i) return v;
    return (sy_jspan){0};
}

size_t sy_js_len(sy_jspan arr)
{
    sy_jsiter it = sy_js_iter(arr);
    sy_jspan v;
    size_t n = 0;
    while (sy_js_iter_next(&it, &v)) n++;
    return n;
}

bool sy_js_is_string(sy_jspan v) { return v.p && *v.p == '"'; }
bool sy_js_is_object(sy_jspan v) { return v.p && *v.p == '{'; }
bool sy_js_is_array(sy_jspan v) { return v.p && *v.p == '['; }

static void put_utf8(sy_buf *out, unsigned cp)
{
    char b[4];
    int n;
    if (cp < 0x80) b[0] = (char)cp, n = 1;
    else if (cp < 0x800) b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    sy_buf_append(out, b, (size_t)n);
}

/* A \u escape at p (pointing at 'u'); a lone surrogate becomes U+FFFD. */
static const char *unicode_escape(const char *p, const char *end, sy_buf *out)
{
    unsigned cp = (unsigned)hex4(p + 1, end);
    p += 5;
    if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        int lo = hex4(p + 2, end);
        if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
            p += 6;
        }
    }
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
    put_utf8(out, cp);
    return p;
}

bool sy_js_string(sy_jspan v, sy_buf *out)
{
    if (!sy_js_is_string(v)) return false;
    const char *p = v.p + 1, *end = v.end - 1;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\') p++;
        sy_buf_append(out, run, (size_t)(p - run));
        if (p >= end) break;
        p++;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *at = *p == 'u' ? NULL : strchr(from, *p);
        if (at) {
            sy_buf_putc(out, to[at - from]);
            p++;
        } else {
            p = unicode_escape(p, end, out);
        }
    }
    return true;
}

bool sy_js_string_is(sy_jspan v, const char *s)
{
    if (!sy_js_is_string(v)) return false;
    size_t n = strlen(s);
    const char *body = v.p + 1;
    if (!memchr(body, '\\', (size_t)(v.end - 1 - body)))
        return (size_t)(v.end - 1 - body) == n && !memcmp(body, s, n);
    sy_buf b;
    sy_buf_init(&b);
    sy_js_string(v, &b);
    bool eq = b.len == n && !memcmp(b.data, s, n);
    sy_buf_free(&b);
    return eq;
}

int64_t sy_js_int(sy_jspan v)
{
    if (!v.p || !(*v.p == '-' || (*v.p >= '0' && *v.p <= '9'))) return 0;
    const char *p = v.p;
    bool neg = *p == '-';
    if (neg) p++;
    int64_t x = 0;
    for (; p < v.end && *p >= '0' && *p <= '9'; p++) {
        if (x > (INT64_MAX - 9) / 10) return 0; /* out of range */
        x = x * 10 + (*p - '0');
    }
    if (p != v.end) return 0; /* a fraction or exponent: not an integer */
    return neg ? -x : x;
}
