#!/usr/bin/env bash
# A batch created and not recorded by a worker that died is adopted by the
# worker that gets its partition at a LATER rebalance, not only at its
# first assignment (docs/durability.md, "Batch tiers"): each changelog
# restore after the first reads the provider's listing again and matches
# the batches' metadata (switchyard_topic, switchyard_partitions) against
# the partitions it restored.
#   A  alone, gets both partitions of the tier topic; then B joins and gets
#      one of them (its first assignment), A keeps the other
#   20 jobs for each partition: B batches its own; A creates its batch and
#      is killed right after the create (SWITCHYARD_BATCH_CRASH_AT=
#      after_create): the batch is at the provider, not recorded, and the
#      jobs' offsets are not committed
#   B  gets A's partition when the group sees A gone (a later rebalance),
#      lists, adopts A's batch by its partition, and answers the 20 jobs
#      Kafka brings back from it. Before, B listed only at start: it sent
#      them in a new batch (the provider saw 20 custom_ids twice).
# Every job has one result, every custom_id was in one created batch
# (batch_once.py), and B did not adopt its own batch.
source "$(dirname "$0")/lib.sh"
bulk_batches_of 20
N=20

start_fake --batch-ms 2000
BROKER_PARTITIONS=2 start_broker "$P"
start_scheduler "$P"
partition_jobs "$N" 0 0 >"$T/jobs.jsonl"
partition_jobs "$N" "$N" 1 >>"$T/jobs.jsonl"
args=(-p "$P" --tiers bulk-tier --max-inflight 64 "${KILL_GROUP_OPTS[@]}" -X heartbeat.interval.ms=500)
wait_log() { # file pattern what
    for _ in $(seq 300); do grep -q -- "$2" "$1" && return 0; sleep 0.05; done
    fail "$3"
}
SWITCHYARD_BATCH_CRASH_AT=after_create start_worker worker-a "${args[@]}" --state-dir "$T/state-a"
A=$LAST_PID
wait_log "$T/worker-a.log" "rebalance: assigned 2 partition" "worker-a got no partitions"
start_worker worker-b "${args[@]}" --state-dir "$T/state-b"
B=$LAST_PID
wait_log "$T/worker-b.log" "rebalance: assigned 1 partition" "worker-b got no partition"
wait_log "$T/worker-b.log" "changelog: restored" "worker-b restored nothing"
wait_log "$T/worker-a.log" "rebalance: revoked 1 partition" "worker-a kept both partitions"
ok "A and B hold one partition each"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
crashed worker-a "$A" SWITCHYARD_BATCH_CRASH_AT=after_create
grep -q "$N job(s) created" "$T/worker-a.log" || fail "worker-a created no batch"
ok "A: killed between the create of its batch and its record"
wait_log "$T/worker-b.log" "1 partition(s) assigned; the provider's batches listed" \
    "worker-b did not list the provider's batches at the later rebalance"
"$SY_BIN" results --topic switchyard.results.bulk --count $((2 * N)) --timeout-ms 30000 >/dev/null ||
    fail "not all $((2 * N)) results"
sleep 1 # a second answer would come now
kill -TERM "$B"; wait "$B" 2>/dev/null || true
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 2000 >"$T/results.jsonl" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
cat "$T/batch-stats.json"
"$PY" tests/integration/batch_once.py "$T" m $((2 * N)) a 0 ||
    fail "not one result per job, one batch per job"
[ "$(grep -c "found by listing" "$T/worker-b.log")" = 1 ] ||
    fail "worker-b adopted $(grep -c "found by listing" "$T/worker-b.log") batch(es) by the listing, not A's alone"
ok "B got A's partition at a later rebalance, adopted A's batch by its partition: each job answered once, sent once"
check_logs
