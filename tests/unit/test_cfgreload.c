/* test_cfgreload.c -- reloading pipelines (config/cfgreload.h): a new
 * config aligned with the running one (same names, same places), the
 * changes that need a restart refused with what changed, a rejected reload
 * naming file:line, and the file watch seeing an in-place write and an
 * atomic rename, and prompt files (and nothing for other files). */
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

#include "cfgreload.h"
#include "health.h"
#include "pipeline.h"
#include "pipeline_text.h"
#include "provider.h"
#include "util.h"

#define PROVIDERS                                                                                 \
    "version: 1\nproviders:\n  p: {kind: openai, base_url: 'http://127.0.0.1:1/v1', api_key_env: HOME}\n" \
    "  q: {kind: openai, base_url: 'http://127.0.0.1:2/v1', api_key_env: HOME}\n"                  \
    "models:\n  m: {provider: p, name: x, price_per_mtok: {input: 1, output: 1}}\n"                \
    "  n: {provider: q, name: y, price_per_mtok: {input: 1, output: 1}}\n"

static const char *OLD = PROVIDERS
    "tiers:\n  fast: {models: [m]}\n  cheap: {models: [m]}\n"
    "tasks:\n  a: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n"
    "  b: {tier: cheap, prompt: {id: b, version: 1, user: hi}}\n";

static bool has(const sy_diags *d, const char *what)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->items[i].message, what)) return true;
    return false;
}

/* The new file lists tiers, tasks and providers in another order and gives
 * a tier another model: aligned to the old order, indexes set. */
static void test_align_reorders(void **state)
{
    (void)state;
    sy_config old, neu;
    sy_diags d = {0};
    assert_int_equal(sy_test_load_text(OLD, &old, &d), 0);
    assert_int_equal(sy_test_load_text("version: 1\nproviders:\n"
                          "  q: {kind: openai, base_url: 'http://127.0.0.1:2/v1', api_key_env: HOME}\n"
                          "  p: {kind: openai, base_url: 'http://127.0.0.1:1/v1', api_key_env: HOME}\n"
                          "models:\n  m: {provider: p, name: x, price_per_mtok: {input: 1, output: 1}}\n"
                          "  n: {provider: q, name: y, price_per_mtok: {input: 1, output: 1}}\n"
                          "tiers:\n  cheap: {models: [m]}\n  fast: {models: [n]}\n"
                          "tasks:\n  b: {tier: fast, prompt: {id: b, version: 2, user: hi}}\n"
                          "  a: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n",
                          &neu, &d), 0);
    assert_string_equal(neu.tiers[0]->name, "cheap"); /* as loaded */
    assert_int_equal(sy_config_align(&old, &neu, &d), 0);
    assert_int_equal(d.n, 0);
    for (size_t i = 0; i < old.nproviders; i++) {
        assert_string_equal(neu.providers[i]->name, old.providers[i]->name);
        assert_int_equal(neu.providers[i]->index, i);
    }
    for (size_t i = 0; i < old.ntiers; i++) {
        assert_string_equal(neu.tiers[i]->name, old.tiers[i]->name);
        assert_int_equal(neu.tiers[i]->index, i);
    }
    for (size_t i = 0; i < old.ntasks; i++) {
        assert_string_equal(neu.tasks[i]->name, old.tasks[i]->name);
        assert_int_equal(neu.tasks[i]->index, i);
    }
    /* what changed did change, and lookups still work */
    assert_string_equal(sy_config_tier(&neu, "fast")->models[0].model->alias, "n");
    assert_string_equal(sy_config_task(&neu, "b")->tier->name, "fast");
    assert_int_equal(sy_config_task(&neu, "b")->prompt_version, 2);
    assert_ptr_equal(neu.models[0]->provider, neu.providers[neu.models[0]->provider->index]);
    sy_config_free(&neu);
    sy_config_free(&old);
    sy_diags_free(&d);
}

static void test_align_refuses_new_names(void **state)
{
    (void)state;
    sy_config old, neu;
    sy_diags d = {0};
    assert_int_equal(sy_test_load_text(OLD, &old, &d), 0);
    assert_int_equal(sy_test_load_text(PROVIDERS "tiers:\n  fast: {models: [m]}\n  slow: {models: [m]}\n"
                                    "tasks:\n  a: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n"
                                    "  c: {tier: slow, prompt: {id: b, version: 1, user: hi}}\n",
                      &neu, &d), 0);
    assert_int_equal(sy_config_align(&old, &neu, &d), -1);
    assert_true(has(&d, "tier 'slow' added"));
    assert_true(has(&d, "tier 'cheap' removed"));
    assert_true(has(&d, "task 'c' added"));
    assert_true(has(&d, "task 'b' removed"));
    assert_false(has(&d, "provider"));
    sy_config_free(&neu);
    sy_diags_free(&d);
    d = (sy_diags){0};
    assert_int_equal(sy_test_load_text(PROVIDERS "tiers:\n  fast: {models: [m], topic: other.fast}\n  cheap: {models: [m]}\n"
                                    "tasks:\n  a: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n"
                                    "  b: {tier: cheap, prompt: {id: b, version: 1, user: hi}}\n",
                      &neu, &d), 0);
    assert_int_equal(sy_config_align(&old, &neu, &d), -1);
    assert_true(has(&d, "its topic changed"));
    sy_config_free(&neu);
    sy_config_free(&old);
    sy_diags_free(&d);
}

/* The breakers carry over by model alias (worker/health.h sy_health_carry):
 * a model the tier keeps keeps its state under the new policy, without the
 * old runs' probes; a model new to the tier starts closed. */
static void test_breakers_carry_by_alias(void **state)
{
    (void)state;
    sy_model a = {.alias = "a"}, b = {.alias = "b"}, c = {.alias = "c"};
    sy_tier_model om[] = {{&a, 1}, {&b, 1}}, nm[] = {{&c, 1}, {&a, 1}};
    sy_tier ot = {.name = "t", .models = om, .nmodels = 2}, nt = {.name = "t", .models = nm, .nmodels = 2};
    ot.breaker = (sy_breaker_policy){.consecutive = 2, .ratio = 0.5, .min_calls = 20, .window_ms = 10000,
                                     .cooldown_ms = 60000, .probes = 3};
    nt.breaker = ot.breaker;
    nt.breaker.cooldown_ms = 1000;
    sy_health from[2], to[2];
    for (int i = 0; i < 2; i++) sy_health_init(&from[i], &ot.breaker), sy_health_init(&to[i], &nt.breaker);
    int64_t now = 1000000;
    sy_health_record(&from[0], SY_ERR_SERVER, 10, 0, now);
    assert_true(sy_health_record(&from[0], SY_ERR_SERVER, 10, 0, now)); /* a's breaker opens */
    from[0].probes_out = 2;
    assert_false(sy_health_usable(&from[0], now + 1));
    sy_health_carry(to, &nt, from, &ot);
    assert_int_equal(to[1].state, SY_BREAKER_OPEN);     /* a: still open */
    assert_ptr_equal(to[1].policy, &nt.breaker);        /* under the new policy */
    assert_int_equal(to[1].probes_out, 0);
    assert_int_equal(to[1].opened, 1);
    assert_int_equal(to[0].state, SY_BREAKER_CLOSED);   /* c: new, closed */
    assert_ptr_equal(to[0].policy, &nt.breaker);
    assert_true(sy_health_usable(&to[0], now + 1));
}

/* An invalid file: rejected, the diagnostics name file:line, neu empty. */
static void test_reload_rejects_invalid(void **state)
{
    (void)state;
    sy_config old, neu = {0};
    sy_diags d = {0};
    assert_int_equal(sy_test_load_text(OLD, &old, &d), 0);
    char dir[] = "/tmp/test_cfgreload_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    sy_test_write_file(path, PROVIDERS "tiers:\n  fast: {models: [nosuch]}\n  cheap: {models: [m]}\n"
                               "tasks:\n  a: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n"
                               "  b: {tier: cheap, prompt: {id: b, version: 1, user: hi}}\n");
    const char *files[] = {path};
    assert_int_equal(sy_config_reload(&old, sy_provider_kinds, files, 1, 0, "test", &neu), -1);
    assert_int_equal(neu.ntasks, 0);
    sy_test_write_file(path, OLD);
    assert_int_equal(sy_config_reload(&old, sy_provider_kinds, files, 1, 0, "test", &neu), 0);
    assert_int_equal(neu.ntasks, 2);
    sy_config_free(&neu);
    unlink(path);
    rmdir(dir);
    sy_config_free(&old);
    sy_diags_free(&d);
}

static void test_watch_sees_writes_and_renames(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_cfgreload_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[256], other[256];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    snprintf(tmp, sizeof tmp, "%s/.p.yaml.new", dir);
    snprintf(other, sizeof other, "%s/other.yaml", dir);
    sy_test_write_file(path, "a");
    char prompts[256], prompt[300], notes[300];
    snprintf(prompts, sizeof prompts, "%s/prompts", dir);
    snprintf(prompt, sizeof prompt, "%s/sum.yaml", prompts);
    snprintf(notes, sizeof notes, "%s/notes.txt", prompts);
    assert_int_equal(mkdir(prompts, 0700), 0);
    const char *files[] = {path};
    sy_cfg_watch *w = sy_cfg_watch_open(files, 1);
    assert_non_null(w);
    assert_false(sy_cfg_watch_drain(w));
    sy_test_write_file(other, "x"); /* another file of the directory */
    assert_false(sy_cfg_watch_drain(w));
    sy_test_write_file(path, "b"); /* in place */
    assert_true(sy_cfg_watch_drain(w));
    assert_false(sy_cfg_watch_drain(w));
    sy_test_write_file(tmp, "c"); /* atomic replace: written aside, renamed over */
    assert_false(sy_cfg_watch_drain(w));
    assert_int_equal(rename(tmp, path), 0);
    assert_true(sy_cfg_watch_drain(w));
    sy_test_write_file(path, "d"); /* the renamed file is watched as well */
    assert_true(sy_cfg_watch_drain(w));
    sy_test_write_file(prompt, "p"); /* a prompt file (prompts.h), new or changed */
    assert_true(sy_cfg_watch_drain(w));
    sy_test_write_file(notes, "n"); /* not one */
    assert_false(sy_cfg_watch_drain(w));
    sy_cfg_watch_close(w);
    unlink(prompt);
    unlink(notes);
    rmdir(prompts);
    unlink(path);
    unlink(other);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_reorders),
        cmocka_unit_test(test_align_refuses_new_names),
        cmocka_unit_test(test_breakers_carry_by_alias),
        cmocka_unit_test(test_reload_rejects_invalid),
        cmocka_unit_test(test_watch_sees_writes_and_renames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
