/* jscan.h -- reading a few fields out of a JSON document without building it.
 *
 * A provider's answer is a JSON object of which the worker needs four or
 * five values (the text, the token counts, a finish reason). Building a
 * jansson tree for that allocates a node per value and was a tenth of the
 * worker's CPU per job. jscan instead checks the whole document once
 * (strict RFC 8259 syntax, nesting depth bounded, UTF-8 checked; numbers
 * are checked for syntax, not range) and then
 * walks to values by key and index, returning spans of the original text;
 * only the strings actually wanted are decoded (escapes, \u surrogates).
 *
 * Spans are [p, end) views into the caller's buffer; nothing is allocated
 * except the decoded string the caller asks for.
 *
 * Lives with the provider adapters (worker/providers/), its main user
 * (worker/batch.c reads batch output lines with it too);
 * uses base/ (buf.h) only. */
#ifndef SY_JSCAN_H
#define SY_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct sy_jspan {
    const char *p, *end; /* p == NULL: absent */
} sy_jspan;

/* The whole text is one valid JSON value (surrounding blanks allowed).
 * On success *root spans the value. */
bool sy_js_parse(const char *text, size_t len, sy_jspan *root);
/* The span of a text sy_js_parse has accepted before (unchanged since):
 * its blanks trimmed, nothing checked again. Only for such a text: the
 * lookups assume a checked document (on any other they may misread it or
 * read past its end). */
sy_jspan sy_js_checked(const char *text, size_t len);
/* Member `key` of an object span (absent if not an object or no such key;
 * the last one wins when a key repeats, as in jansson). */
sy_jspan sy_js_get(sy_jspan obj, const char *key);
/* Several members in one walk of the object: found[i] is member keys[i].
 * Returns the keys that repeat: bit i set when keys[i] (i < 32) is there
 * more than once (found[i] is then the last one). */
unsigned sy_js_get_many(sy_jspan obj, const char *const *keys, sy_jspan *found, size_t n);
/* sy_js_parse and, when the value is an object, sy_js_get_many of its
 * members in the same pass (the check walks every member anyway): one
 * walk of the text instead of two. *repeated as sy_js_get_many returns it
 * (0 when not an object; found[] then all absent). On false, found[] is
 * not to be read. */
bool sy_js_parse_many(const char *text, size_t len, sy_jspan *root, const char *const *keys,
                      sy_jspan *found, size_t n, unsigned *repeated);
/* Members wanted of an object: keys[i] into found[i], repeats in
 * `repeated` (as sy_js_get_many); and, when sub is set, the members of
 * member keys[sub_of] (its last one, when an object) into *sub: what
 * sy_js_get_many of found[sub_of] would find. */
typedef struct sy_jwant {
    const char *const *keys;
    sy_jspan *found;
    size_t n;
    unsigned repeated;
    size_t sub_of;
    struct sy_jwant *sub;
} sy_jwant;
/* sy_js_parse_many with a member's members too (an output line's
 * response and its status and body), in the same one pass. */
bool sy_js_parse_want(const char *text, size_t len, sy_jspan *root, sy_jwant *want);
/* Element i of an array span (walks the array from its start: to visit
 * every element, use an iterator, which walks it once). */
sy_jspan sy_js_at(sy_jspan arr, size_t i);
/* Number of elements of an array span (0 if not an array); one walk. */
size_t sy_js_len(sy_jspan arr);
/* The elements of an array span, in order, in one walk:
 *   sy_jsiter it = sy_js_iter(arr); sy_jspan v;
 *   while (sy_js_iter_next(&it, &v)) ...
 * (no element if arr is not an array). */
typedef struct sy_jsiter {
    const char *p, *end;
} sy_jsiter;
sy_jsiter sy_js_iter(sy_jspan arr);
bool sy_js_iter_next(sy_jsiter *it, sy_jspan *v);

bool sy_js_is_string(sy_jspan v);
bool sy_js_is_object(sy_jspan v);
bool sy_js_is_array(sy_jspan v);
/* Decode a string span into out (appended, NUL not counted). false if v
 * is not a string. */
bool sy_js_string(sy_jspan v, sy_buf *out);
/* Does string span v equal s (after decoding)? */
bool sy_js_string_is(sy_jspan v, const char *s);
/* An integer span's value, or 0 when absent or not an integer. */
int64_t sy_js_int(sy_jspan v);

#endif
