/* test_wreload.c -- the worker's config generations (worker/reload.c):
 * a batch tier's hold on the generation its tier and model point into
 * (wreload_hold_tier / wreload_drop) keeps that generation, with the old
 * models and prices, alive across a reload until the batch lets go (and
 * then until the next hold, not inside the drop), while a generation
 * nobody holds is freed at the reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline.h"
#include "pipeline_text.h"
#include "providers/provider.h"
#include "reload.h"
#include "worker.h"

#define PIPE(price)                                                                                \
    "version: 1\nproviders:\n  p: {kind: openai, base_url: 'http://127.0.0.1:1/v1', api_key_env: HOME}\n" \
    "models:\n  m: {provider: p, name: x, price_per_mtok: {input: " price ", output: 1}}\n"         \
    "tiers:\n  bulk: {models: [m]}\n"                                                            \
    "tasks:\n  t: {tier: bulk, prompt: {id: a, version: 1, user: hi}}\n"

static char path[256];

static void put(const char *text)
{
    sy_test_write_file(path, text);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/sy-wreload-XXXXXX.yaml", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 5);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* The first config: the caller's, as the worker's is (reload.c copies
 * it and never frees it); freed by finish. */
static sy_config first_cfg;

/* A worker with just what reload.c reads: the pipeline files and the
 * first generation. */
static void start(worker *w, const char *const *files)
{
    memset(w, 0, sizeof *w);
    put(PIPE("1"));
    w->opt.pipeline_files = files;
    w->opt.npipeline_files = 1;
    sy_diags d = {0};
    assert_int_equal(sy_config_load(&first_cfg, sy_provider_kinds, files, 1, 0, &d), 0);
    wreload_init(w, &first_cfg);
}

static void finish(worker *w)
{
    wreload_free(w);
    sy_config_free(&first_cfg);
}

static void test_hold_keeps_the_old_generation(void **state)
{
    (void)state;
    const char *files[] = {path};
    worker w;
    start(&w, files);
    const sy_tier *tier = w.cfg->tiers[0];
    const sy_model *model = tier->models[0].model;
    sy_cfg_gen *first = w.gen;

    sy_cfg_gen *held = wreload_hold_tier(&w, tier); /* a batch of tier 'bulk' under the first config */
    assert_ptr_equal(held, first);

    put(PIPE("7")); /* the model's price changes */
    assert_int_equal(wreload_now(&w, "test"), 0);
    assert_ptr_not_equal(w.gen, first);
    assert_true(w.cfg->tiers[0]->models[0].model->price_in_per_mtok == 7.0);
    /* the batch's generation is retired, not freed: its tier and model
     * still read, at the old price (ASan would see a use after free here) */
    assert_ptr_equal(w.retired, first);
    assert_string_equal(tier->name, "bulk");
    assert_true(model->price_in_per_mtok == 1.0);

    /* a second reload frees the second generation (nobody holds it) and
     * keeps the held one */
    put(PIPE("9"));
    assert_int_equal(wreload_now(&w, "test"), 0);
    assert_ptr_equal(w.retired, first);
    assert_null(first->next);

    wreload_drop(&w, held); /* the batch is done: its generation goes ... */
    assert_string_equal(tier->name, "bulk"); /* ... not under the dropper's feet (batch_free reads on) */
    sy_cfg_gen *now = wreload_hold_tier(&w, w.cfg->tiers[0]); /* ... but at the next hold */
    assert_null(w.retired);
    wreload_drop(&w, now);
    finish(&w);
}

static void test_hold_of_the_current_generation(void **state)
{
    (void)state;
    const char *files[] = {path};
    worker w;
    start(&w, files);
    sy_cfg_gen *g = wreload_hold_tier(&w, w.cfg->tiers[0]);
    assert_ptr_equal(g, w.gen);
    wreload_drop(&w, g); /* the current one stays, held or not */
    assert_non_null(w.gen);
    assert_ptr_equal(w.cfg, &g->cfg);
    assert_null(w.retired);

    /* two holders: the generation goes with the last */
    sy_cfg_gen *a = wreload_hold_tier(&w, w.cfg->tiers[0]);
    sy_cfg_gen *b = wreload_hold_tier(&w, w.cfg->tiers[0]);
    put(PIPE("3"));
    assert_int_equal(wreload_now(&w, "test"), 0);
    assert_ptr_equal(w.retired, a);
    wreload_drop(&w, a);
    assert_null(wreload_hold_tier(&w, &(sy_tier){0})); /* a sweep: b still holds it */
    assert_ptr_equal(w.retired, b);
    wreload_drop(&w, b);
    assert_null(wreload_hold_tier(&w, &(sy_tier){0})); /* a sweep: no one holds it */
    assert_null(w.retired);

    /* a tier of no generation: nothing held, and dropping nothing is fine */
    sy_tier stranger;
    memset(&stranger, 0, sizeof stranger);
    assert_null(wreload_hold_tier(&w, &stranger));
    wreload_drop(&w, NULL);
    finish(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_keeps_the_old_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_of_the_current_generation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
