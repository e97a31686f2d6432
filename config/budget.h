/* budget.h -- spend budgets of a pipeline: per metadata tag value and
 * period, and what happens to that tag's jobs once one is spent.
 *
 *   budgets:
 *     - {tag: team, value: search, usd: 50, period: day, action: hold}
 *     - {tag: team, value: ads, usd: 5, period: hour, action: "downgrade:cheap-tier"}
 *     - {tag: workflow, value: nightly, usd: 100, period: month, action: deadletter}
 *
 * Config layer: read here from the top-level `budgets` list of a pipeline
 * file (every mistake at file:line:column); the worker decides with them
 * (worker/budget_rules.h) and counts spend (worker/spend.c). */
#ifndef SY_BUDGET_H
#define SY_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "diag.h"

struct sy_tier;
struct yn_doc;

typedef enum sy_budget_action {
    SY_BUDGET_HOLD,       /* the tag's jobs wait (held, not lost) until the period ends */
    SY_BUDGET_DOWNGRADE,  /* they run on another (cheaper) tier */
    SY_BUDGET_DEADLETTER, /* they fail with the class budget_exceeded */
} sy_budget_action;

typedef enum sy_budget_period { SY_PERIOD_HOUR, SY_PERIOD_DAY, SY_PERIOD_MONTH } sy_budget_period;

typedef struct sy_budget {
    char *tag, *value;
    int64_t limit_nano;         /* USD x 1e9 */
    sy_budget_period period;
    sy_budget_action action;
    char *tier_name;            /* downgrade: the tier's name ... */
    const struct sy_tier *tier; /* ... resolved after every file is read */
    char id[17];                /* hash of tag, value and period: its spend's key */
    const char *file;           /* owned by the config */
    int line, column;
} sy_budget;

/* Read the `budgets` list (node: its value; NULL or null: none) of the
 * file being loaded, appended to *list (*n entries). Errors go to the
 * document's diagnostics. The loader (pipeline.c) resolves each downgrade
 * action's tier_name to its tier once every file is read. */
void sy_budgets_load(struct yn_doc *d, const char *file, yaml_node_t *node, sy_budget **list, size_t *n);
void sy_budgets_free(sy_budget **list, size_t *n);

const char *sy_budget_period_name(sy_budget_period p); /* "hour", "day", "month" */

#endif
