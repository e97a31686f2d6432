#!/usr/bin/env bash
# A batch's record must stay while a job rebuilt from it and answered from
# the store has its result still to go out. Worker A is killed once its
# batch's 100 results are staged PUBLISHING, before the first is produced
# (as in batch_publish_crash.sh). Worker B rebuilds the 100 jobs from the
# record and answers them from the store, but holds their results
# (SWITCHYARD_BATCH_HOLD_REBUILT_MS, a test hook) past the time the batch,
# polled again and over, is kept for late jobs (shortened to 1 s by
# SWITCHYARD_BATCH_ADOPT_KEEP_MS, a test hook; 120 s otherwise), and is
# killed with none of them out. Worker C must publish every result, once:
# the record, kept while B's results were not out, rebuilds the jobs again
# (docs/durability.md, "Batch tiers"). Before, B deleted the record (and
# tombstoned it) at the end of the keeping time: C rebuilt nothing, 0 of
# 100 results.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_batch.sh"
N=100
NA=0
batch_killed_publishing h

SWITCHYARD_BATCH_HOLD_REBUILT_MS=60000 SWITCHYARD_BATCH_ADOPT_KEEP_MS=1000 start_worker worker-b "${args[@]}"
B=$LAST_PID
for _ in $(seq 300); do grep -q "ms for late jobs" "$T/worker-b.log" && break; sleep 0.1; done
grep -q "ms for late jobs" "$T/worker-b.log" || fail "worker-b's batch was not kept and let go"
grep -q "$N job(s) rebuilt from batch records" "$T/worker-b.log" || fail "worker-b rebuilt no jobs"
sleep 1.5 # a record that goes is gone now: deleted in the store (group commit), tombstoned
kill -9 "$B"; wait "$B" 2>/dev/null || true
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 2000 >"$T/results.jsonl" || true
[ ! -s "$T/results.jsonl" ] || fail "worker-b put out $(wc -l <"$T/results.jsonl") result(s) it should hold"
ok "B: rebuilt the $N jobs, answered from the store, killed with their results held past the keeping time"

SWITCHYARD_BATCH_ADOPT_KEEP_MS=1000 start_worker worker-c "${args[@]}"
C=$LAST_PID
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 15000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results after the second kill"
grep -q "$N job(s) rebuilt from batch records" "$T/worker-c.log" || fail "worker-c rebuilt no jobs"
grep -q "once the $N result(s) it holds are out" "$T/worker-b.log" ||
    fail "worker-b let the record go with results not out: $(grep -o 'the [0-9]* result(s) it holds' "$T/worker-b.log")"
# the results out and the keeping time over, the record goes: not kept for good
for _ in $(seq 100); do grep -q 'its record goes"' "$T/worker-c.log" && break; sleep 0.1; done
grep -q 'its record goes"' "$T/worker-c.log" || fail "worker-c kept the record after the results were out"
batch_stop_and_check worker-c "$C" h "results after the second kill"
ok "C: rebuilt the $N jobs from the kept record, answered each once from the store, then let the record go"
check_logs
