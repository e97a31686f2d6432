/* test_store.c -- the LMDB job store: records survive a reopen only when
 * committed, unfinished records are listed, outputs are noted, expired keys
 * are purged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sy-store-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static sy_store *open_store(void)
{
    char err[256];
    sy_store *s = sy_store_open(dir, 64, err, sizeof err);
    if (!s) fail_msg("open: %s", err);
    return s;
}

static sy_job_record published(const char *result, int64_t expires_ms)
{
    return (sy_job_record){.state = SY_STATE_PUBLISHED, .attempts = 2, .src_topic = "tier.a",
                           .src_partition = 3, .src_offset = 42, .out_topic = "results.x",
                           .out_partition = 1, .out_offset = 7, .result = result,
                           .result_len = strlen(result), .expires_ms = expires_ms};
}

static void test_roundtrip_and_durability(void **state)
{
    (void)state;
    sy_store *s = open_store();
    sy_job_record r = published("\x81\xa2ok\xc3", 0), got;
    sy_buf storage;
    sy_buf_init(&storage);
    sy_store_put(s, "key-1", &r);
    assert_int_equal(sy_store_get(s, "key-1", &got, &storage), 1); /* staged: visible */
    sy_job_record inflight = {.state = SY_STATE_IN_FLIGHT, .attempts = 1, .model = "m1",
                              .src_topic = "tier.a", .src_partition = 0, .src_offset = 1};
    sy_store_put(s, "key-2", &inflight);
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_put(s, "key-3", &inflight); /* never committed */
    sy_store_close(s); /* close commits what is staged */

    s = open_store();
    assert_int_equal(sy_store_get(s, "key-1", &got, &storage), 1);
    assert_int_equal(got.state, SY_STATE_PUBLISHED);
    assert_int_equal(got.attempts, 2);
    assert_string_equal(got.src_topic, "tier.a");
    assert_int_equal(got.src_partition, 3);
    assert_int_equal(got.src_offset, 42);
    assert_string_equal(got.out_topic, "results.x");
    assert_int_equal(got.out_offset, 7);
    assert_int_equal(got.result_len, 5);
    assert_memory_equal(got.result, "\x81\xa2ok\xc3", 5);
    assert_int_equal(sy_store_get(s, "key-2", &got, &storage), 1);
    assert_int_equal(got.state, SY_STATE_IN_FLIGHT);
    assert_string_equal(got.model, "m1");
    assert_int_equal(sy_store_get(s, "missing", &got, &storage), 0);
    sy_store_close(s);
    sy_buf_free(&storage);
}

static void count_cb(void *ctx, const char *key, const sy_job_record *rec)
{
    (void)rec;
    check_expected(key);
    (*(int *)ctx)++;
}

static void test_unfinished_listing(void **state)
{
    (void)state;
    sy_store *s = open_store();
    sy_job_record a = {.state = SY_STATE_IN_FLIGHT, .src_topic = "t"};
    sy_job_record b = {.state = SY_STATE_PUBLISHING, .src_topic = "t", .result = "r", .result_len = 1};
    sy_job_record c = published("r", 0);
    sy_store_put(s, "u-a", &a);
    sy_store_put(s, "u-b", &b);
    sy_store_put(s, "u-c", &c);
    sy_store_put(s, "u-d", &a);
    sy_store_put(s, "u-d", &c); /* finished later: no longer listed */
    sy_store_commit(s);
    int n = 0;
    expect_string(count_cb, key, "u-a");
    expect_string(count_cb, key, "u-b");
    assert_int_equal(sy_store_each_unfinished(s, count_cb, &n), 2);
    assert_int_equal(n, 2);
    sy_store_close(s);
}

static void test_output_noted_is_monotonic(void **state)
{
    (void)state;
    sy_store *s = open_store();
    assert_int_equal(sy_store_output_noted(s, "out", 2), -1);
    sy_store_note_output(s, "out", 2, 10);
    sy_store_note_output(s, "out", 2, 5);
    sy_store_note_output(s, "out", 3, 1);
    sy_store_commit(s);
    assert_int_equal(sy_store_output_noted(s, "out", 2), 10);
    assert_int_equal(sy_store_output_noted(s, "out", 3), 1);
    sy_store_close(s);
    s = open_store(); /* what was noted is in the store, not only in memory */
    assert_int_equal(sy_store_output_noted(s, "out", 2), 10);
    assert_int_equal(sy_store_output_noted(s, "out", 3), 1);
    assert_int_equal(sy_store_output_noted(s, "out", 4), -1);
    /* noted many times between commits: the last one is what the commit
     * writes (once per partition), with no other write in the transaction;
     * one noted after it goes with the close */
    for (int64_t o = 11; o <= 30; o++) sy_store_note_output(s, "out", 2, o);
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_note_output(s, "out", 3, 7);
    sy_store_close(s);
    s = open_store();
    assert_int_equal(sy_store_output_noted(s, "out", 2), 30);
    assert_int_equal(sy_store_output_noted(s, "out", 3), 7);
    sy_store_close(s);
}

static void test_purge_expired(void **state)
{
    (void)state;
    sy_store *s = open_store();
    size_t before = sy_store_count(s);
    char key[32];
    for (int i = 0; i < 100; i++) {
        sy_job_record r = published("x", i < 60 ? 1000 : 5000);
        snprintf(key, sizeof key, "p-%03d", i);
        sy_store_put(s, key, &r);
    }
    sy_job_record open_one = {.state = SY_STATE_IN_FLIGHT, .expires_ms = 1};
    sy_store_put(s, "p-open", &open_one);
    sy_store_commit(s);
    size_t purged = 0;
    for (int round = 0; round < 20; round++) purged += sy_store_purge(s, 2000, 10);
    sy_store_commit(s);
    assert_int_equal(purged, 60);
    assert_int_equal(sy_store_count(s), before + 41);
    sy_buf storage;
    sy_buf_init(&storage);
    sy_job_record got;
    assert_int_equal(sy_store_get(s, "p-059", &got, &storage), 0);
    assert_int_equal(sy_store_get(s, "p-060", &got, &storage), 1);
    assert_int_equal(sy_store_get(s, "p-open", &got, &storage), 1); /* unfinished: kept */
    sy_buf_free(&storage);
    sy_store_close(s);
}

/* A key's newest record is the one read back, before and after a reopen,
 * wherever the store keeps it. */
static void test_newest_record_wins(void **state)
{
    (void)state;
    sy_store *s = open_store();
    sy_job_record done = published("old", 0), again = {.state = SY_STATE_IN_FLIGHT, .attempts = 5, .src_topic = "t"};
    sy_store_put(s, "k", &done);
    sy_store_commit(s);
    sy_store_put(s, "k", &again); /* the key runs again */
    sy_store_commit(s);
    sy_store_close(s);
    s = open_store();
    sy_buf storage;
    sy_buf_init(&storage);
    sy_job_record got;
    assert_int_equal(sy_store_get(s, "k", &got, &storage), 1);
    assert_int_equal(got.state, SY_STATE_IN_FLIGHT);
    assert_int_equal(got.attempts, 5);
    assert_int_equal(sy_store_count(s), 1);
    int n = 0;
    expect_string(count_cb, key, "k");
    assert_int_equal(sy_store_each_unfinished(s, count_cb, &n), 1);
    sy_job_record fresh = published("new", 0);
    sy_store_put(s, "k", &fresh);
    sy_store_put(s, "k2", &again); /* a key started after the reopen */
    sy_store_commit(s);
    sy_store_close(s);
    s = open_store();
    assert_int_equal(sy_store_get(s, "k", &got, &storage), 1);
    assert_int_equal(got.state, SY_STATE_PUBLISHED);
    assert_memory_equal(got.result, "new", 3);
    expect_string(count_cb, key, "k2");
    assert_int_equal(sy_store_each_unfinished(s, count_cb, &n), 1);
    assert_int_equal(sy_store_count(s), 2);
    sy_buf_free(&storage);
    sy_store_close(s);
}

/* Store keys are task-scoped; a bare key of an older store is read and
 * removed like any other. */
static void test_task_scoped_keys(void **state)
{
    (void)state;
    sy_buf k;
    sy_buf_init(&k);
    size_t task_len;
    const char *a = sy_store_key(&k, "classify", "t-1");
    assert_int_equal(strlen(a), strlen("classify") + 1 + strlen("t-1"));
    assert_string_equal(sy_store_key_split(a, &task_len), "t-1");
    assert_int_equal(task_len, strlen("classify"));
    assert_string_equal(sy_store_key_split("t-1", &task_len), "t-1");
    assert_int_equal(task_len, 0);
    char long_task[1001], key256[257], other[512];
    memset(long_task, 't', 1000);
    long_task[1000] = '\0';
    memset(key256, 'k', 256);
    key256[256] = '\0';
    snprintf(other, sizeof other, "%s", sy_store_key(&k, long_task, key256));
    long_task[999] = 'u'; /* the same start: another task all the same */
    assert_true(strlen(sy_store_key(&k, long_task, key256)) <= 511);
    assert_string_not_equal(other, sy_buf_cstr(&k));
    assert_string_equal(sy_store_key_split(sy_buf_cstr(&k), &task_len), key256);
    sy_store *s = open_store();
    sy_job_record r = published("\x81\xa2ok\xc3", 0), got;
    sy_buf storage;
    sy_buf_init(&storage);
    sy_store_put(s, sy_store_key(&k, "classify", "t-1"), &r);
    assert_int_equal(sy_store_get(s, sy_store_key(&k, "summarize", "t-1"), &got, &storage), 0);
    assert_int_equal(sy_store_get(s, "t-1", &got, &storage), 0);
    r.state = SY_STATE_IN_FLIGHT; /* an older store's bare keys, one unfinished */
    sy_store_put(s, "old-1", &r);
    r.state = SY_STATE_PUBLISHED;
    sy_store_put(s, "old-2", &r);
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_del(s, "old-1");
    sy_store_del(s, "old-2");
    sy_store_del(s, "never-there");
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_close(s);
    s = open_store();
    assert_int_equal(sy_store_get(s, "old-1", &got, &storage), 0);
    assert_int_equal(sy_store_get(s, "old-2", &got, &storage), 0);
    assert_int_equal(sy_store_get(s, sy_store_key(&k, "classify", "t-1"), &got, &storage), 1);
    assert_int_equal(sy_store_count(s), 1);
    sy_store_close(s);
    sy_buf_free(&storage);
    sy_buf_free(&k);
}

/* A 1 MB map and records of up to an eighth of it: the map fills within a
 * turn (LMDB ends that transaction) and across turns; the store grows it,
 * keeps every staged write of the turn, and opens again afterwards, even
 * asked for 1 MB again. A record over an eighth is refused, not staged. */
static void test_full_map_grows(void **state)
{
    (void)state;
    char err[256];
    sy_store *s = sy_store_open(dir, 1, err, sizeof err);
    assert_non_null(s);
    enum { BIG = 120 * 1024 };
    char *big = malloc(BIG + 1);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    sy_job_record small = published("\x81\xa2ok\xc3", 0), got;
    sy_buf storage, k;
    sy_buf_init(&storage);
    sy_buf_init(&k);
    assert_int_equal(sy_store_put(s, "first-of-turn", &small), 0);
    for (int turn = 0; turn < 3; turn++) {
        for (int i = 0; i < 12; i++) { /* 1.4 MB a turn */
            sy_buf_reset(&k);
            sy_buf_printf(&k, "big-%d-%d", turn, i);
            sy_job_record r = published(big, 0);
            r.state = i % 2 ? SY_STATE_PUBLISHING : SY_STATE_PUBLISHED;
            assert_int_equal(sy_store_put(s, sy_buf_cstr(&k), &r), 0);
        }
        assert_int_equal(sy_store_commit(s), 0);
    }
    char *huge = malloc(200 * 1024 + 1);
    memset(huge, 'y', 200 * 1024);
    huge[200 * 1024] = '\0';
    assert_int_equal(sy_store_put(s, "huge", &(sy_job_record){.state = SY_STATE_PUBLISHED, .result = huge,
                                                              .result_len = 200 * 1024}), -1);
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_close(s);
    s = sy_store_open(dir, 1, err, sizeof err); /* the data is larger than the map asked */
    assert_non_null(s);
    assert_int_equal(sy_store_get(s, "first-of-turn", &got, &storage), 1);
    assert_int_equal(sy_store_get(s, "big-2-11", &got, &storage), 1);
    assert_int_equal(got.result_len, BIG);
    assert_int_equal(sy_store_get(s, "huge", &got, &storage), 0);
    assert_int_equal(sy_store_count(s), 1 + 36);
    for (int i = 0; i < 12; i++) { /* and it takes more */
        sy_buf_reset(&k);
        sy_buf_printf(&k, "after-%d", i);
        assert_int_equal(sy_store_put(s, sy_buf_cstr(&k), &(sy_job_record){.state = SY_STATE_PUBLISHED,
                                                                            .result = big, .result_len = BIG}), 0);
    }
    assert_int_equal(sy_store_commit(s), 0);
    assert_int_equal(sy_store_count(s), 1 + 36 + 12);
    sy_store_close(s);
    free(big);
    free(huge);
    sy_buf_free(&storage);
    sy_buf_free(&k);
}

/* A clean stop marks an intent whose call never left; the mark survives
 * encoding and the store, and a record without it (every older record: the
 * byte was padding, always 0) reads as "a call may have been out". */
static void test_no_call_out_mark(void **state)
{
    (void)state;
    sy_job_record waiting = {.state = SY_STATE_IN_FLIGHT, .attempts = 3, .model = "m",
                             .src_topic = "t", .no_call_out = true};
    sy_job_record out = waiting, got;
    out.no_call_out = false;
    sy_buf enc, storage;
    sy_buf_init(&enc);
    sy_buf_init(&storage);
    sy_record_encode(&enc, &waiting);
    assert_int_equal(sy_record_decode(enc.data, enc.len, &got), 0);
    assert_true(got.no_call_out);
    assert_int_equal(got.attempts, 3);
    sy_record_encode(&enc, &out);
    assert_int_equal(enc.data[3], 0); /* the layout older versions wrote */
    assert_int_equal(sy_record_decode(enc.data, enc.len, &got), 0);
    assert_false(got.no_call_out);

    sy_store *s = open_store();
    sy_store_put(s, "k-wait", &waiting);
    sy_store_put(s, "k-out", &out);
    sy_store_close(s);
    s = open_store();
    assert_int_equal(sy_store_get(s, "k-wait", &got, &storage), 1);
    assert_true(got.no_call_out);
    assert_int_equal(sy_store_get(s, "k-out", &got, &storage), 1);
    assert_false(got.no_call_out);
    sy_store_close(s);
    sy_buf_free(&enc);
    sy_buf_free(&storage);
}

/* A write LMDB refuses (here a key over its 511-byte limit) no longer
 * aborts the process: the store fails, the commit returns -1 (the worker
 * then stops with a fatal error, werr.h), and what was committed before
 * is still read. */
static void test_failed_write_is_returned(void **state)
{
    (void)state;
    sy_store *s = open_store();
    sy_job_record r = published("r", 0), got;
    sy_buf storage;
    sy_buf_init(&storage);
    sy_store_put(s, "kept", &r);
    assert_int_equal(sy_store_commit(s), 0);
    char key[600];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    sy_store_put(s, "lost", &r);
    sy_store_put(s, key, &r);
    sy_store_put(s, "after", &r); /* not staged: the store failed */
    assert_int_equal(sy_store_commit(s), -1);
    assert_int_equal(sy_store_get(s, "kept", &got, &storage), 1);
    assert_int_equal(sy_store_get(s, "lost", &got, &storage), 0);
    assert_int_equal(sy_store_get(s, "after", &got, &storage), 0);
    assert_int_equal(sy_store_commit(s), -1); /* it stays failed */
    sy_buf_free(&storage);
    sy_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_and_durability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unfinished_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_noted_is_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newest_record_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_scoped_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_map_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_call_out_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_is_returned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
