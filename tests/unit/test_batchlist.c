/* test_batchlist.c -- worker/batchlist.[ch]: the providers' batch listings
 * decoded as hostile bytes (ids filtered, times and counts bounded, bad
 * items skipped, random and mutated bytes never crash nor leak), the
 * paging decision (window, end, bound, a cursor that does not move), and
 * the choice of an Anthropic intent's batch: candidates by time window and
 * job count, confirmation by the custom_ids its results answer, the newest
 * confirmed one taken; the partition lists of the OpenAI batches'
 * metadata (written as ranges, read as hostile text, met by the
 * partitions a worker is assigned). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchlist.h"

#define T0 1764650000000LL /* 2025-12-02T04:33:20Z */

static const char anthropic_page[] =
    "{\"data\":["
    "{\"id\":\"msgbatch_b\",\"processing_status\":\"in_progress\",\"created_at\":\"2025-12-02T04:33:21.5Z\","
    "\"ended_at\":null,\"request_counts\":{\"processing\":30,\"succeeded\":8,\"errored\":1,\"canceled\":1,\"expired\":0}},"
    "{\"id\":\"msgbatch_a\",\"processing_status\":\"ended\",\"created_at\":\"2025-12-02T06:33:10+02:00\","
    "\"ended_at\":\"2025-12-02T04:40:00Z\",\"request_counts\":{\"processing\":0,\"succeeded\":2,\"errored\":0,\"canceled\":0,\"expired\":0}}"
    "],\"has_more\":true,\"first_id\":\"msgbatch_b\",\"last_id\":\"msgbatch_a\"}";

/* A listing page decoded into p, as it must be: n items kept. */
static void decode_page(const char *page, bool anthropic, size_t n, sy_blist_page *p)
{
    assert_int_equal(sy_blist_decode(page, strlen(page), anthropic, p), 0);
    assert_int_equal(p->n, n);
}

static void test_decode_anthropic(void **state)
{
    (void)state;
    sy_blist_page p;
    decode_page(anthropic_page, true, 2, &p);
    assert_int_equal(p.skipped, 0);
    assert_true(p.has_more);
    assert_string_equal(p.last_id, "msgbatch_a");
    assert_string_equal(p.items[0].id, "msgbatch_b");
    assert_int_equal(p.items[0].total, 40);
    assert_true(p.items[0].created_ms == T0 + 1500);
    assert_true(p.items[0].ended_ms == -1);
    assert_int_equal(p.items[0].status, SY_BST_RUNNING);
    assert_true(p.items[1].created_ms == T0 - 10000); /* the offset applied */
    assert_int_equal(p.items[1].status, SY_BST_ENDED);
    assert_true(p.oldest_ms == T0 - 10000);
    sy_blist_page_free(&p);
}

static void test_decode_openai(void **state)
{
    (void)state;
    static const char page[] =
        "{\"object\":\"list\",\"data\":[{\"id\":\"batch_1\",\"status\":\"in_progress\",\"input_file_id\":\"file-9\","
        "\"created_at\":1764650000,\"request_counts\":{\"total\":100,\"completed\":0,\"failed\":0},"
        "\"metadata\":{\"switchyard_tier\":\"bulk-tier\",\"switchyard_model\":\"mini\","
        "\"switchyard_topic\":\"switchyard.tier.bulk-tier\",\"switchyard_partitions\":\"0-2,5\"}}],"
        "\"first_id\":\"batch_1\",\"last_id\":\"batch_1\",\"has_more\":false}";
    sy_blist_page p;
    decode_page(page, false, 1, &p);
    assert_false(p.has_more);
    assert_string_equal(p.items[0].input_file_id, "file-9");
    assert_string_equal(p.items[0].md_tier, "bulk-tier");
    assert_string_equal(p.items[0].md_model, "mini");
    assert_string_equal(p.items[0].md_topic, "switchyard.tier.bulk-tier");
    assert_string_equal(p.items[0].md_parts, "0-2,5");
    assert_int_equal(p.items[0].total, 100);
    assert_true(p.items[0].created_ms == T0);
    sy_blist_page_free(&p);
}

/* Hostile items: ids outside the filter are skipped, counts and times out
 * of bounds are unknown (-1), a cursor that is not an id is unusable. */
static void test_decode_hostile(void **state)
{
    (void)state;
    static const char page[] =
        "{\"data\":[7,\"x\",{\"id\":\"msg/../../x\"},{\"id\":\"\"},{\"id\":\"ok_1\",\"created_at\":\"2025-13-02T00:00:00Z\","
        "\"request_counts\":{\"processing\":-1}},{\"id\":\"ok_2\",\"created_at\":\"9999-01-01T00:00:00Z\","
        "\"request_counts\":{\"processing\":99999,\"succeeded\":99999}},{\"id\":\"ok_3\",\"created_at\":12,"
        "\"request_counts\":{\"processing\":1e300,\"succeeded\":0,\"errored\":0,\"canceled\":0,\"expired\":0}},"
        "{\"id\":\"ok_4\",\"created_at\":\"2025-12-02T04:33:20Z\",\"request_counts\":{\"processing\":1,"
        "\"succeeded\":0,\"errored\":0,\"canceled\":0,\"expired\":0}}],"
        "\"has_more\":\"yes\",\"last_id\":\"a b\"}";
    sy_blist_page p;
    decode_page(page, true, 4, &p);
    assert_int_equal(p.skipped, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_true(p.items[i].created_ms == -1);
        assert_true(p.items[i].total == -1);
    }
    assert_true(p.items[3].total == 1);
    assert_false(p.has_more); /* not a boolean */
    assert_string_equal(p.last_id, "");
    assert_true(p.oldest_ms == T0);
    sy_blist_page_free(&p);
    char longid[200];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(sy_blist_id_ok(longid));
    longid[SY_BLIST_ID_MAX - 1] = '\0';
    assert_true(sy_blist_id_ok(longid));
    assert_int_equal(sy_blist_decode("not json", 8, true, &p), -1);
    assert_int_equal(sy_blist_decode("{\"data\":{}}", 11, true, &p), -1);
    assert_int_equal(sy_blist_decode(NULL, 0, false, &p), -1);
}

/* A page longer than SY_BLIST_ITEMS_MAX: the rest is skipped. */
static void test_decode_bounded(void **state)
{
    (void)state;
    size_t n = SY_BLIST_ITEMS_MAX + 5;
    char *body = malloc(n * 32 + 64), *w = body;
    w += sprintf(w, "{\"data\":[");
    for (size_t i = 0; i < n; i++) w += sprintf(w, "%s{\"id\":\"b%zu\"}", i ? "," : "", i);
    w += sprintf(w, "],\"has_more\":false}");
    sy_blist_page p;
    assert_int_equal(sy_blist_decode(body, (size_t)(w - body), false, &p), 0);
    assert_int_equal(p.n, SY_BLIST_ITEMS_MAX);
    assert_int_equal(p.skipped, 5);
    sy_blist_page_free(&p);
    free(body);
}

/* Random bytes, and the sample page with bytes changed: decoded or
 * refused, never a crash, a read past the end or a leak (ASan build). */
static void test_decode_fuzz(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    size_t len = strlen(anthropic_page);
    char *buf = malloc(len);
    for (int round = 0; round < 4000; round++) {
        memcpy(buf, anthropic_page, len);
        int edits = 1 + round % 8;
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            static const char marks[] = "{}[]\",:0-9eZ.T\\\x01\xff";
            buf[x % len] = round < 2000 ? marks[(x >> 32) % (sizeof marks - 1)] : (char)(x >> 40);
        }
        size_t cut = round % 3 == 0 ? (size_t)(x >> 20) % len : len;
        for (int kind = 0; kind < 2; kind++) {
            sy_blist_page p;
            if (sy_blist_decode(buf, cut, kind, &p) != 0) continue;
            assert_true(p.n <= SY_BLIST_ITEMS_MAX);
            for (size_t i = 0; i < p.n; i++) {
                assert_true(sy_blist_id_ok(p.items[i].id));
                assert_true(p.items[i].total >= -1 && p.items[i].total <= SY_BLIST_COUNT_MAX);
                assert_true(p.items[i].created_ms == -1 || p.items[i].created_ms > 0);
            }
            assert_true(!p.last_id[0] || sy_blist_id_ok(p.last_id));
            sy_blist_page_free(&p);
        }
    }
    free(buf);
}

static sy_blist_page page_of(bool more, const char *last, int64_t oldest)
{
    sy_blist_page p = {.has_more = more, .oldest_ms = oldest};
    snprintf(p.last_id, sizeof p.last_id, "%s", last);
    return p;
}

static void test_paging(void **state)
{
    (void)state;
    sy_blist_page p = page_of(true, "b_9", T0);
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0 - 1), SY_BLN_MORE);
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0), SY_BLN_MORE);       /* not older yet */
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0 + 1), SY_BLN_DONE);   /* older than the window */
    assert_int_equal(sy_blist_after_page(&p, "b_9", 2, T0 - 1), SY_BLN_CUT); /* the cursor does not move */
    assert_int_equal(sy_blist_after_page(&p, "b_8", SY_BLIST_PAGES_MAX, T0 - 1), SY_BLN_CUT); /* bounded */
    assert_int_equal(sy_blist_after_page(&p, "b_8", SY_BLIST_PAGES_MAX - 1, T0 - 1), SY_BLN_MORE);
    p = page_of(false, "b_9", T0);
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0 - 1), SY_BLN_DONE);   /* the end */
    p = page_of(true, "", T0);
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0 - 1), SY_BLN_CUT);    /* no usable cursor */
    p = page_of(true, "b_1", INT64_MAX);                                       /* no readable time: on */
    assert_int_equal(sy_blist_after_page(&p, "", 1, T0), SY_BLN_MORE);
}

static sy_blist_item item(int64_t created, int64_t total, sy_batch_status st)
{
    sy_blist_item it = {.created_ms = created, .total = total, .status = st, .ended_ms = -1};
    snprintf(it.id, sizeof it.id, "msgbatch_x");
    return it;
}

static void test_candidates(void **state)
{
    (void)state;
    int64_t intent = T0, crash = T0 + 60000;
    sy_blist_item it = item(T0 + 200, 40, SY_BST_RUNNING);
    assert_true(sy_blist_candidate(&it, intent, crash, 40));
    assert_false(sy_blist_candidate(&it, intent, crash, 39)); /* count */
    assert_false(sy_blist_candidate(&it, intent, crash, 0));
    it = item(T0 - SY_BLIST_MARGIN_MS, 40, SY_BST_ENDED); /* clock margin, both sides */
    assert_true(sy_blist_candidate(&it, intent, crash, 40));
    it = item(T0 - SY_BLIST_MARGIN_MS - 1, 40, SY_BST_ENDED);
    assert_false(sy_blist_candidate(&it, intent, crash, 40));
    it = item(crash + SY_BLIST_MARGIN_MS, 40, SY_BST_RUNNING);
    assert_true(sy_blist_candidate(&it, intent, crash, 40));
    it = item(crash + SY_BLIST_MARGIN_MS + 1, 40, SY_BST_RUNNING); /* after the restart: not ours */
    assert_false(sy_blist_candidate(&it, intent, crash, 40));
    it = item(-1, 40, SY_BST_RUNNING); /* no time */
    assert_false(sy_blist_candidate(&it, intent, crash, 40));
    it = item(T0 + 1, -1, SY_BST_RUNNING); /* no count */
    assert_false(sy_blist_candidate(&it, intent, crash, 40));
    it = item(T0 + 1, 40, SY_BST_FAILED);
    assert_false(sy_blist_candidate(&it, intent, crash, 40));
}

static const char *const ours_ids[] = {"k1", "k2", "k3", "k4"};

static bool confirm_of(const char *results, size_t total)
{
    sy_batch_match m;
    sy_batch_match_init(&m, ours_ids, 4);
    for (const char *p = results; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sy_batch_answer a;
        if (sy_batch_match_line(&m, p, n, &a) == SY_BL_ANSWER) free(a.body);
        p += n + (nl ? 1 : 0);
    }
    bool r = sy_blist_ours(&m, total);
    sy_batch_match_free(&m);
    return r;
}

static bool confirm(const char *results)
{
    return confirm_of(results, 4);
}

#define LINE(id) "{\"custom_id\":\"" id "\",\"result\":{\"type\":\"expired\"}}\n"

static void test_confirmation(void **state)
{
    (void)state;
    assert_true(confirm(LINE("k1") LINE("k2") LINE("k3") LINE("k4")));
    assert_true(confirm(LINE("k1") LINE("k2") LINE("zz") "not json\n")); /* half, noise below it */
    assert_false(confirm(LINE("z1") LINE("z2") LINE("z3") LINE("z4"))); /* another's batch */
    assert_false(confirm(LINE("k1") LINE("z2") LINE("z3") LINE("z4")));
    assert_false(confirm(LINE("k1") LINE("k2") LINE("z3") LINE("z4") LINE("z5")));
    assert_false(confirm(""));
    /* the 4 ids are a share of an intent of 6 jobs: 2 lines of the other share are expected */
    assert_true(confirm_of(LINE("k1") LINE("k2") LINE("k3") LINE("k4") LINE("o1") LINE("o2"), 6));
    assert_true(confirm_of(LINE("k1") LINE("k2") LINE("o1") LINE("o2") LINE("o3"), 6)); /* half, 1 of noise */
    assert_false(confirm_of(LINE("k1") LINE("k2") LINE("o1") LINE("o2") LINE("o3") LINE("o4"), 6));
    assert_false(confirm_of(LINE("k1") LINE("o1") LINE("o2") LINE("o3") LINE("o4") LINE("o5"), 6));
    assert_false(confirm(LINE("k1") LINE("k2") LINE("k3") LINE("k4") LINE("o1") LINE("o2") LINE("o3") LINE("o4")
                         LINE("o5")));
}

static void test_pick(void **state)
{
    (void)state;
    bool c[] = {true, false, true};
    int64_t t[] = {T0 + 5, T0 + 9, T0 + 7};
    assert_int_equal(sy_blist_pick(c, t, 3), 2); /* the newest confirmed */
    bool none[] = {false, false, false};
    assert_int_equal(sy_blist_pick(none, t, 3), 3);
    assert_int_equal(sy_blist_pick(c, t, 0), 0);
}

/* Partition lists: written as sorted ranges, bounded ("*" past a value's
 * 512 bytes); read as hostile text (malformed: none); met by comparing
 * ranges, never expanding them. */
static void test_partitions(void **state)
{
    (void)state;
    char spec[SY_BLIST_PARTS_MAX];
    const int32_t some[] = {7, 3, 0, 1, 2, 3, 9, 10, 11};
    sy_blist_parts_spec(some, sizeof some / sizeof some[0], spec);
    assert_string_equal(spec, "0-3,7,9-11");
    sy_blist_parts_spec(some, 0, spec);
    assert_string_equal(spec, "");
    const int32_t one[] = {2147483647};
    sy_blist_parts_spec(one, 1, spec);
    assert_string_equal(spec, "2147483647");
    int32_t many[400]; /* every other partition: 400 ranges, over 512 bytes */
    for (int i = 0; i < 400; i++) many[i] = 2 * i;
    sy_blist_parts_spec(many, 400, spec);
    assert_string_equal(spec, "*");

    static const char *const good[] = {"*", "0", "0-3,7,9-11", "5-5", "2147483647", "0-2147483647"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(sy_blist_parts_ok(good[i]));
    static const char *const bad[] = {"", "-1", "1-", "3-1", "01", "1,,2", "1,", ",1", "2147483648", "99999999999",
                                      "1 ", "a", "1-2-3", "**", "*,1", "0x1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(sy_blist_parts_ok(bad[i]));
    assert_false(sy_blist_parts_ok(NULL));
    char longest[SY_BLIST_PARTS_MAX + 1];
    memset(longest, '1', sizeof longest - 1); /* digits past the value's bound, and past a number's */
    longest[sizeof longest - 1] = '\0';
    assert_false(sy_blist_parts_ok(longest));

    const int32_t mine[] = {4, 8};
    assert_true(sy_blist_parts_meet("0-3,7-9", mine, 2));
    assert_true(sy_blist_parts_meet("4", mine, 2));
    assert_false(sy_blist_parts_meet("0-3,5-7,9", mine, 2));
    assert_true(sy_blist_parts_meet("0-2147483647", mine, 2));
    assert_true(sy_blist_parts_meet("*", mine, 2));
    assert_false(sy_blist_parts_meet("4-x", mine, 2)); /* malformed: none, even with a match before */
    assert_false(sy_blist_parts_meet("", mine, 2));
    assert_false(sy_blist_parts_meet("0-9", mine, 0));

    /* from a listing: a malformed list, or a topic not a string, is none */
    static const char page[] =
        "{\"data\":[{\"id\":\"batch_1\",\"metadata\":{\"switchyard_partitions\":\"3-1\",\"switchyard_topic\":7}},"
        "{\"id\":\"batch_2\",\"metadata\":{\"switchyard_partitions\":[1]}},"
        "{\"id\":\"batch_3\",\"metadata\":\"x\"}],\"has_more\":false}";
    sy_blist_page p;
    decode_page(page, false, 3, &p);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(p.items[i].md_parts, "");
        assert_string_equal(p.items[i].md_topic, "");
    }
    sy_blist_page_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_anthropic), cmocka_unit_test(test_decode_openai),
        cmocka_unit_test(test_decode_hostile),   cmocka_unit_test(test_decode_bounded),
        cmocka_unit_test(test_decode_fuzz),      cmocka_unit_test(test_paging),
        cmocka_unit_test(test_candidates),       cmocka_unit_test(test_confirmation),
        cmocka_unit_test(test_pick),             cmocka_unit_test(test_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
