#!/usr/bin/env bash
# A partition's batch record larger than a changelog message may be goes
# in parts (docs/durability.md, "Batches follow partitions"). Worker A's
# producer takes messages of 6,000 bytes at most (message.max.bytes):
# the record of a batch of 40 jobs of one partition (over 10 KB) is
# mirrored as parts, the batch owns its jobs (their offsets are committed
# while it runs). A is killed with SIGKILL and its --state-dir deleted;
# worker C (an empty state dir) restores the parts, trusts the record once
# all are there, consumes nothing, rebuilds the 40 jobs and answers them
# from the same batch. Before: the record was refused, the batch owned
# nothing, and its partition was held while it ran.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/batch.yaml
N=40

start_fake --batch-ms 5000
BROKER_PARTITIONS=1 start_broker "$P"
start_scheduler "$P"
"$PY" -c "
import json
for i in range($N): print(json.dumps({'id': 'm-%d' % i, 'task': 'bulk', 'vars': {'word': 'w%d' % i * 30}}))
" >"$T/jobs.jsonl"
args=(-p "$P" --max-inflight 64 --tiers bulk-tier -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
start_worker worker-a "${args[@]}" -X message.max.bytes=6000 --state-dir "$T/state-a"
A=$LAST_PID
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
for _ in $(seq 100); do grep -q "it owns its $N job(s)" "$T/worker-a.log" && break; sleep 0.1; done
grep -q "it owns its $N job(s)" "$T/worker-a.log" ||
    fail "the batch does not own its jobs: $(grep -o 'its record is not on the changelog[^"]*' "$T/worker-a.log" | head -1)"
sleep 0.4 # the offsets' commit (every 100 ms); the batch runs 5 s
kill -9 "$A"; wait "$A" 2>/dev/null || true
rm -rf "$T/state-a"
ok "A: a batch of $N jobs of one partition owns them (its record in parts); A killed, its state deleted"

start_worker worker-c "${args[@]}" --state-dir "$T/state-c"
C=$LAST_PID
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 20000 >/dev/null ||
    fail "not all $N results"
restored=$(grep -o 'changelog: [0-9]* batch record(s) restored' "$T/worker-c.log" | grep -o '[0-9]*' | head -1)
[ "${restored:-0}" -ge 2 ] || fail "worker-c restored ${restored:-0} record part(s), not several"
grep -q "$N job(s) rebuilt from batch records" "$T/worker-c.log" || fail "worker-c did not rebuild the $N jobs"
! grep -q "uploading" "$T/worker-c.log" || fail "worker-c sent jobs in a new batch"
sleep 1 # a second answer would come now
kill -TERM "$C"; wait "$C" 2>/dev/null || true
grep -q '"held 0, in flight 0, consumed 0,' "$T/worker-c.log" ||
    fail "worker-c consumed jobs again: $(grep -o 'consumed [0-9]*' "$T/worker-c.log" | tail -1)"
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 2000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
"$PY" tests/integration/batch_once.py "$T" m "$N" a 0 || fail "not one result per job from one batch"
ok "C restored the record's $restored parts, consumed nothing, answered the $N jobs"
check_logs
