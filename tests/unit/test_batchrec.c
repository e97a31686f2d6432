/* test_batchrec.c -- worker/batchrec.[ch] and the store's batch records:
 * a batch's record survives encode/decode and a store reopen, and bytes
 * that are not a record (cut, lengths past the end, bad ids, extra bytes,
 * a count larger than the bytes) are refused whole, never read past; a
 * partition's record splits into parts that each decode on their own, and
 * part keys (missing, repeated, counts out of range) are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchrec.h"
#include "store.h"

static const char *const ids[] = {"c-1", "c-2", "a key with spaces \xc3\xa9"};

static sy_batchrec sample(void)
{
    return (sy_batchrec){.kind = SY_BR_OPENAI, .status = SY_BR_CREATED, .recorded_ms = 1764650000123,
                         .tier = "bulk-tier", .model = "mini", .file_id = "file-abc_1",
                         .batch_id = "batch_42", .n = 3, .ids = ids};
}

static void test_roundtrip(void **state)
{
    (void)state;
    sy_batchrec r = sample();
    sy_buf b;
    sy_buf_init(&b);
    sy_batchrec_encode(&b, &r);
    sy_batchrec_view v;
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_int_equal(v.rec.kind, SY_BR_OPENAI);
    assert_int_equal(v.rec.status, SY_BR_CREATED);
    assert_true(v.rec.recorded_ms == 1764650000123);
    assert_string_equal(v.rec.tier, "bulk-tier");
    assert_string_equal(v.rec.model, "mini");
    assert_string_equal(v.rec.file_id, "file-abc_1");
    assert_string_equal(v.rec.batch_id, "batch_42");
    assert_int_equal(v.rec.n, 3);
    for (size_t i = 0; i < 3; i++) assert_string_equal(v.rec.ids[i], ids[i]);
    assert_null(v.rec.jobs[0].present ? "present" : NULL); /* none kept */
    sy_batchrec_view_free(&v);
    /* with the jobs' tier messages (one not kept) */
    const sy_batchrec_job jobs[] = {
        {.present = 1, .partition = 2, .offset = 41, .origin = "jobs/0/7", .key = "k1", .keylen = 2,
         .value = "\x81\xa1x\x00\x01", .len = 5},
        {0},
        {.present = 1, .partition = 0, .offset = 0, .origin = "", .key = "", .keylen = 0, .value = "v", .len = 1},
    };
    r.jobs = jobs;
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_true(v.rec.jobs[0].present && !v.rec.jobs[1].present && v.rec.jobs[2].present);
    assert_int_equal(v.rec.jobs[0].partition, 2);
    assert_true(v.rec.jobs[0].offset == 41);
    assert_string_equal(v.rec.jobs[0].origin, "jobs/0/7");
    assert_int_equal(v.rec.jobs[0].len, 5);
    assert_memory_equal(v.rec.jobs[0].value, "\x81\xa1x\x00\x01", 5);
    assert_memory_equal(v.rec.jobs[0].key, "k1", 2);
    assert_int_equal(v.rec.jobs[2].keylen, 0);
    assert_string_equal(v.rec.jobs[2].origin, "");
    sy_batchrec_view_free(&v);
    /* cut anywhere in the messages: refused */
    for (size_t n = b.len - 12; n < b.len; n++) assert_int_equal(sy_batchrec_decode(b.data, n, &v), -1);
    r.jobs = NULL;
    /* Anthropic's, before its create: no file, no batch id */
    r.kind = SY_BR_ANTHROPIC;
    r.status = SY_BR_UPLOADED;
    r.file_id = "";
    r.batch_id = "";
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_string_equal(v.rec.batch_id, "");
    assert_int_equal(v.rec.total, 3); /* none given: n */
    sy_batchrec_view_free(&v);
    /* a partition's share of an intent of 40 jobs */
    r.total = 40;
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_int_equal(v.rec.n, 3);
    assert_int_equal(v.rec.total, 40);
    sy_batchrec_view_free(&v);
    /* version 1 (no total field): total = n */
    sy_buf v1;
    sy_buf_init(&v1);
    sy_buf_append(&v1, b.data, 16);
    sy_buf_append(&v1, b.data + 20, b.len - 20);
    v1.data[0] = 1;
    assert_int_equal(sy_batchrec_decode(v1.data, v1.len, &v), 0);
    assert_int_equal(v.rec.total, 3);
    sy_batchrec_view_free(&v);
    sy_buf_free(&v1);
    /* a total below n, or above the bound: refused */
    const uint32_t bad_totals[] = {2, SY_BATCHREC_JOBS_MAX + 1, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        for (int k = 0; k < 4; k++) b.data[16 + k] = (char)(bad_totals[i] >> (8 * k));
        assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), -1);
    }
    sy_buf_free(&b);
}

static int decode(const sy_buf *b)
{
    sy_batchrec_view v;
    int rc = sy_batchrec_decode(b->data, b->len, &v);
    if (rc == 0) sy_batchrec_view_free(&v);
    return rc;
}

static void test_hostile(void **state)
{
    (void)state;
    sy_batchrec r = sample();
    sy_buf good, b;
    sy_buf_init(&good);
    sy_buf_init(&b);
    sy_batchrec_encode(&good, &r);
    /* every cut is refused, none is read past (ASan) */
    for (size_t n = 0; n < good.len; n++) {
        sy_buf_reset(&b);
        sy_buf_append(&b, good.data, n);
        assert_int_equal(decode(&b), -1);
    }
    assert_int_equal(sy_batchrec_decode(NULL, 10, &(sy_batchrec_view){0}), -1);
    /* a byte more */
    sy_buf_reset(&b);
    sy_buf_append(&b, good.data, good.len);
    sy_buf_putc(&b, 'x');
    assert_int_equal(decode(&b), -1);
    /* every single byte flipped: decoded or refused, never read past */
    for (size_t i = 0; i < good.len; i++) {
        sy_buf_reset(&b);
        sy_buf_append(&b, good.data, good.len);
        b.data[i] ^= 0xff;
        decode(&b);
    }
    /* a count of jobs the bytes cannot hold */
    sy_buf_reset(&b);
    sy_buf_append(&b, good.data, good.len);
    b.data[12] = (char)0xff, b.data[13] = (char)0xff, b.data[14] = 0x01, b.data[15] = 0;
    assert_int_equal(decode(&b), -1);
    /* unknown version, kind, status */
    for (int at = 0; at < 3; at++) {
        sy_buf_reset(&b);
        sy_buf_append(&b, good.data, good.len);
        b.data[at] = 9;
        assert_int_equal(decode(&b), -1);
    }
    /* a provider id that is not an id, an empty tier, a created batch without id */
    const char *bad_ids[] = {"batch/../x", "batch 1", "b\n"};
    for (size_t i = 0; i < 3; i++) {
        r = sample();
        r.batch_id = bad_ids[i];
        sy_buf_reset(&b);
        sy_batchrec_encode(&b, &r);
        assert_int_equal(decode(&b), -1);
    }
    r = sample();
    r.tier = "";
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(decode(&b), -1);
    r = sample();
    r.batch_id = "";
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(decode(&b), -1);
    r = sample();
    r.file_id = ""; /* OpenAI's always has its input file */
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(decode(&b), -1);
    const char *const empty_id[] = {"c-1", ""};
    r = sample();
    r.ids = empty_id;
    r.n = 2;
    sy_buf_reset(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(decode(&b), -1);
    sy_buf_free(&good);
    sy_buf_free(&b);
}

static char dir[64];

static void count_rec(void *ctx, const char *key, const void *data, size_t len)
{
    sy_batchrec_view v;
    assert_string_equal(key, "bulk-tier\x1f" "1");
    assert_int_equal(sy_batchrec_decode(data, len, &v), 0);
    assert_string_equal(v.rec.batch_id, "batch_42");
    sy_batchrec_view_free(&v);
    (*(int *)ctx)++;
}

static void test_store(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sy-batchrec-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[256];
    sy_store *s = sy_store_open(dir, 64, err, sizeof err);
    assert_non_null(s);
    sy_batchrec r = sample();
    sy_buf b;
    sy_buf_init(&b);
    sy_batchrec_encode(&b, &r);
    assert_int_equal(sy_store_batch_put(s, "bulk-tier\x1f" "1", b.data, b.len), 0);
    assert_int_equal(sy_store_batch_put(s, "bulk-tier\x1f" "2", b.data, b.len), 0);
    sy_store_batch_del(s, "bulk-tier\x1f" "2");
    int n = 0;
    assert_int_equal(sy_store_each_batch(s, count_rec, &n), 1); /* staged ones count */
    assert_int_equal(sy_store_commit(s), 0);
    sy_store_close(s);
    s = sy_store_open(dir, 64, err, sizeof err); /* durable */
    assert_non_null(s);
    n = 0;
    assert_int_equal(sy_store_each_batch(s, count_rec, &n), 1);
    assert_int_equal(n, 1);
    sy_store_batch_del(s, "bulk-tier\x1f" "1");
    assert_int_equal(sy_store_commit(s), 0);
    assert_int_equal(sy_store_each_batch(s, count_rec, &n), 0);
    assert_int_equal(sy_store_count(s), 0); /* batch records are not job records */
    sy_store_close(s);
    sy_buf_free(&b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The record on the changelog: its keys (apart from every job key), its
 * partitions, and one record per partition with only that partition's
 * jobs, which a restore checks against the partition it read it from. */
static void test_changelog(void **state)
{
    (void)state;
    sy_buf base, key;
    sy_buf_init(&base);
    sy_buf_init(&key);
    sy_batchrec_log_base(&base, "bulk-tier\x1f" "00ab");
    assert_string_equal(sy_buf_cstr(&base), "\x1e" "batch|bulk-tier|00ab");
    sy_batchrec_log_key(&key, sy_buf_cstr(&base), 3);
    assert_string_equal(sy_buf_cstr(&key), "\x1e" "batch|bulk-tier|00ab|3");
    assert_true(sy_batchrec_is_log_key(key.data, key.len));
    /* a restored record's key (its changelog key) has the same base */
    sy_buf again;
    sy_buf_init(&again);
    sy_batchrec_log_base(&again, sy_buf_cstr(&key));
    assert_string_equal(sy_buf_cstr(&again), sy_buf_cstr(&base));
    sy_buf_free(&again);
    /* no job key is one: a task, the separator, an idempotency key */
    assert_false(sy_batchrec_is_log_key("batch\x1f" "k", 7));
    assert_false(sy_batchrec_is_log_key("batch|bulk-tier|00ab|3", 22));
    assert_false(sy_batchrec_is_log_key("\x1e" "batc", 5));

    static const char *const pids[] = {"p2-a", "p0-a", "p2-b", "gone", "p5-a"};
    const sy_batchrec_job jobs[] = {
        {.present = 1, .partition = 2, .offset = 10, .origin = "", .key = "", .value = "a", .len = 1},
        {.present = 1, .partition = 0, .offset = 4, .origin = "", .key = "", .value = "b", .len = 1},
        {.present = 1, .partition = 2, .offset = 11, .origin = "o", .key = "k", .keylen = 1, .value = "c", .len = 1},
        {0}, /* found at the provider, no message: in no partition's record */
        {.present = 1, .partition = 5, .offset = 0, .origin = "", .key = "", .value = "d", .len = 1},
    };
    sy_batchrec r = sample();
    r.n = 5;
    r.ids = pids;
    r.jobs = jobs;
    int32_t parts[8];
    assert_int_equal(sy_batchrec_partitions(&r, parts, 8), 3);
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 2);
    assert_int_equal(parts[2], 5);
    assert_int_equal(sy_batchrec_partitions(&r, parts, 2), 2); /* bounded: the lowest kept */
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 2);
    assert_false(sy_batchrec_of_partition(&r, 2)); /* the whole record is not partition 2's */

    sy_buf b;
    sy_buf_init(&b);
    assert_int_equal(sy_batchrec_encode_partition(&b, &r, 2), 2);
    sy_batchrec_view v;
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_int_equal(v.rec.n, 2);
    assert_int_equal(v.rec.total, r.n); /* the whole batch's count goes with each partition's share */
    assert_string_equal(v.rec.ids[0], "p2-a");
    assert_string_equal(v.rec.ids[1], "p2-b");
    assert_true(v.rec.jobs[1].offset == 11 && v.rec.jobs[1].keylen == 1 && !memcmp(v.rec.jobs[1].key, "k", 1));
    assert_string_equal(v.rec.batch_id, "batch_42");
    assert_true(sy_batchrec_of_partition(&v.rec, 2));
    assert_false(sy_batchrec_of_partition(&v.rec, 0)); /* read from another partition: refused */
    sy_batchrec_view_free(&v);
    sy_buf_reset(&b);
    assert_int_equal(sy_batchrec_encode_partition(&b, &r, 0), 1);
    assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
    assert_int_equal(v.rec.n, 1);
    assert_string_equal(v.rec.ids[0], "p0-a");
    assert_true(sy_batchrec_of_partition(&v.rec, 0));
    sy_batchrec_view_free(&v);
    sy_buf_free(&b);
    sy_buf_free(&base);
    sy_buf_free(&key);
}

/* A partition's record in parts: every job of the partition in exactly
 * one part, in order, each part a whole record within the bound (a job
 * larger alone has its own), other partitions' jobs in none. */
static void test_parts(void **state)
{
    (void)state;
    enum { N = 60 };
    static char idbuf[N][16], val[N][64];
    const char *pids[N];
    sy_batchrec_job jobs[N];
    for (int i = 0; i < N; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "j-%d", i);
        pids[i] = idbuf[i];
        size_t len = i == 7 ? 60 : (size_t)(10 + i % 5); /* one long job */
        memset(val[i], 'v', len);
        jobs[i] = (sy_batchrec_job){.present = i != 3, .partition = i % 3 == 2 ? 9 : 1, .offset = i,
                                    .origin = "", .key = "", .value = val[i], .len = (uint32_t)len};
    }
    sy_batchrec r = sample();
    r.n = N;
    r.ids = pids;
    r.jobs = jobs;
    size_t bound = 200;
    size_t nparts = sy_batchrec_count_parts(&r, 1, bound);
    assert_true(nparts > 3);
    assert_int_equal(sy_batchrec_count_parts(&r, 4, bound), 0); /* no job there */
    assert_int_equal(sy_batchrec_count_parts(&r, 1, 1u << 20), 1);
    sy_buf b;
    sy_buf_init(&b);
    size_t cursor = 0, parts = 0, next = 0, k;
    while (sy_buf_reset(&b), (k = sy_batchrec_encode_part(&b, &r, 1, bound, &cursor)) > 0) {
        parts++;
        assert_true(b.len <= bound || k == 1);
        sy_batchrec_view v;
        assert_int_equal(sy_batchrec_decode(b.data, b.len, &v), 0);
        assert_int_equal(v.rec.n, k);
        assert_true(sy_batchrec_of_partition(&v.rec, 1));
        for (size_t i = 0; i < v.rec.n; i++) { /* the partition's jobs, in order, none twice */
            while (next < N && !(jobs[next].present && jobs[next].partition == 1)) next++;
            assert_true(next < N);
            assert_string_equal(v.rec.ids[i], pids[next]);
            assert_int_equal(v.rec.jobs[i].len, jobs[next].len);
            next++;
        }
        sy_batchrec_view_free(&v);
    }
    assert_int_equal(parts, nparts);
    while (next < N && !(jobs[next].present && jobs[next].partition == 1)) next++;
    assert_int_equal(next, N); /* every one */
    sy_buf_free(&b);
}

static void test_part_keys(void **state)
{
    (void)state;
    sy_buf k;
    sy_buf_init(&k);
    int32_t p;
    uint32_t i, n;
    size_t bl;
    const char *base = "\x1e" "batch|t|00ab";
    sy_batchrec_log_part_key(&k, base, 3, 0, 1);
    assert_string_equal(sy_buf_cstr(&k), "\x1e" "batch|t|00ab|3"); /* one part: the key of before */
    assert_int_equal(sy_batchrec_log_key_parse(k.data, k.len, &p, &i, &n, &bl), 0);
    assert_true(p == 3 && i == 0 && n == 1 && bl == strlen(base));
    sy_batchrec_log_part_key(&k, base, 7, 4, 12);
    assert_string_equal(sy_buf_cstr(&k), "\x1e" "batch|t|00ab|7#4/12");
    assert_int_equal(sy_batchrec_log_key_parse(k.data, k.len, &p, &i, &n, &bl), 0);
    assert_true(p == 7 && i == 4 && n == 12 && bl == strlen(base));
    /* hostile keys: refused */
    static const char *const bad[] = {
        "\x1e" "batch|t|00ab|", "\x1e" "batch|t|00ab|-1", "\x1e" "batch|t|00ab|01", "\x1e" "batch|t|00ab|2147483648",
        "\x1e" "batch|t|00ab|3#", "\x1e" "batch|t|00ab|3#1", "\x1e" "batch|t|00ab|3#1/", "\x1e" "batch|t|00ab|3#2/2",
        "\x1e" "batch|t|00ab|3#0/1", "\x1e" "batch|t|00ab|3#0/4097", "\x1e" "batch|t|00ab|3#0/99999999999999999999",
        "\x1e" "batch|t|00ab|3#0/2x", "\x1e" "batch|t|00ab|3x", "\x1e" "batch|", "batch|t|00ab|3", "\x1e" "batch|3",
    };
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        assert_int_equal(sy_batchrec_log_key_parse(bad[b], strlen(bad[b]), &p, &i, &n, &bl), -1);
    /* read only within len: a key cut before its count */
    const char *cut = "\x1e" "batch|t|00ab|3#1/23";
    assert_int_equal(sy_batchrec_log_key_parse(cut, strlen(cut) - 2, &p, &i, &n, &bl), -1);

    /* complete: exactly 0..n-1 of one base, partition and count */
    const char *all[] = {"\x1e" "batch|t|b|3#2/3", "\x1e" "batch|t|b|3#0/3", "\x1e" "batch|t|b|3#1/3"};
    assert_true(sy_batchrec_parts_complete(all, 3));
    assert_false(sy_batchrec_parts_complete(all, 2)); /* missing */
    const char *one[] = {"\x1e" "batch|t|b|3"};
    assert_true(sy_batchrec_parts_complete(one, 1));
    const char *dup[] = {"\x1e" "batch|t|b|3#0/3", "\x1e" "batch|t|b|3#0/3", "\x1e" "batch|t|b|3#1/3"};
    assert_false(sy_batchrec_parts_complete(dup, 3));
    const char *counts[] = {"\x1e" "batch|t|b|3#0/2", "\x1e" "batch|t|b|3#1/3"};
    assert_false(sy_batchrec_parts_complete(counts, 2)); /* two counts */
    const char *over[] = {"\x1e" "batch|t|b|3#0/2", "\x1e" "batch|t|b|3#1/2", "\x1e" "batch|t|b|3#1/2"};
    assert_false(sy_batchrec_parts_complete(over, 3)); /* more keys than the count */
    const char *mixed[] = {"\x1e" "batch|t|b|3#0/2", "\x1e" "batch|t|b|4#1/2"};
    assert_false(sy_batchrec_parts_complete(mixed, 2)); /* two partitions */
    const char *bases[] = {"\x1e" "batch|t|b|3#0/2", "\x1e" "batch|t|c|3#1/2"};
    assert_false(sy_batchrec_parts_complete(bases, 2)); /* two batches */
    const char *junk[] = {"\x1e" "batch|t|b|3#0/2", "\x1e" "batch|t|b|3#1/2x"};
    assert_false(sy_batchrec_parts_complete(junk, 2));
    assert_false(sy_batchrec_parts_complete(NULL, 0));
    sy_buf_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_changelog),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_part_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
