/* test_prompts.c -- the prompt registry (config/prompts.h): prompt files
 * loaded for a task's ref, their errors at file:line, the rollout's split
 * and stickiness, a job's pin, and the variables each version uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "pipeline_text.h"
#include "prompts.h"
#include "provider.h"
#include "util.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sy_test_write_file(path, text);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_prompts_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof p, "%s/prompts", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define HEAD                                                                                       \
    "version: 1\nproviders:\n  p: {kind: openai, base_url: 'http://127.0.0.1:1/v1', api_key_env: HOME}\n" \
    "models:\n  m: {provider: p, name: x, price_per_mtok: {input: 1, output: 1}}\n"                 \
    "tiers:\n  fast: {models: [m]}\n"

static int load(const char *task_prompt, sy_config *cfg, sy_diags *d)
{
    char text[1024], path[256];
    snprintf(text, sizeof text, HEAD "tasks:\n  t:\n    tier: fast\n    prompt: %s\n", task_prompt);
    put("p.yaml", text);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    const char *files[] = {path};
    return sy_config_load(cfg, sy_provider_kinds, files, 1, 0, d);
}

static bool has(const sy_diags *d, const char *file, int line, const char *what)
{
    char want[256];
    snprintf(want, sizeof want, "%s/%s", dir, file);
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].file && !strcmp(d->items[i].file, want) && d->items[i].line == line &&
            strstr(d->items[i].message, what))
            return true;
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  %s:%d: %s\n", d->items[i].file, d->items[i].line, d->items[i].message);
    return false;
}

static const char *SUMMARIZE = "versions:\n"
                               "  1:\n    system: Be brief.\n    user: 'Summarise {{text}}'\n"
                               "  2:\n    user: 'In one line: {{text}}'\n";

static void test_ref_loads_versions(void **state)
{
    (void)state;
    put("prompts/sum.yaml", SUMMARIZE);
    sy_config cfg;
    sy_diags d = {0};
    assert_int_equal(load("{ref: sum, version: 1, rollout: {2: 12.5%}}", &cfg, &d), 0);
    const sy_task *t = sy_config_task(&cfg, "t");
    assert_non_null(t->prompt);
    assert_string_equal(t->prompt_id, "sum");
    assert_int_equal(t->prompt_version, 1);
    assert_int_equal(t->rollout_version, 2);
    assert_int_equal(t->rollout_bp, 1250);
    assert_true(t->has_system && t->has_user);
    assert_string_equal(t->user.source, "Summarise {{text}}");
    assert_int_equal(cfg.nprompts, 1);
    assert_int_equal(t->prompt->nversions, 2);
    assert_false(sy_prompt_version_of(t->prompt, 2)->has_system);
    assert_null(sy_prompt_version_of(t->prompt, 3));
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

static void test_errors_at_file_line(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    put("prompts/sum.yaml", SUMMARIZE);
    /* the pipeline's side: line 11 is the prompt line */
    assert_int_equal(load("{ref: sum, version: 3}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "has no version 3"));
    sy_diags_free(&d), d = (sy_diags){0};
    assert_int_equal(load("{ref: sum, version: 1, rollout: {4: 10%}}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "has no version 4"));
    sy_diags_free(&d), d = (sy_diags){0};
    assert_int_equal(load("{ref: sum, version: 1, rollout: {2: 150%}}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "percentage above 0 and below 100"));
    sy_diags_free(&d), d = (sy_diags){0};
    assert_int_equal(load("{ref: nosuch, version: 1}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "no file"));
    sy_diags_free(&d), d = (sy_diags){0};
    assert_int_equal(load("{ref: ../p, version: 1}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "an id is"));
    sy_diags_free(&d), d = (sy_diags){0};
    assert_int_equal(load("{ref: sum, version: 1, user: hi}", &cfg, &d), -1);
    assert_true(has(&d, "p.yaml", 11, "not inline"));
    sy_diags_free(&d), d = (sy_diags){0};
    /* the prompt file's side */
    put("prompts/bad.yaml", "versions:\n  1:\n    user: 'ok {{text}}'\n  two:\n    user: x\n"
                            "  3:\n    system: 'no user'\n  4:\n    user: 'open {{text'\n  5: {user: a, tone: b}\n");
    assert_int_equal(load("{ref: bad, version: 1}", &cfg, &d), -1);
    assert_true(has(&d, "prompts/bad.yaml", 4, "whole number"));
    assert_true(has(&d, "prompts/bad.yaml", 6, "missing required key 'user'"));
    assert_true(has(&d, "prompts/bad.yaml", 9, "bad template in user"));
    assert_true(has(&d, "prompts/bad.yaml", 10, "tone"));
    sy_diags_free(&d);
}

/* The split is within tolerance of the share, the same key always gets
 * the same version, and the draw is not the model arms' (a key's version
 * does not follow its low bits). */
static void test_rollout_split_and_sticky(void **state)
{
    (void)state;
    int n = 20000, got = 0;
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "job-%d", i);
        int v = sy_prompt_pick(1, 2, 1000, key);
        assert_true(v == 1 || v == 2);
        got += v == 2;
        assert_int_equal(sy_prompt_pick(1, 2, 1000, key), v);
    }
    /* 10% of 20000 = 2000, sd ~42: 5 sd */
    assert_in_range(got, 1790, 2210);
    assert_int_equal(sy_prompt_pick(1, 2, 0, "k"), 1);
    assert_int_equal(sy_prompt_pick(1, 0, 5000, "k"), 1);
    int all = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        all += sy_prompt_pick(1, 2, 9999, key) == 2;
    }
    assert_true(all >= 97);
}

static void test_pin(void **state)
{
    (void)state;
    put("prompts/sum.yaml", SUMMARIZE);
    sy_config cfg;
    sy_diags d = {0};
    assert_int_equal(load("{ref: sum, version: 1, rollout: {2: 50%}}", &cfg, &d), 0);
    const sy_task *t = sy_config_task(&cfg, "t");
    sy_kv meta = {.key = "prompt_version", .value = "1"};
    sy_job job = {.id = "j", .idempotency_key = "k", .metadata = &meta, .nmetadata = 1};
    char err[200];
    for (int i = 0; i < 2; i++) {
        meta.value = i ? "2" : "1";
        assert_int_equal(sy_prompt_for_job(t->prompt, 1, 2, 5000, &job, err, sizeof err), i + 1);
    }
    const char *bad[] = {"3", "x", "", "1e0", "-1", "99999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        meta.value = (char *)bad[i];
        assert_int_equal(sy_prompt_for_job(t->prompt, 1, 2, 5000, &job, err, sizeof err), -1);
        assert_non_null(strstr(err, "is not a version of prompt 'sum'"));
    }
    sy_config_free(&cfg);
    sy_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ref_loads_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_at_file_line, setup, teardown),
        cmocka_unit_test(test_rollout_split_and_sticky),
        cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
