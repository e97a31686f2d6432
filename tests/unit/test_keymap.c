/* test_keymap.c -- the key map against a plain array model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "keymap.h"

static void test_against_model(void **state)
{
    (void)state;
    enum { N = 5000 };
    static int present[N];
    sy_keymap m;
    sy_keymap_init(&m);
    char key[32];
    srand(7);
    for (int step = 0; step < 50000; step++) {
        int k = rand() % N;
        snprintf(key, sizeof key, "job-%d", k);
        switch (rand() % 3) {
        case 0:
            sy_keymap_put(&m, key, (void *)(intptr_t)(k + 1));
            present[k] = 1;
            break;
        case 1:
            assert_ptr_equal(sy_keymap_del(&m, key), present[k] ? (void *)(intptr_t)(k + 1) : NULL);
            present[k] = 0;
            break;
        default:
            assert_ptr_equal(sy_keymap_get(&m, key), present[k] ? (void *)(intptr_t)(k + 1) : NULL);
        }
    }
    size_t count = 0;
    for (int k = 0; k < N; k++) count += (size_t)present[k];
    assert_int_equal(m.count, count);
    /* a walk sees exactly the keys present, no deleted slot */
    size_t walked = 0;
    for (size_t i = 0; i < m.cap; i++) {
        const char *at = sy_keymap_key_at(&m, i);
        if (!at) continue;
        int k = -1;
        assert_int_equal(sscanf(at, "job-%d", &k), 1);
        assert_true(k >= 0 && k < N && present[k]);
        walked++;
    }
    assert_int_equal(walked, count);
    sy_keymap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_model)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
