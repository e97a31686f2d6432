/* test_jscan.c -- the JSON reader the provider adapters use: what it accepts
 * (checked against jansson on random inputs), how it finds values, and how
 * it decodes strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jscan.h"

static bool parses(const char *s)
{
    sy_jspan root;
    return sy_js_parse(s, strlen(s), &root);
}

static void test_accepts_and_rejects(void **state)
{
    (void)state;
    const char *good[] = {"{}", " [ ] ", "0", "-0.5e+3", "\"a\\u00e9\\n\"", "true", "null",
                          "{\"a\":[1,{\"b\":null}],\"c\":\"\\ud83d\\ude00\"}", "\"\xc3\xa9\""};
    const char *bad[] = {"", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "01", "1.", "1e", "-",
                         "\"abc", "\"\\x\"", "\"\\u12\"", "\"a\nb\"", "tru", "{} {}",
                         "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{'a':1}", "[1 2]"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(parses(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parses(bad[i])) fail_msg("accepted: %s", bad[i]);
    }
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600 - 1] = ']';
    assert_false(sy_js_parse(deep, 600, &(sy_jspan){0})); /* deeper than the bound */
}

/* Appends 1..max random atoms to s (room enough). */
static void random_atoms(char *s, unsigned *seed, const char *const *atoms, size_t natoms, int max)
{
    int n = 1 + (int)((*seed = *seed * 1103515245u + 12345u) >> 16) % max;
    for (int j = 0; j < n; j++) {
        *seed = *seed * 1103515245u + 12345u;
        strcat(s, atoms[(*seed >> 16) % natoms]);
    }
}

/* Random short texts from JSON's alphabet: jscan and jansson agree on
 * which are valid JSON. */
static void test_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const atoms[] = {"{", "}", "[", "]", ",", ":", "\"", "a", "\\", "n",
                                        "1", "-", ".", "e", "0", " ", "true", "null", "\"k\"",
                                        "\\u00e9", "\xc3\xa9", "\xff"};
    unsigned seed = 12345;
    int valid = 0;
    for (int i = 0; i < 200000; i++) {
        char s[64] = "";
        random_atoms(s, &seed, atoms, sizeof atoms / sizeof *atoms, 8);
        json_error_t je;
        json_t *v = json_loadb(s, strlen(s), JSON_DECODE_ANY, &je);
        bool theirs = v != NULL, ours = parses(s);
        json_decref(v);
        if (theirs != ours) fail_msg("disagree on '%s': jansson %d, jscan %d", s, theirs, ours);
        valid += ours;
    }
    assert_true(valid > 1000); /* the test saw plenty of valid documents too */
}

/* sy_js_parse_many (and sy_js_parse_want) accepts what sy_js_parse
 * accepts, and finds what sy_js_get_many finds (repeats too), a member's
 * members too: on fixed documents and on random objects from JSON's
 * alphabet. */
static void same_as_parse_then_get(const char *s, size_t len)
{
    static const char *const keys[] = {"k", "a", "key"};
    sy_jspan r1 = {0}, r2 = {0}, f1[3], f2[3];
    unsigned rep1 = 0, rep2 = 0;
    bool ok1 = sy_js_parse(s, len, &r1), ok2 = sy_js_parse_many(s, len, &r2, keys, f2, 3, &rep2);
    if (ok1 != ok2) fail_msg("disagree on '%.*s': parse %d, parse_many %d", (int)len, s, ok1, ok2);
    if (!ok1) return;
    assert_ptr_equal(r1.p, r2.p);
    assert_ptr_equal(r1.end, r2.end);
    rep1 = sy_js_get_many(r1, keys, f1, 3);
    assert_int_equal(rep1, rep2);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(f1[i].p, f2[i].p);
        assert_ptr_equal(f1[i].end, f2[i].end);
    }
    /* and the members of member "a" (its last one) in the same pass */
    sy_jspan f3[3], sub1[3], sub3[3];
    sy_jwant sub = {.keys = keys, .found = sub3, .n = 3};
    sy_jwant want = {.keys = keys, .found = f3, .n = 3, .sub_of = 1, .sub = &sub};
    assert_true(sy_js_parse_want(s, len, &r2, &want));
    unsigned subrep = sy_js_get_many(f1[1], keys, sub1, 3);
    assert_int_equal(want.repeated, rep1);
    assert_int_equal(sub.repeated, subrep);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(f3[i].p, f1[i].p);
        assert_ptr_equal(sub3[i].p, sub1[i].p);
        assert_ptr_equal(sub3[i].end, sub1[i].end);
    }
}

static void test_parse_many(void **state)
{
    (void)state;
    const char *docs[] = {"{}", " { } ", "[1]", "\"k\"", "{\"k\":1}", "{\"k\":1,\"k\":[2]}",
                          "{\"a\":{\"k\":3},\"k\\u0065y\":\"v\",\"key\":null} ", "{\"k\":1,}",
                          "{\"k\":1} {}", "{\"k\" 1}", "{\"k\":}", "{\"a\":\"\xff\"}", "{\"k\":1",
                          "{\"a\":{\"k\":1,\"k\":2},\"a\":{\"key\":[]}}", "{\"a\":{\"k\":1},\"a\":3}",
                          "{\"\\u0061\":{\"a\":{\"k\":1}}}", "{\"a\":{\"a\":{\"k\":{}}},\"k\":\"x\"}"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) same_as_parse_then_get(docs[i], strlen(docs[i]));
    static const char *const atoms[] = {"}", "[", "]", ",", ":", "\"k\"", "\"a\"", "\"\\u006b\"",
                                        "1", "{", " ", "null", "\"x\""};
    unsigned seed = 777;
    int objects = 0;
    for (int i = 0; i < 100000; i++) {
        char s[128] = "{";
        random_atoms(s, &seed, atoms, sizeof atoms / sizeof *atoms, 10);
        sy_jspan root;
        objects += sy_js_parse(s, strlen(s), &root);
        same_as_parse_then_get(s, strlen(s));
    }
    assert_true(objects > 500); /* plenty of valid objects among them */
}

static void test_lookup(void **state)
{
    (void)state;
    const char *doc = "{\"choices\":[{\"message\":{\"content\":\"hi \\\"there\\\"\"}},2],"
                      "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":-3,\"x\":1.5},"
                      "\"a\":1,\"a\":2,\"k\\u0065y\":\"v\"}";
    sy_jspan root;
    assert_true(sy_js_parse(doc, strlen(doc), &root));
    sy_jspan c = sy_js_get(sy_js_get(sy_js_at(sy_js_get(root, "choices"), 0), "message"), "content");
    sy_buf b;
    sy_buf_init(&b);
    assert_true(sy_js_string(c, &b));
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "hi \"there\"", 10);
    sy_jspan usage = sy_js_get(root, "usage");
    assert_int_equal(sy_js_int(sy_js_get(usage, "prompt_tokens")), 12);
    assert_int_equal(sy_js_int(sy_js_get(usage, "completion_tokens")), -3);
    assert_int_equal(sy_js_int(sy_js_get(usage, "x")), 0); /* not an integer */
    assert_int_equal(sy_js_int(sy_js_get(root, "a")), 2);  /* the last one wins */
    {   /* a text checked before: its span, blanks trimmed, read the same */
        char padded[600];
        snprintf(padded, sizeof padded, " \n%s\r\n ", doc);
        sy_jspan c = sy_js_checked(padded, strlen(padded));
        assert_int_equal(c.end - c.p, (long)strlen(doc));
        assert_memory_equal(c.p, doc, strlen(doc));
        assert_int_equal(sy_js_int(sy_js_get(sy_js_get(c, "usage"), "prompt_tokens")), 12);
        assert_null(sy_js_checked(" \t", 2).p);
    }
    {   /* get_many says which of the wanted keys repeat (bit per key) */
        static const char *const keys[] = {"usage", "a", "key", "missing"};
        sy_jspan f[4];
        assert_int_equal(sy_js_get_many(root, keys, f, 4), 1u << 1);
        assert_int_equal(sy_js_int(f[1]), 2);
        assert_true(sy_js_string_is(f[2], "v"));
        assert_null(f[3].p);
        assert_int_equal(sy_js_get_many(usage, keys, f, 4), 0);
    }
    assert_true(sy_js_string_is(sy_js_get(root, "key"), "v")); /* escaped key */
    assert_null(sy_js_get(root, "missing").p);
    assert_null(sy_js_at(sy_js_get(root, "choices"), 2).p);
    assert_int_equal(sy_js_len(sy_js_get(root, "choices")), 2);
    assert_non_null(sy_js_get(usage, "prompt_tokens").p);
    sy_buf_free(&b);

    /* Lookups skip values quickly: brackets and quotes inside strings, an
     * escaped backslash before a closing quote, blanks around scalars. */
    const char *tricky = "{\"x\":\"]}[{\\\\\",\"y\":[[\"}\"],{\"z\":\"\\\"]\"}] ,\"w\": 7 ,"
                         "\"v\":true}";
    assert_true(sy_js_parse(tricky, strlen(tricky), &root));
    assert_int_equal(sy_js_int(sy_js_get(root, "w")), 7);
    assert_true(sy_js_get(root, "v").p && *sy_js_get(root, "v").p == 't');
    assert_true(sy_js_string_is(sy_js_get(sy_js_at(sy_js_get(root, "y"), 1), "z"), "\"]"));
    assert_int_equal(sy_js_len(sy_js_get(root, "y")), 2);

    /* an escaped backslash, then an escaped quote, in a key and in a value */
    const char *runs = "{\"k\\\\\\\"\":\"a\\\\\\\"]}\\\\\",\"after\":1}";
    assert_true(sy_js_parse(runs, strlen(runs), &root));
    assert_int_equal(sy_js_int(sy_js_get(root, "after")), 1);
    assert_true(sy_js_string_is(sy_js_get(root, "k\\\""), "a\\\"]}\\"));
}

static void test_string_decoding(void **state)
{
    (void)state;
    const char *doc = "\"\\u00e9\\ud83d\\ude00\\ud800x\\t\\/\"";
    sy_jspan v;
    assert_true(sy_js_parse(doc, strlen(doc), &v));
    sy_buf b;
    sy_buf_init(&b);
    assert_true(sy_js_string(v, &b));
    const char want[] = "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\t/"; /* é 😀 U+FFFD x tab / */
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    sy_buf_free(&b);
}

/* Iterating a large array walks it once: sy_js_len and a full iteration of
 * 200,000 elements stay within a bound that walking from the start for
 * each element (quadratic: minutes) cannot meet. */
static void test_large_arrays_walk_once(void **state)
{
    (void)state;
    enum { N = 200000 };
    size_t len = 2 + (size_t)N * 8;
    char *doc = malloc(len + 1), *p = doc;
    *p++ = '[';
    for (int i = 0; i < N; i++) p += sprintf(p, "%s[\"a\",1]", i ? "," : "");
    *p++ = ']';
    sy_jspan root, v;
    assert_true(sy_js_parse(doc, (size_t)(p - doc), &root));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sy_js_len(root), N);
    sy_jsiter it = sy_js_iter(root);
    size_t n = 0;
    while (sy_js_iter_next(&it, &v)) n += sy_js_is_array(v) && sy_js_int(sy_js_at(v, 1)) == 1;
    assert_int_equal(n, N);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 2.0) fail_msg("walking 200,000 elements took %.2f s", secs);
    it = sy_js_iter(sy_js_get(root, "x")); /* not an array: nothing */
    assert_false(sy_js_iter_next(&it, &v));
    assert_true(sy_js_parse("[]", 2, &root));
    it = sy_js_iter(root);
    assert_false(sy_js_iter_next(&it, &v));
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_and_rejects),
        cmocka_unit_test(test_agrees_with_jansson),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_parse_many),
        cmocka_unit_test(test_string_decoding),
        cmocka_unit_test(test_large_arrays_walk_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
