/* test_budget.c -- budgets (worker/budget_rules.h, config/budget.h):
 * periods, matching, the shared spend ledger against hostile records, the
 * decision; and the budgets section of a pipeline with its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget_rules.h"
#include "pipeline.h"
#include "pipeline_text.h"
#include "provider.h"
#include "util.h"

static void test_period_start(void **state)
{
    (void)state;
    int64_t t = sy_parse_rfc3339_ms("2026-03-17T13:45:12.345Z");
    assert_int_equal(sy_budget_period_start(SY_PERIOD_HOUR, t), sy_parse_rfc3339_ms("2026-03-17T13:00:00Z"));
    assert_int_equal(sy_budget_period_start(SY_PERIOD_DAY, t), sy_parse_rfc3339_ms("2026-03-17T00:00:00Z"));
    assert_int_equal(sy_budget_period_start(SY_PERIOD_MONTH, t), sy_parse_rfc3339_ms("2026-03-01T00:00:00Z"));
    int64_t leap = sy_parse_rfc3339_ms("2028-02-29T23:59:59Z");
    assert_int_equal(sy_budget_period_start(SY_PERIOD_MONTH, leap), sy_parse_rfc3339_ms("2028-02-01T00:00:00Z"));
    assert_int_equal(sy_budget_period_start(SY_PERIOD_DAY, -5), 0);
}

static sy_budget budget(const char *tag, const char *value, double usd, const char *id)
{
    sy_budget b = {.tag = (char *)tag, .value = (char *)value, .limit_nano = sy_usd_to_nano(usd),
                   .period = SY_PERIOD_DAY, .action = SY_BUDGET_HOLD};
    snprintf(b.id, sizeof b.id, "%s", id);
    return b;
}

static void rec(sy_spend_ledger *l, const char *key, const char *val)
{
    sy_ledger_record(l, key, strlen(key), val, strlen(val));
}

static void test_ledger_sums_shares(void **state)
{
    (void)state;
    sy_spend_ledger l;
    sy_ledger_init(&l, "me-1");
    const char *id = "00000000000000aa";
    rec(&l, "00000000000000aa|1000|w-a", "100");
    rec(&l, "00000000000000aa|1000|w-b", "250");
    rec(&l, "00000000000000aa|1000|w-a", "300"); /* a's newer share replaces its older one */
    rec(&l, "00000000000000aa|2000|w-a", "999"); /* another period */
    rec(&l, "00000000000000aa|1000|me-1", "5000"); /* our own, read back: counted locally */
    assert_int_equal(sy_ledger_spent(&l, id, 1000), 550);
    assert_int_equal(sy_ledger_spent(&l, id, 2000), 999);
    char key[80];
    assert_int_equal(sy_ledger_add_own(&l, id, 1000, 40, key, sizeof key), 40);
    assert_int_equal(sy_ledger_add_own(&l, id, 1000, 2, key, sizeof key), 42);
    assert_string_equal(key, "00000000000000aa|1000|me-1");
    assert_int_equal(sy_ledger_spent(&l, id, 1000), 592);
    assert_int_equal(sy_ledger_spent(&l, "00000000000000bb", 1000), 0);
    assert_int_equal(l.ignored, 0);
    /* a restart: a new id reads the old one's records and its spend stays */
    sy_spend_ledger again;
    sy_ledger_init(&again, "me-2");
    rec(&again, "00000000000000aa|1000|w-a", "300");
    rec(&again, "00000000000000aa|1000|w-b", "250");
    rec(&again, key, "42");
    assert_int_equal(sy_ledger_spent(&again, id, 1000), 592);
    sy_ledger_free(&again);
    sy_ledger_free(&l);
}

static void test_ledger_ignores_hostile_records(void **state)
{
    (void)state;
    sy_spend_ledger l;
    sy_ledger_init(&l, "me");
    const char *bad[][2] = {
        {"", "1"}, {"00000000000000aa", "1"}, {"00000000000000aa|1000", "1"},
        {"0000000000000aa|1000|w", "1"}, {"00000000000000AA|1000|w", "1"}, {"00000000000000aa|-5|w", "1"},
        {"00000000000000aa|1000|", "1"}, {"00000000000000aa|1000|w\x1b[2J", "1"},
        {"00000000000000aa|1000|w", ""}, {"00000000000000aa|1000|w", "-1"}, {"00000000000000aa|1000|w", "1e9"},
        {"00000000000000aa|1000|w", "9999999999999999999999"}, {"00000000000000aa|1000|w|x", "1"},
        {"00000000000000aa|1000|wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww", "1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) rec(&l, bad[i][0], bad[i][1]);
    sy_ledger_record(&l, "00000000000000aa|1000|w", 23, NULL, 0);
    sy_ledger_record(&l, "00000000000000aa|1\0000|w", 23, "1", 1);
    assert_int_equal(l.ignored, (long)(sizeof bad / sizeof bad[0]) + 2);
    assert_int_equal(sy_ledger_spent(&l, "00000000000000aa", 1000), 0);
    /* a share going down (a rewritten record) never makes the sum negative */
    rec(&l, "00000000000000aa|1000|w", "10");
    rec(&l, "00000000000000aa|1000|w", "3");
    assert_int_equal(sy_ledger_spent(&l, "00000000000000aa", 1000), 3);
    sy_ledger_free(&l);
}

static void test_decide_first_spent_budget(void **state)
{
    (void)state;
    sy_budget b[3] = {budget("team", "search", 1.0, "0000000000000001"),
                      budget("workflow", "nightly", 0.5, "0000000000000002"),
                      budget("team", "ads", 2.0, "0000000000000003")};
    b[1].action = SY_BUDGET_DEADLETTER;
    sy_kv meta[] = {{"team", "search"}, {"workflow", "nightly"}}, ads[] = {{"team", "ads"}},
          other[] = {{"team", "searchx"}}, tagless[] = {{"env", "prod"}};
    int64_t now = sy_parse_rfc3339_ms("2026-03-17T13:45:12Z"), day = sy_budget_period_start(SY_PERIOD_DAY, now);
    sy_spend_ledger l;
    sy_ledger_init(&l, "me");
    assert_null(sy_budget_decide(b, 3, meta, 2, &l, now));
    char key[80];
    sy_ledger_add_own(&l, b[1].id, day, sy_usd_to_nano(0.5) - 1, key, sizeof key);
    assert_null(sy_budget_decide(b, 3, meta, 2, &l, now)); /* one nano-dollar short */
    sy_ledger_add_own(&l, b[1].id, day, 1, key, sizeof key);
    assert_ptr_equal(sy_budget_decide(b, 3, meta, 2, &l, now), &b[1]); /* reached: spent */
    sy_ledger_add_own(&l, b[0].id, day, sy_usd_to_nano(3), key, sizeof key);
    assert_ptr_equal(sy_budget_decide(b, 3, meta, 2, &l, now), &b[0]); /* file order */
    assert_null(sy_budget_decide(b, 3, ads, 1, &l, now));
    assert_null(sy_budget_decide(b, 3, other, 1, &l, now));
    assert_null(sy_budget_decide(b, 3, tagless, 1, &l, now));
    assert_null(sy_budget_decide(b, 3, meta, 2, &l, now + 86400000)); /* the next day starts afresh */
    sy_ledger_free(&l);
    assert_int_equal(sy_usd_to_nano(-1), 0);
    assert_int_equal(sy_usd_to_nano(0.000000001), 1);
    assert_int_equal(sy_usd_to_nano(1e300), (int64_t)1e18);
}

#define BASE                                                                             \
    "version: 1\nproviders:\n  p: {kind: openai, base_url: 'http://127.0.0.1:1/v1', api_key_env: HOME}\n" \
    "models:\n  m: {provider: p, name: x, price_per_mtok: {input: 1, output: 1}}\n"          \
    "tiers:\n  fast: {models: [m]}\n  cheap: {models: [m]}\n"                             \
    "tasks:\n  t: {tier: fast, prompt: {id: a, version: 1, user: hi}}\n"

static void test_pipeline_budgets(void **state)
{
    (void)state;
    sy_config cfg;
    sy_diags d = {0};
    assert_int_equal(sy_test_load_text(BASE "budgets:\n"
                               "  - {tag: team, value: search, usd: 50, period: day, action: hold}\n"
                               "  - {tag: team, value: ads, usd: 0.5, period: hour, action: 'downgrade:cheap'}\n"
                               "  - {tag: wf, value: n, usd: 1, period: month, action: deadletter}\n",
                      &cfg, &d), 0);
    assert_int_equal(cfg.nbudgets, 3);
    assert_int_equal(cfg.budgets[0].limit_nano, 50000000000LL);
    assert_int_equal(cfg.budgets[1].action, SY_BUDGET_DOWNGRADE);
    assert_ptr_equal(cfg.budgets[1].tier, sy_config_tier(&cfg, "cheap"));
    assert_int_equal(cfg.budgets[2].period, SY_PERIOD_MONTH);
    assert_string_not_equal(cfg.budgets[0].id, cfg.budgets[1].id);
    assert_int_equal(cfg.budgets[1].line, 13);
    sy_config_free(&cfg);

    assert_int_equal(sy_test_load_text(BASE "budgets:\n"
                               "  - {tag: team, value: a, usd: 0, period: day, action: hold}\n"
                               "  - {tag: team, value: b, usd: 1, period: week, action: hold}\n"
                               "  - {tag: team, value: c, usd: 1, period: day, action: 'downgrade:nope'}\n"
                               "  - {tag: team, value: d, usd: 1, period: day, action: pause}\n"
                               "  - {tag: team, usd: 1, period: day, action: hold}\n"
                               "  - {tag: team, value: e, usd: 1, period: day, action: hold, extra: 1}\n",
                      &cfg, &d), -1);
    const int lines[] = {12, 13, 14, 15, 16, 17};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < d.n; j++) found |= d.items[j].line == lines[i];
        if (!found) fail_msg("no error at line %d", lines[i]);
    }
    sy_diags_free(&d);
    assert_int_equal(sy_test_load_text(BASE "budgets: {team: 1}\n", &cfg, &d), -1);
    sy_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_start),
        cmocka_unit_test(test_ledger_sums_shares),
        cmocka_unit_test(test_ledger_ignores_hostile_records),
        cmocka_unit_test(test_decide_first_spent_budget),
        cmocka_unit_test(test_pipeline_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
