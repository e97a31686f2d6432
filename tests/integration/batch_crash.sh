#!/usr/bin/env bash
# A batch tier's worker killed at each point of a batch's submission, and
# restarted each time (tests/pipelines/batch.yaml, 100 jobs per batch):
#   A  SIGKILL between upload and create (SWITCHYARD_BATCH_CRASH_AT=after_upload):
#      the file is at the provider, no batch is
#   B  SIGKILL right after create, before anything else
#      (SWITCHYARD_BATCH_CRASH_AT=after_create)
#   C  kill -9 while its batches are polled
#   D  runs to the end
# Then every job has exactly one result (none lost, none answered twice),
# and the fake provider saw every custom_id in exactly one created batch
# (none submitted twice): each restart found the batches created before
# and polled them instead of sending their jobs again (worker/batchio.c).
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
# a short session: each killed worker's partitions go to the next one sooner
args=(-p "$P" --max-inflight 64 --state-dir "$T/state" -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)

died() { # name pid: the worker killed itself at its crash point
    for _ in $(seq 300); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$2" 2>/dev/null || fail "$1 did not reach its crash point"
    wait "$2" 2>/dev/null || true
}
SWITCHYARD_BATCH_CRASH_AT=after_upload start_worker worker-a "${args[@]}"
died worker-a "$LAST_PID"
grep -q "SWITCHYARD_BATCH_CRASH_AT=after_upload" "$T/worker-a.log" || fail "worker-a died elsewhere"
ok "A: killed between upload and create"
SWITCHYARD_BATCH_CRASH_AT=after_create start_worker worker-b "${args[@]}"
died worker-b "$LAST_PID"
grep -q "SWITCHYARD_BATCH_CRASH_AT=after_create" "$T/worker-b.log" || fail "worker-b died elsewhere"
ok "B: killed right after create"
start_worker worker-c "${args[@]}"
for _ in $(seq 300); do grep -q "found after a restart" "$T/worker-c.log" && break; sleep 0.1; done
grep -q "found after a restart" "$T/worker-c.log" || fail "worker-c did not find B's batch"
for _ in $(seq 100); do [ "$(grep -c "job(s) created" "$T/worker-c.log")" -ge 1 ] && break; sleep 0.1; done
sleep 0.3 # polling
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
ok "C: found B's batch, killed while polling"
start_worker worker-d "${args[@]}"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
sleep 1
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 3000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
"$PY" - "$T" "$N" <<'PY' || fail "results after the crashes"
import collections, json, sys
t, n = sys.argv[1], int(sys.argv[2])
res = [json.loads(l) for l in open(f"{t}/results.jsonl")]
count = collections.Counter(r["job_id"] for r in res)
assert set(count) == {f"c-{i}" for i in range(n)}, "lost jobs"
assert max(count.values()) == 1, [k for k, c in count.items() if c > 1][:5]
assert all(r["status"] == "ok" and r["batch_id"].startswith("batch_") for r in res)
st = json.load(open(f"{t}/batch-stats.json"))
assert st["lines"] == n and st["dup_custom_ids"] == 0 and st["max_per_custom_id"] == 1, st
print(f"ok - {n} jobs, one result each, each submitted in exactly one batch ({st['batches']} batches created)")
PY
check_logs
