#!/usr/bin/env bash
# A batch tier's worker killed with SIGKILL while its batches are at the
# provider (polling), then restarted: every job still gets exactly one
# result (none lost, none answered twice). The batch is not durable yet
# (docs/durability.md, "Batch tiers"): the restarted worker submits the
# carried jobs again in new batches; the fake provider's count of jobs
# submitted twice is printed, and is at most the jobs the killed worker had
# in batches.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/batch.yaml
N=300

start_fake --batch-ms 1500
start_broker "$P"
start_scheduler "$P"
"$PY" -c "
import json
for i in range($N): print(json.dumps({'id': 'c-%d' % i, 'task': 'bulk', 'vars': {'word': 'w%d' % i}}))
" >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
start_worker worker-0 -p "$P" --max-inflight 64 --state-dir "$T/state"
for _ in $(seq 300); do grep -q "job(s) created" "$T/worker-0.log" && break; sleep 0.1; done
grep -q "job(s) created" "$T/worker-0.log" || fail "no batch created"
sleep 0.3 # polling
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
carried=$(grep -o "[0-9]* job(s) created" "$T/worker-0.log" | awk '{s += $1} END {print s}')
ok "killed the worker with $carried job(s) in created batches"
start_worker worker-1 -p "$P" --max-inflight 64 --state-dir "$T/state"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
sleep 1
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 3000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
"$PY" - "$T" "$N" "$carried" <<'PY' || fail "results after the crash"
import collections, json, sys
t, n, carried = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res = [json.loads(l) for l in open(f"{t}/results.jsonl")]
count = collections.Counter(r["job_id"] for r in res)
assert set(count) == {f"c-{i}" for i in range(n)}, "lost jobs"
assert max(count.values()) == 1, [k for k, c in count.items() if c > 1][:5]
assert all(r["status"] == "ok" and r["batch_id"].startswith("batch_") for r in res)
st = json.load(open(f"{t}/batch-stats.json"))
assert st["dup_custom_ids"] <= carried, st
print(f"ok - {n} jobs, one result each after kill -9 during polling; "
      f"submitted twice (batch not durable yet): {st['dup_custom_ids']} of the {carried} carried")
PY
check_logs
