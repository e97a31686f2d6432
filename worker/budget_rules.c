/* budget_rules.c -- see budget_rules.h. */
#include "budget_rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define MAX_NANO ((int64_t)1 << 62)

int64_t sy_budget_period_start(sy_budget_period p, int64_t now_ms)
{
    int64_t hour = 3600000, day = 24 * hour;
    if (now_ms < 0) now_ms = 0;
    if (p == SY_PERIOD_HOUR) return now_ms - now_ms % hour;
    if (p == SY_PERIOD_DAY) return now_ms - now_ms % day;
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return now_ms - now_ms % day - (int64_t)(tm.tm_mday - 1) * day;
}

bool sy_budget_matches(const sy_budget *b, const sy_kv *meta, size_t nmeta)
{
    for (size_t i = 0; i < nmeta; i++)
        if (!strcmp(meta[i].key, b->tag)) return !strcmp(meta[i].value, b->value);
    return false;
}

void sy_ledger_init(sy_spend_ledger *l, const char *self_id)
{
    memset(l, 0, sizeof *l);
    snprintf(l->self, sizeof l->self, "%s", self_id);
    sy_keymap_init(&l->records);
    sy_keymap_init(&l->others);
    sy_keymap_init(&l->own);
}

void sy_ledger_free(sy_spend_ledger *l)
{
    sy_keymap_free_with(&l->records, free);
    sy_keymap_free_with(&l->others, free);
    sy_keymap_free_with(&l->own, free);
}

static int64_t *slot(sy_keymap *m, const char *key)
{
    int64_t *v = sy_keymap_get(m, key);
    if (!v) {
        v = sy_xcalloc(1, sizeof *v);
        sy_keymap_put(m, key, v);
    }
    return v;
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i])) return false;
    return n > 0;
}

#define HEX "0123456789abcdef"
#define DIGITS "0123456789"
#define ID_CHARS HEX "ABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz-_."

void sy_ledger_record(sy_spend_ledger *l, const void *key, size_t klen, const void *val, size_t vlen)
{
    const char *k = key, *v = val;
    const char *bar1 = klen > 17 ? memchr(k, '|', klen) : NULL;
    const char *bar2 = bar1 ? memchr(bar1 + 1, '|', klen - (size_t)(bar1 + 1 - k)) : NULL;
    size_t plen = bar2 ? (size_t)(bar2 - bar1 - 1) : 0, wlen = bar2 ? klen - (size_t)(bar2 + 1 - k) : 0;
    if (!bar2 || bar1 - k != 16 || !all_of(k, 16, HEX) || plen > 15 || !all_of(bar1 + 1, plen, DIGITS) ||
        wlen > 32 || !all_of(bar2 + 1, wlen, ID_CHARS) || !v || vlen > 18 || !all_of(v, vlen, DIGITS)) {
        l->ignored++;
        return;
    }
    char rkey[80], bkey[40], num[20];
    snprintf(rkey, sizeof rkey, "%.*s", (int)klen, k);
    snprintf(bkey, sizeof bkey, "%.*s", (int)(bar2 - k), k);
    snprintf(num, sizeof num, "%.*s", (int)vlen, v);
    if (!strcmp(rkey + (bar2 + 1 - k), l->self)) return; /* our own: counted locally */
    int64_t share = strtoll(num, NULL, 10);
    int64_t *old = sy_keymap_get(&l->records, rkey);
    if (!old && l->records.count >= SY_SPEND_MAX_RECORDS) {
        l->ignored++;
        return;
    }
    if (!old) old = slot(&l->records, rkey);
    int64_t *sum = slot(&l->others, bkey);
    *sum += share - *old; /* a worker's shares only grow; a lower one (a rewrite) counts as given */
    if (*sum < 0) *sum = 0;
    if (*sum > MAX_NANO) *sum = MAX_NANO;
    *old = share;
}

int64_t sy_ledger_add_own(sy_spend_ledger *l, const char *budget_id, int64_t period, int64_t nano,
                          char *key, size_t keylen)
{
    char bkey[40];
    snprintf(bkey, sizeof bkey, "%.16s|%lld", budget_id, (long long)period);
    int64_t *own = slot(&l->own, bkey);
    if (nano > 0) *own = *own > MAX_NANO - nano ? MAX_NANO : *own + nano;
    snprintf(key, keylen, "%s|%s", bkey, l->self);
    return *own;
}

int64_t sy_ledger_spent(const sy_spend_ledger *l, const char *budget_id, int64_t period)
{
    char bkey[40];
    snprintf(bkey, sizeof bkey, "%.16s|%lld", budget_id, (long long)period);
    const int64_t *own = sy_keymap_get(&l->own, bkey), *others = sy_keymap_get(&l->others, bkey);
    return (own ? *own : 0) + (others ? *others : 0);
}

const sy_budget *sy_budget_decide(const sy_budget *b, size_t n, const sy_kv *meta, size_t nmeta,
                                  const sy_spend_ledger *l, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        if (!sy_budget_matches(&b[i], meta, nmeta)) continue;
        int64_t period = sy_budget_period_start(b[i].period, now_ms);
        if (sy_ledger_spent(l, b[i].id, period) >= b[i].limit_nano) return &b[i];
    }
    return NULL;
}

int64_t sy_usd_to_nano(double usd)
{
    if (!isfinite(usd) || usd <= 0) return 0;
    if (usd >= 1e9) return (int64_t)1e18;
    return (int64_t)llround(usd * 1e9);
}
