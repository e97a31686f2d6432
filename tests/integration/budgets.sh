#!/usr/bin/env bash
# Budgets (config/budget.h, worker/budget_rules.h, worker/spend.c) in a
# running worker with 4 calls in flight at most (and room for the held
# jobs in each partition's window: held jobs keep their offsets).
#   team=search: a deadletter budget of $0.0001 a day; 100 jobs. The spend
#   of the answered ones reaches the limit and stays within one in-flight
#   window (4 calls) of it; every other job fails as budget_exceeded (a
#   failed result and a dead letter each); none lost.
#   team=ads: a hold budget of $0.00005; 30 jobs: past the limit they wait,
#   neither answered nor dead-lettered.
#   team=misc: a downgrade budget of $0.00005; 30 jobs: past the limit they
#   run on cheap-tier (its one model), all answered.
#   The worker restarts: 10 more search jobs fail at once, with no call (the
#   spend was read back from the spend topic); the held ads jobs still
#   wait. It restarts again with the ads budget raised: they all complete.
source "$(dirname "$0")/lib.sh"
mkpipe() { # ads_usd > file
    cat tests/pipelines/ops.yaml
    printf 'budgets:\n  - {tag: team, value: search, usd: 0.0001, period: day, action: deadletter}\n'
    printf '  - {tag: team, value: ads, usd: %s, period: day, action: hold}\n' "$1"
    printf '  - {tag: team, value: misc, usd: 0.00005, period: day, action: "downgrade:cheap-tier"}\n'
}
mkpipe 0.00005 >"$T/p.yaml"
mkpipe 1 >"$T/p-raised.yaml"
P="$T/p.yaml"
start_fake --latency-ms 30
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state" --max-inflight 4 --max-jobs 1024 --max-jobs-per-partition 256
W=$LAST_PID
jobs() { # prefix n team
    "$PY" -c "
import json, sys
p, n, team = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    print(json.dumps({'id': '%s%d' % (p, i), 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}, 'metadata': {'team': team}}))" "$@"
}
jobs s 100 search >"$T/search.jsonl"
jobs a 30 ads >"$T/ads.jsonl"
jobs m 30 misc >"$T/misc.jsonl"
for f in search ads misc; do "$SY_BIN" submit --quiet "$T/$f.jsonl" >/dev/null || fail "submit"; done
"$SY_BIN" results -t switchyard.results.echo --count 130 --timeout-ms 60000 >/dev/null || fail "fewer than 130 results"
sleep 3
"$SY_BIN" results -t switchyard.results.echo --timeout-ms 3000 >"$T/r1.jsonl" || true
"$PY" - "$T/r1.jsonl" <<'PYEOF' || fail "first run"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
s = [r for r in rs if r["job_id"].startswith("s")]
a = [r for r in rs if r["job_id"].startswith("a")]
ok = [r for r in s if r["status"] == "ok"]
over = [r for r in s if r["status"] == "failed" and r["error"]["class"] == "budget_exceeded"]
spent = sum(r["cost_usd"] for r in ok)
most = max(r["cost_usd"] for r in ok)
limit = 0.0001
assert len(s) == 100 and len(ok) + len(over) == 100, (len(s), len(ok), len(over))
assert over and all(r["cost_usd"] == 0 for r in over), over[:1]
assert limit <= spent <= limit + 4 * most, (spent, limit, most)
a_ok = [r for r in a if r["status"] == "ok"]
assert len(a) == len(a_ok) < 30 and sum(r["cost_usd"] for r in a_ok) >= 0.00005, (len(a), len(a_ok))
m = [r for r in rs if r["job_id"].startswith("m")]
cheap = [r for r in m if r["tier"] == "cheap-tier"]
assert len(m) == 30 and all(r["status"] == "ok" for r in m), len(m)
assert 0 < len(cheap) < 30 and all(r["model"] == "small-anthropic" for r in cheap), [(r["tier"], r["model"]) for r in m]
assert sum(r["cost_usd"] for r in m if r["tier"] == "echo-tier") >= 0.00005
print("   search: %d answered for $%.7f (limit $%.7f, one window 4 x $%.7f), %d budget_exceeded; ads: %d answered, %d held"
      % (len(ok), spent, limit, most, len(over), len(a_ok), 30 - len(a_ok)))
print("   misc: %d on echo-tier, then %d downgraded to cheap-tier" % (30 - len(cheap), len(cheap)))
open(sys.argv[1] + ".held", "w").write(str(30 - len(a_ok)))
PYEOF
ok "budgets stop spend within one in-flight window; deadletter, hold and downgrade"
n_dl=$("$SY_BIN" dlq list --class budget_exceeded --format json | wc -l)
[ "$n_dl" -ge 1 ] || fail "no budget_exceeded dead letters"

kill -TERM "$W"; wait "$W" || fail "the worker did not stop cleanly"
calls_before=$(wc -l <"$T/calls.jsonl")
start_worker worker2 -p "$P" --state-dir "$T/state" --max-inflight 4 --max-jobs 1024 --max-jobs-per-partition 256
W=$LAST_PID
jobs t 10 search >"$T/more.jsonl"
"$SY_BIN" submit --quiet "$T/more.jsonl" >/dev/null || fail "submit"
for _ in $(seq 300); do
    n=$("$SY_BIN" results -t switchyard.results.echo --timeout-ms 1000 | grep -c '"job_id":"t' || true)
    [ "$n" = 10 ] && break; sleep 0.2
done
"$SY_BIN" results -t switchyard.results.echo --timeout-ms 2000 >"$T/r2.jsonl" || true
"$PY" - "$T/r2.jsonl" "$(cat "$T/r1.jsonl.held")" <<'PYEOF' || fail "after the restart"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in rs if r["job_id"].startswith("t")]
assert len(t) == 10 and all(r["status"] == "failed" and r["error"]["class"] == "budget_exceeded" for r in t), t[:2]
a = [r for r in rs if r["job_id"].startswith("a")]
assert 30 - len(a) == int(sys.argv[2]), (len(a), sys.argv[2])
PYEOF
calls_after=$(wc -l <"$T/calls.jsonl")
[ "$calls_after" = "$calls_before" ] || fail "$((calls_after - calls_before)) call(s) after the restart, want none"
grep -q "budgets: 3, spend read from switchyard.spend" "$T/worker2.log" || fail "worker2 did not read the spend"
ok "after a restart: the spend is remembered (10 jobs over budget, no call), the held jobs still wait"

kill -TERM "$W"; wait "$W" || fail "the worker did not stop cleanly"
start_worker worker3 -p "$T/p-raised.yaml" --state-dir "$T/state" --max-inflight 4 --max-jobs 1024 --max-jobs-per-partition 256
"$SY_BIN" results -t switchyard.results.echo --count 170 --timeout-ms 60000 >"$T/r3.jsonl" \
    || fail "only $(wc -l <"$T/r3.jsonl") of 170 results after raising the ads budget"
"$PY" -c "
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
a = [r for r in rs if r['job_id'].startswith('a')]
assert len(a) == 30 and all(r['status'] == 'ok' for r in a), len(a)
" "$T/r3.jsonl" || fail "held jobs"
ok "ads budget raised: every held job completed, none lost"
check_logs
