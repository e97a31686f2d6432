#!/usr/bin/env bash
# Flow control per partition: a slow job holds back only its own partition's
# window. One partition; its first job takes 4 s at the provider, the 400
# behind it 50 ms each. With --max-jobs-per-partition 40 the worker takes 40
# offsets from the slow one on, finishes the 39 fast ones, pauses the
# partition (their offsets cannot be committed past the slow job, so taking
# more would only grow what it holds), and resumes when the slow job is done.
# Without the limit all 400 would be done while the slow job still runs.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
start_fake --latency-ms 50
BROKER_PARTITIONS=1 start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 20 --max-jobs-per-partition 40 --state-dir "$T/state" \
    --log-level debug
"$PY" -c "
import json
print(json.dumps({'id': 'slow', 'task': 'echo', 'vars': {'word': '[[latency:4000]]', 'n': 0}}))
for i in range(1, 401):
    print(json.dumps({'id': 'fast-%d' % i, 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))
" >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"

# While the slow call is out (its answer comes 4 s after it was sent):
# count the answered calls 2.5 s after the first one.
for _ in $(seq 300); do [ -s "$T/calls.jsonl" ] && break; sleep 0.1; done
[ -s "$T/calls.jsonl" ] || fail "no provider call within 30 s"
sleep 2.5
during=$(wc -l <"$T/calls.jsonl")
grep -q '"slow"' "$T/calls.jsonl" && fail "the slow call was answered too early; the check is void"
echo "answered calls while the slow job was in flight: $during (window 40)"
[ "$during" -ge 30 ] && [ "$during" -le 45 ] || fail "expected 30..45 calls while the partition's window was full, got $during"
grep -q 'flow: .* paused' "$T/worker.log" || fail "no partition pause in the worker log"

"$SY_BIN" results --topic switchyard.results.echo --count 401 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 401 results"
grep -q 'flow: .* resumed' "$T/worker.log" || fail "the partition was not resumed"
"$PY" - "$T" <<'PY' || fail "results"
import collections, json, sys
t = sys.argv[1]
ids = collections.Counter(json.loads(l)["job_id"] for l in open(f"{t}/results.jsonl") if l.strip())
want = collections.Counter(["slow"] + [f"fast-{i}" for i in range(1, 401)])
assert ids == want, (len(ids), sum(ids.values()))
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
assert len(calls) == 401, len(calls)
PY
ok "slow job held back only its partition's window ($during calls), then all 401 results exactly once"
check_logs
