#!/usr/bin/env bash
# A batch tier's partitions move to another worker with their batches
# (docs/durability.md, "Batch tiers"): worker A records its created
# batches (they own their jobs, whose input offsets are committed), mirrors
# each batch's record to the tier's changelog (one record per partition,
# with that partition's jobs), and is killed with SIGKILL; its --state-dir
# is deleted. Worker B, with an empty state dir, gets the partitions,
# restores the batch records from the changelog, polls the batches (no
# new one), rebuilds the jobs (Kafka has nothing left to deliver: B
# consumes nothing) and answers them. Every job has exactly one result,
# and the fake provider saw every custom_id in exactly one created batch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_batch.sh"
P=tests/pipelines/batch.yaml
N=150 # over 6 partitions: each batch (100 jobs at most) carries several partitions' jobs
NA=40 # one Anthropic message batch: no listing finds it, only its record

start_fake --batch-ms 4000
start_broker "$P"
start_scheduler "$P"
"$PY" -c "
import json
for i in range($N): print(json.dumps({'id': 'm-%d' % i, 'task': 'bulk', 'vars': {'word': 'w%d' % i}}))
for i in range($NA): print(json.dumps({'id': 'a-%d' % i, 'task': 'claude-bulk', 'vars': {'word': 'w%d' % i}}))
" >"$T/jobs.jsonl"
args=(-p "$P" --tiers bulk-tier,claude-bulk-tier --max-inflight 64 -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
start_worker worker-a "${args[@]}" --state-dir "$T/state-a"
A=$LAST_PID
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
owned() { grep -c "batch_.*it owns its" "$T/worker-a.log" || true; }
for _ in $(seq 200); do [ "$(owned)" -ge 3 ] && break; sleep 0.1; done
[ "$(owned)" -ge 3 ] || fail "worker-a recorded $(owned) of 3 batches owning their jobs"
sleep 0.4 # the offsets' commit (every 100 ms); the batches run 4 s
kill -9 "$A"; wait "$A" 2>/dev/null || true
rm -rf "$T/state-a"
ok "A: 3 batches recorded (on the changelog), killed, its state dir deleted"

start_worker worker-b "${args[@]}" --state-dir "$T/state-b"
B=$LAST_PID
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 25000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
"$SY_BIN" results --topic switchyard.results.claude --count "$NA" --timeout-ms 10000 >"$T/claude-results.jsonl" ||
    fail "only $(wc -l <"$T/claude-results.jsonl") of $NA Anthropic results"
# the OpenAI batches' listing finds their ids, not the jobs (their offsets
# are committed): the records bring the jobs; the message batch only they find
rebuilt=$(grep -o '[0-9]* job(s) rebuilt from batch records' "$T/worker-b.log" | awk '{s += $1} END {print s + 0}')
[ "$rebuilt" = $((N + NA)) ] || fail "worker-b rebuilt $rebuilt of $((N + NA)) jobs from the records"
grep -q "msgbatch_.*restored from the changelog after a restart" "$T/worker-b.log" ||
    fail "worker-b did not take the message batch from the changelog"
! grep -q "uploading" "$T/worker-b.log" || fail "worker-b sent jobs in a new batch"
batch_stop_and_check worker-b "$B" m "results after the takeover"
ok "B: restored 3 batches from the changelog, consumed nothing, answered their jobs"
check_logs
