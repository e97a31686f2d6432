#!/usr/bin/env bash
# A worker's listing at start adopts only batches that are its own
# (docs/durability.md, "Batch tiers"): one whose input file a record of
# its names, or one whose metadata names its tier topic and a partition it
# is assigned; not another live worker's. The tier topic has one
# partition; the fake provider's batches take 8 s; each worker has its
# own API key (the fake provider counts GETs of a batch and its files with
# another key than its creator's: foreign_reads).
#   1. A (alone) sends a batch of 20 jobs; while it runs, B joins A's group
#      (it gets no partition) and lists the provider's batches at start:
#      B must neither poll A's batch nor read its files, and its output is
#      downloaded once. Before: B adopted it ("found by listing"), polled
#      it and downloaded its input and output.
#   2. C is killed right after its create (its batch not recorded created)
#      and its state deleted; D (an empty state dir) lists at start, gets
#      the partition, and adopts C's batch by its metadata: the 20 jobs
#      (back from Kafka) are answered from it, none sent twice.
source "$(dirname "$0")/lib.sh"
bulk_batches_of 20
N=20

start_fake --batch-ms 8000
BROKER_PARTITIONS=1 start_broker "$P"
start_scheduler "$P"
partition_jobs "$N" 0 0 >"$T/a.jsonl"
partition_jobs "$N" "$N" 1 >"$T/c.jsonl" # other keys, the same (only) partition
args=(-p "$P" --tiers bulk-tier --max-inflight 64 "${KILL_GROUP_OPTS[@]}" -X heartbeat.interval.ms=500)
OPENAI_API_KEY=sk-test-openai-A start_worker worker-a "${args[@]}" --state-dir "$T/state-a"
A=$LAST_PID
"$SY_BIN" submit --quiet "$T/a.jsonl" >/dev/null || fail "submit"
for _ in $(seq 400); do grep -q "tier 'bulk-tier': $N job(s) created" "$T/worker-a.log" && break; sleep 0.05; done
grep -q "tier 'bulk-tier': $N job(s) created" "$T/worker-a.log" || fail "worker-a created no batch"
curl -sf "$FAKE_URL/batches?limit=10" -H "Authorization: Bearer sk-test-openai-A" >"$T/list.json" ||
    fail "no listing"
"$PY" - "$T/list.json" <<'PY' || fail "the batch's metadata does not name its topic and partitions"
import json, sys
(b,) = json.load(open(sys.argv[1]))["data"]
md = b["metadata"]
assert md["switchyard_topic"] == "switchyard.tier.bulk-tier" and md["switchyard_partitions"] == "0", md
PY
OPENAI_API_KEY=sk-test-openai-B start_worker worker-b "${args[@]}" --state-dir "$T/state-b"
B=$LAST_PID
ok "worker-a's batch runs (metadata: its topic and partition 0); worker-b starts"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 60000 >/dev/null ||
    fail "not all $N results"
sleep 1.5 # a late poll or download would come now
grep -q "rebalance: assigned 1 partition" "$T/worker-b.log" && fail "worker-b got the partition (the test needs it on A)"
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
cat "$T/batch-stats.json"
grep -q "found by listing" "$T/worker-b.log" &&
    fail "worker-b adopted worker-a's batch from the listing: $(grep -o 'batch [a-z0-9_]* of tier[^"]*found by listing' "$T/worker-b.log")"
"$PY" - "$T/batch-stats.json" <<'PY' || fail "worker-b read worker-a's batch"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["foreign_reads"] == 0 and st["max_output_downloads"] == 1, st
PY
ok "worker-b listed the batches at start and left worker-a's alone: no poll, no download by another key"

kill -TERM "$B" "$A"; wait "$B" "$A" 2>/dev/null || true
SWITCHYARD_BATCH_CRASH_AT=after_create OPENAI_API_KEY=sk-test-openai-C start_worker worker-c "${args[@]}" \
    --state-dir "$T/state-c"
C=$LAST_PID
"$SY_BIN" submit --quiet "$T/c.jsonl" >/dev/null || fail "submit"
wait "$C" 2>/dev/null || true
grep -q "job(s) created" "$T/worker-c.log" || fail "worker-c was not killed after its create"
rm -rf "$T/state-c"
OPENAI_API_KEY=sk-test-openai-C start_worker worker-d "${args[@]}" --state-dir "$T/state-d"
D=$LAST_PID
"$SY_BIN" results --topic switchyard.results.bulk --count $((2 * N)) --timeout-ms 60000 >/dev/null ||
    fail "not all $((2 * N)) results"
grep -q "found by listing" "$T/worker-d.log" || fail "worker-d did not adopt worker-c's batch by its partition"
sleep 1 # a second answer would come now
kill -TERM "$D"; wait "$D" 2>/dev/null || true
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 2000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
"$PY" tests/integration/batch_once.py "$T" m $((2 * N)) a 0 ||
    fail "not one result per job, one batch per job"
ok "worker-d adopted the batch of a dead worker's partition: its jobs answered from it, none sent twice"
check_logs
