/* budget_rules.h -- the pure part of budgets: which budget a job falls under,
 * whether it is spent, and the ledger of spend shared by the workers.
 *
 * How spend is shared (docs/durability.md, "Budgets"): every worker process
 * has a random id; after each provider answer it adds the call's cost to
 * its own share of every budget the job's metadata matches, and produces
 * its cumulative share for the period to the compacted spend topic under
 * the key BUDGET_ID|PERIOD_START|WORKER_ID (value: nano-USD, decimal).
 * Every worker reads that topic from the start (to its end before taking
 * jobs, then as it goes): the spend of a budget's period is the sum of
 * the latest share of every worker id, its own counted locally. A restarted
 * worker gets a new id; its predecessor's last shares still count. So a
 * restart forgets nothing the topic holds, and no two workers' spend is
 * counted twice or overwrites the other's.
 *
 * Nothing here does I/O: worker/spend.c feeds records in and produces them.
 * Worker layer (worker/). */
#ifndef SY_BUDGET_RULES_H
#define SY_BUDGET_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "job.h"
#include "keymap.h"

#define SY_SPEND_MAX_RECORDS 100000 /* distinct record keys kept; more are ignored */

/* Unix ms at which the period holding now_ms began (UTC). */
int64_t sy_budget_period_start(sy_budget_period p, int64_t now_ms);

/* Does the job carry the budget's tag with its value? */
bool sy_budget_matches(const sy_budget *b, const sy_kv *meta, size_t nmeta);

typedef struct sy_spend_ledger {
    char self[33];        /* this process's worker id */
    sy_keymap records;    /* another worker's record key -> int64_t* its share */
    sy_keymap others;     /* "BUDGET|PERIOD" -> int64_t* sum of the others' shares */
    sy_keymap own;        /* "BUDGET|PERIOD" -> int64_t* this worker's share */
    long ignored;         /* malformed records, or past the cap */
} sy_spend_ledger;

void sy_ledger_init(sy_spend_ledger *l, const char *self_id);
void sy_ledger_free(sy_spend_ledger *l);
/* One record of the spend topic (hostile bytes: anything malformed is
 * ignored and counted). A worker's newer share replaces its older one. */
void sy_ledger_record(sy_spend_ledger *l, const void *key, size_t klen, const void *val, size_t vlen);
/* Add nano-USD to this worker's share of a budget's period. Returns the
 * new share and writes the record's key into key (at least 64 bytes). */
int64_t sy_ledger_add_own(sy_spend_ledger *l, const char *budget_id, int64_t period, int64_t nano,
                          char *key, size_t keylen);
/* Every worker's spend of the budget's period, in nano-USD. */
int64_t sy_ledger_spent(const sy_spend_ledger *l, const char *budget_id, int64_t period);

/* The first budget (in file order) that the job falls under and whose
 * period's spend has reached its limit; NULL when none. */
const sy_budget *sy_budget_decide(const sy_budget *b, size_t n, const sy_kv *meta, size_t nmeta,
                                  const sy_spend_ledger *l, int64_t now_ms);

/* USD to nano-USD, 0 for anything not a finite non-negative amount. */
int64_t sy_usd_to_nano(double usd);

#endif
