#!/usr/bin/env bash
# A budget shared by two workers running at once (worker/spend.c): each
# reads the other's shares from switchyard.spend as it goes. team=search
# has a deadletter budget of $0.0001 (about 21 calls); 100 jobs; each
# worker has 2 calls in flight at most. Asserts: the spend of the answered
# jobs reaches the limit and overshoots it by at most two in-flight windows
# per worker (8 calls): the calls in flight when the limit is crossed, and
# those a worker starts before the other's newest share reaches it (calls
# that end together start the next ones together: one window of lag). Each
# worker counting alone would spend about twice the limit (~42 calls). The
# rest fail as budget_exceeded; none lost. Calls take 300 ms: on the
# embedded broker the first shares reach the other worker up to ~0.8 s
# after they are produced (later ones within a fetch), and with 30 ms calls
# the workers run past the limit before the first arrive.
source "$(dirname "$0")/lib.sh"
{ cat tests/pipelines/ops.yaml
  printf 'budgets:\n  - {tag: team, value: search, usd: 0.0001, period: day, action: deadletter}\n'; } >"$T/p.yaml"
P="$T/p.yaml"
start_fake --latency-ms 300
start_broker "$P"
start_scheduler "$P"
start_worker w1 -p "$P" --state-dir "$T/s1" --max-inflight 2
start_worker w2 -p "$P" --state-dir "$T/s2" --max-inflight 2
for w in w1 w2; do
    for _ in $(seq 200); do grep -q "rebalance: assigned [1-9]" "$T/$w.log" && break; sleep 0.1; done
done
"$PY" -c "
import json
for i in range(100):
    print(json.dumps({'id': 's%d' % i, 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}, 'metadata': {'team': 'search'}}))" >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results -t switchyard.results.echo --count 100 --timeout-ms 60000 >"$T/r.jsonl" \
    || fail "only $(wc -l <"$T/r.jsonl") of 100 results"
"$PY" - "$T/r.jsonl" "$T/calls.jsonl" <<'PYEOF' || fail "shared budget"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rs if r["status"] == "ok"]
over = [r for r in rs if r["status"] == "failed" and r["error"]["class"] == "budget_exceeded"]
spent, most, limit = sum(r["cost_usd"] for r in ok), max(r["cost_usd"] for r in ok), 0.0001
assert len(rs) == 100 and len(ok) + len(over) == 100, (len(rs), len(ok), len(over))
assert limit <= spent <= limit + 2 * 4 * most, (spent, limit, most)
print("   two workers: %d answered for $%.7f (limit $%.7f, two windows each 8 x $%.7f), %d budget_exceeded"
      % (len(ok), spent, limit, most, len(over)))
PYEOF
ok "one budget, two workers: spend stopped within two in-flight windows per worker"
check_logs
