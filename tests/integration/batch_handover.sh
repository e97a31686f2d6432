#!/usr/bin/env bash
# A revoke catches batch jobs that no batch owns yet (docs/durability.md,
# "Batches follow partitions"). The tier topics have 2 partitions; the
# fake provider answers each batch API call after 2.5 s, so a batch's
# upload and create take 5 s. Worker A consumes bulk-tier (OpenAI, 30 jobs
# a batch, 6 s of collecting at most) and claude-bulk-tier (idle); B joins
# for bulk-tier only and gets both its partitions:
#   - 30 jobs of partition 0 fill a batch still uploading or creating when
#     A's partitions are revoked: A waits until the batch owns its jobs
#     (record on the changelog, offsets committed), then leaves them to B,
#     which rebuilds them from the record; A stops polling the batch;
#   - 10 jobs of partition 1 still collecting at the revoke: A drops them
#     from its collecting batch (never sent), B consumes them and sends
#     them in a batch of its own.
# Every job has exactly one result, no custom_id is in two created
# batches, and each batch's output is downloaded once (by the worker that
# answers its jobs). Before: both workers answered the moved jobs, the
# collecting ones went in two batches, and both downloaded the moved batch.
source "$(dirname "$0")/lib.sh"
P="$T/pipeline.yaml"
sed -e '/^  bulk-tier:/,/retry:/s/batch: {max_jobs: 100, max_wait_ms: 300,/batch: {max_jobs: 30, max_wait_ms: 6000,/' \
    tests/pipelines/batch.yaml >"$P"
grep -q 'max_jobs: 30, max_wait_ms: 6000' "$P" || fail "pipeline not made"
N0=30 N1=10

start_fake --batch-ms 1000 --batch-call-ms 2500
BROKER_PARTITIONS=2 start_broker "$P"
start_scheduler "$P"
partition_jobs "$N0" 0 0 >"$T/p0.jsonl"
partition_jobs "$N1" "$N0" 1 >"$T/p1.jsonl"
args=(-p "$P" --max-inflight 64 -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
start_worker worker-a "${args[@]}" --tiers bulk-tier,claude-bulk-tier --state-dir "$T/state-a"
"$SY_BIN" submit --quiet "$T/p0.jsonl" >/dev/null || fail "submit"
for _ in $(seq 200); do grep -q "tier 'bulk-tier'.*uploading" "$T/worker-a.log" && break; sleep 0.05; done
grep -q "tier 'bulk-tier'.*uploading" "$T/worker-a.log" || fail "worker-a sent no batch"
"$SY_BIN" submit --quiet "$T/p1.jsonl" >/dev/null || fail "submit"
sleep 0.3 # the 10 jobs are consumed and collected
start_worker worker-b "${args[@]}" --tiers bulk-tier --state-dir "$T/state-b"
ok "A sends a batch of partition 0 and collects one of partition 1; B joins"

N=$((N0 + N1))
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 40000 >/dev/null ||
    fail "not all $N results"
sleep 1.5 # a second answer would come now
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 2000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
"$PY" tests/integration/batch_once.py "$T" m "$N" a 0 read-once ||
    fail "not one result per job, one batch per job, one download per batch"
grep -q "batch job(s) wait for their batch to own them" "$T/worker-a.log" ||
    fail "the revoke did not come while the batch was on its way"
grep -q "$N1 batch job(s) no batch owns yet dropped here" "$T/worker-a.log" ||
    fail "worker-a did not drop the collecting jobs of the moved partition"
grep -q "$N0 batch-owned job(s) left to the partitions' next owner" "$T/worker-a.log" ||
    fail "worker-a did not leave the batch's jobs to B once owned"
grep -q "no job of it is left here" "$T/worker-a.log" || fail "worker-a still polls the batch it handed over"
grep -q "$N0 job(s) rebuilt from batch records" "$T/worker-b.log" || fail "worker-b rebuilt no job from A's record"
check_logs
