/* budget.c -- see budget.h. */
#include "budget.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "yamlnode.h"

#define MAX_BUDGETS 1000
#define MAX_USD 1e9

static const char *const budget_keys[] = {"tag", "value", "usd", "period", "action", NULL};
static const char *const period_names[] = {"hour", "day", "month", NULL};

const char *sy_budget_period_name(sy_budget_period p)
{
    return p <= SY_PERIOD_MONTH ? period_names[p] : "?";
}

static void budget_free(sy_budget *b)
{
    free(b->tag);
    free(b->value);
    free(b->tier_name);
}

/* "hold", "deadletter" or "downgrade:TIER". */
static int read_action(yn_doc *d, const yn_map *m, sy_budget *b)
{
    char *a;
    if (yn_get_str(m, "action", true, &a) != 1) return -1;
    int rc = 0;
    if (!strcmp(a, "hold")) b->action = SY_BUDGET_HOLD;
    else if (!strcmp(a, "deadletter")) b->action = SY_BUDGET_DEADLETTER;
    else if (!strncmp(a, "downgrade:", 10) && a[10]) {
        b->action = SY_BUDGET_DOWNGRADE;
        b->tier_name = sy_xstrdup(a + 10);
    } else {
        yn_error(d, yn_map_get(m, "action"),
                 "action of %s must be hold, deadletter or downgrade:TIER", m->owner);
        rc = -1;
    }
    free(a);
    return rc;
}

static int read_budget(yn_doc *d, yaml_node_t *item, const char *owner, sy_budget *b)
{
    yn_map m;
    if (!yn_map_open(&m, d, item, item, owner, "", budget_keys)) return -1;
    double usd = 0;
    int period = SY_PERIOD_DAY, bad = 0;
    bad |= yn_get_str(&m, "tag", true, &b->tag) != 1;
    bad |= yn_get_str(&m, "value", true, &b->value) != 1;
    bad |= yn_get_num(&m, "usd", true, 0, true, MAX_USD, &usd) != 1;
    bad |= yn_get_enum(&m, "period", true, period_names, &period) != 1;
    bad |= read_action(d, &m, b) != 0;
    if (!bad && !*b->tag) {
        yn_error(d, yn_map_get(&m, "tag"), "tag of %s is empty", owner);
        bad = 1;
    }
    b->limit_nano = (int64_t)llround(usd * 1e9);
    b->period = (sy_budget_period)period;
    return bad ? -1 : 0;
}

void sy_budgets_load(struct yn_doc *d, const char *file, yaml_node_t *node, sy_budget **list, size_t *n)
{
    if (!node || yn_is_null(node)) return;
    if (node->type != YAML_SEQUENCE_NODE) {
        yn_error(d, node, "budgets must be a list of {tag, value, usd, period, action}");
        return;
    }
    int index = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
         it++, index++) {
        yaml_node_t *item = yn_node(d, *it);
        if (!item) continue;
        if (*n == MAX_BUDGETS) {
            yn_error(d, item, "more than %d budgets", MAX_BUDGETS);
            return;
        }
        char owner[48];
        snprintf(owner, sizeof owner, "budget %d", index + 1);
        sy_budget b = {.file = file, .line = (int)item->start_mark.line + 1,
                       .column = (int)item->start_mark.column + 1};
        if (read_budget(d, item, owner, &b) != 0) {
            budget_free(&b);
            continue;
        }
        sy_buf key;
        sy_buf_init(&key);
        sy_buf_append(&key, b.tag, strlen(b.tag) + 1); /* NULs apart: no value fakes a boundary */
        sy_buf_append(&key, b.value, strlen(b.value) + 1);
        sy_buf_puts(&key, sy_budget_period_name(b.period));
        snprintf(b.id, sizeof b.id, "%016" PRIx64, sy_hash64(key.data, key.len));
        sy_buf_free(&key);
        *list = sy_xrealloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = b;
    }
}

void sy_budgets_free(sy_budget **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++) budget_free(&(*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}
