#!/usr/bin/env bash
# A batch tier's worker killed while it publishes a batch's results: the
# batch has answered its 100 jobs, their PUBLISHING records are durable
# (store and changelog) and their offsets committed long ago (the batch
# owned them), and the worker is killed (SWITCHYARD_BATCH_CRASH_AT=
# before_result) before the first result is produced. The restarted worker
# must publish every result, once: the batch's record is kept until the
# results it answered are out, so the restart rebuilds the jobs from it and
# answers them from the store (docs/durability.md, "Batch tiers"). Before,
# the record went with the results' PUBLISHING records and no job came
# back: 0 of 100 results.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_batch.sh"
N=100
NA=0
batch_killed_publishing c
start_worker worker-b "${args[@]}"
B=$LAST_PID
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 30000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results after the restart"
grep -q "$N job(s) rebuilt from batch records" "$T/worker-b.log" || fail "worker-b rebuilt no jobs"
batch_stop_and_check worker-b "$B" c "results after the kill"
ok "B: rebuilt the $N jobs from the batch record and answered each once from the store"
check_logs
