#!/usr/bin/env bash
# Answers too large to take: a worker with --max-answer-bytes 1 MiB and a
# 1 MB state map (--state-map-mb 1) gets 4 MB answers (cut short:
# response_too_large, one call each, dead-lettered; the worker's memory
# stays flat), 600 KB answers (taken, but more than the store keeps for
# one result: response_too_large) and 3 MB of 100 KB answers (kept: the map
# fills and grows). The worker never stops, and starts again on its full
# store, still asked for a 1 MB map.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
start_fake --tpm 1000000000 --rpm 100000 # room for jobs of max_tokens 1,000,000
start_broker "$P"
start_scheduler "$P"
WORKER_ARGS=(-p "$P" --max-inflight 16 --state-dir "$T/state" --state-map-mb 1 --max-answer-bytes ${MAX_ANSWER:-1048576})
start_worker worker "${WORKER_ARGS[@]}"
WORKER=$LAST_PID
started() { # log
    local i
    for ((i = 0; i < 150; i++)); do grep -q "started:" "$1" && return 0; sleep 0.1; done
    fail "the worker did not start ($1)"
}
started "$T/worker.log"
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$WORKER/status"; }
before=$(rss_kb VmRSS)
jobs() { # count prefix size
    "$PY" -c "
import json, sys
n, prefix, size = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print(json.dumps({'id': f'{prefix}{i}', 'task': 'long-echo', 'vars': {'word': f'[[size:{size}]] {prefix}{i}'}}))
" "$@"
}
jobs 10 huge- 60000000 >"$T/huge.jsonl"
"$SY_BIN" submit --quiet "$T/huge.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.dlq --headers --count 10 --timeout-ms 60000 >/dev/null \
    || fail "fewer than 10 dead letters for the 4 MB answers"
kill -0 "$WORKER" 2>/dev/null || fail "the worker died"
peak=$(rss_kb VmHWM)
echo "   worker RSS before the jobs ${before} KB, peak ${peak} KB"
[ $((peak - before)) -lt 32768 ] || fail "the worker grew by $(( (peak - before) / 1024 )) MB for answers cut at 1 MiB"
ok "ten 4 MB answers cut at 1 MiB: worker peak RSS +$(( (peak - before) / 1024 )) MB"
{ jobs 6 big- 600000; jobs 30 ok- 100000; } >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count 46 --timeout-ms 120000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 46 results"
"$SY_BIN" results --topic switchyard.dlq --headers --count 16 --timeout-ms 60000 >"$T/dlq.jsonl" \
    || fail "only $(wc -l <"$T/dlq.jsonl") of 16 dead letters"
kill -0 "$WORKER" 2>/dev/null || fail "the worker died"
"$PY" - "$T" <<'PY' || fail "big answer assertions"
import collections, json, sys
t = sys.argv[1]
res = {r["job_id"]: r for r in map(json.loads, open(f"{t}/results.jsonl"))}
calls = collections.Counter(json.loads(l)["job"] for l in open(f"{t}/calls.jsonl"))
dlq = {d["key"]: d["headers"] for d in map(json.loads, open(f"{t}/dlq.jsonl"))}
for i in range(10):
    r = res[f"huge-{i}"]
    assert r["status"] == "failed" and r["error"]["class"] == "response_too_large", r
    assert "cut short" in r["error"]["message"], r
    assert calls[f"huge-{i}"] == 1, (i, calls[f"huge-{i}"])  # not retried
    assert dlq[f"huge-{i}"]["switchyard.error.class"] == "response_too_large", dlq[f"huge-{i}"]
for i in range(6):
    r = res[f"big-{i}"]
    assert r["status"] == "failed" and r["error"]["class"] == "response_too_large", r
    assert "state store" in r["error"]["message"], r
    assert dlq[f"big-{i}"]["switchyard.error.class"] == "response_too_large"
for i in range(30):
    r = res[f"ok-{i}"]
    assert r["status"] == "ok" and len(r["output"]) == 100000, (r["status"], r.get("error"))
print("10 cut short, 6 too large to keep, 30 kept")
PY
ok "answers over the limits end response_too_large, once each, dead-lettered; the rest are kept"
grep -q "store: the map .*grown" "$T/worker.log" || fail "the map never grew"
size=$(stat -c %s "$T/state/data.mdb")
echo "   data.mdb: $size bytes (map asked: 1 MB)"
[ "$size" -gt 1048576 ] || fail "the store holds less than the map asked for: nothing tested"
kill -KILL "$WORKER"
wait "$WORKER" 2>/dev/null || true
start_worker worker2 "${WORKER_ARGS[@]}"
WORKER=$LAST_PID
started "$T/worker2.log"
jobs 3 after- 100000 >"$T/after.jsonl"
"$SY_BIN" submit --quiet "$T/after.jsonl" >/dev/null || fail "submit after restart"
"$SY_BIN" results --topic switchyard.results.echo --count 49 --timeout-ms 60000 >"$T/results2.jsonl" \
    || fail "only $(wc -l <"$T/results2.jsonl") of 49 results after the restart"
grep -c '"job_id":"after-' "$T/results2.jsonl" | grep -qx 3 || fail "the restarted worker did not answer"
kill -0 "$WORKER" 2>/dev/null || fail "the restarted worker died"
ok "restarted on its full 1 MB store: starts and answers"
check_logs
