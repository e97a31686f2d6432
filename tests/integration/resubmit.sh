#!/usr/bin/env bash
# Resubmission: the same 1,000 idempotency keys submitted twice (new job ids
# the second time, right after the first). The provider sees 1,000 calls;
# the second copies are answered from the store (or from the copy in work),
# marked deduplicated, with the first answer's output.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
start_fake --latency-ms 200 --jitter-ms 100
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 256 --state-dir "$T/state"
for round in 1 2; do
    "$PY" -c "
import json
for i in range(1000):
    print(json.dumps({'id': 'r$round-%d' % i, 'idempotency_key': 'key-%d' % i, 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))
" >"$T/jobs-$round.jsonl"
    "$SY_BIN" submit --quiet "$T/jobs-$round.jsonl" >/dev/null || fail "submit round $round"
done
"$SY_BIN" results --topic switchyard.results.echo --count 2000 --timeout-ms 120000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 2000 results"
sleep 2
"$PY" - "$T" <<'PY' || fail "resubmission assertions"
import collections, json, sys
t = sys.argv[1]
res = {r["job_id"]: r for r in (json.loads(l) for l in open(f"{t}/results.jsonl") if l.strip())}
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
print(f"results {len(res)}; provider calls {len(calls)}; deduplicated {sum(r['deduplicated'] for r in res.values())}")
assert len(calls) == 1000, len(calls)
assert collections.Counter(c["job"] for c in calls) == collections.Counter(f"key-{i}" for i in range(1000))
for i in range(1000):
    a, b = res[f"r1-{i}"], res[f"r2-{i}"]
    assert a["output"] == b["output"] == f"ECHO Say w{i} number {i}", (a, b)
    assert a["deduplicated"] + b["deduplicated"] == 1, (a, b)
PY
ok "1,000 keys submitted twice: 1,000 provider calls, 1,000 deduplicated answers"
check_logs
