#!/usr/bin/env bash
# A batch tier's partitions move to another worker with their batches
# (docs/durability.md, "Batch tiers"). Worker A records its created
# batches (they own their jobs, whose input offsets are committed) and
# mirrors each batch's record to the tier's changelog (one record per
# partition, with that partition's jobs).
#   1. 150 jobs of an OpenAI batch tier (two batches, each carrying
#      several partitions' jobs); worker B (that tier only) joins while
#      they run: A leaves the batch-owned jobs of the partitions it loses
#      to B (it no longer answers them), B restores their records from
#      the changelog and answers them from the same batches.
#      Worker D (that tier only) joins while B's rebuilt jobs have not
#      joined their batch yet (B holds them 5 s: a test hook): B leaves
#      those of the partition it loses to D, which rebuilds them from the
#      same records (before: B answered them too).
#   2. 40 jobs of an Anthropic message-batch tier (only A consumes it);
#      A records the batch, is killed with SIGKILL and its --state-dir
#      deleted. Worker C (that tier only, an empty state dir) gets the
#      partitions, restores the record (no listing finds message batches),
#      polls the batch (no new one), rebuilds the jobs (Kafka has nothing
#      left to deliver: C consumes nothing) and answers them.
# Every job has exactly one result, and the fake provider saw every
# custom_id in exactly one created batch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_batch.sh"
P=tests/pipelines/batch.yaml
N=150 # over 6 partitions: each batch (100 jobs at most) carries several partitions' jobs
NA=40 # one message batch

start_fake --batch-ms 6000
start_broker "$P"
start_scheduler "$P"
word_jobs "$N" m bulk >"$T/jobs.jsonl"
word_jobs "$NA" a claude-bulk >"$T/claude.jsonl"
args=(-p "$P" --max-inflight 64 -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
start_worker worker-a "${args[@]}" --tiers bulk-tier,claude-bulk-tier --state-dir "$T/state-a"
A=$LAST_PID
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
owned() { grep -c "$1.*it owns its" "$T/worker-a.log" || true; }
for _ in $(seq 200); do [ "$(owned batch_)" -ge 2 ] && break; sleep 0.1; done
[ "$(owned batch_)" -ge 2 ] || fail "worker-a recorded $(owned batch_) of 2 batches owning their jobs"
ok "A: 2 batches recorded, on the changelog"

# B holds its rebuilt jobs 5 s before they join their batch (test hook),
# so that D's arrival revokes a partition of B while they have not joined
SWITCHYARD_BATCH_HOLD_REBUILT_MS=5000 start_worker worker-b "${args[@]}" --tiers bulk-tier --state-dir "$T/state-b"
for _ in $(seq 100); do grep -q "job(s) rebuilt from batch records" "$T/worker-b.log" && break; sleep 0.1; done
grep -q "job(s) rebuilt from batch records" "$T/worker-b.log" || fail "worker-b took no batch-owned jobs from A"
grep -q "batch-owned job(s) left to the partitions' next owner" "$T/worker-a.log" ||
    fail "worker-a did not leave its revoked partitions' batch-owned jobs"
start_worker worker-d "${args[@]}" --tiers bulk-tier --state-dir "$T/state-d"
for _ in $(seq 100); do grep -q "rebuilt job(s) not in their batch yet left" "$T/worker-b.log" && break; sleep 0.1; done
grep -q "rebuilt job(s) not in their batch yet left" "$T/worker-b.log" ||
    fail "worker-b did not leave the rebuilt jobs of the partition D took"
! grep -q "uploading" "$T/worker-b.log" "$T/worker-d.log" || fail "worker-b or worker-d sent jobs in a new batch"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 20000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
grep -q "job(s) rebuilt from batch records" "$T/worker-d.log" || fail "worker-d rebuilt no job"
ok "1: B joined, A left it the jobs of the partitions it lost; D joined while B's rebuilt jobs had not joined their batches, B left D those of the partition it lost; all answered from the same batches"

# D's arrival moves partitions in more than one round: A's offsets must
# not be committed in the middle of one (the commit fails, C would consume
# the jobs again), so the group is let settle: no rebalance for 3 s
quiet=0 last=
for _ in $(seq 60); do
    now=$(cat "$T"/worker-*.log | grep -c "rebalance:")
    if [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    last=$now
    [ "$quiet" -ge 6 ] && break
    sleep 0.5
done
"$SY_BIN" submit --quiet "$T/claude.jsonl" >/dev/null || fail "submit (claude)"
for _ in $(seq 200); do [ "$(owned msgbatch_)" -ge 1 ] && break; sleep 0.1; done
[ "$(owned msgbatch_)" -ge 1 ] || fail "worker-a recorded no message batch"
sleep 0.4 # the offsets' commit (every 100 ms); the batch runs 6 s
kill -9 "$A"; wait "$A" 2>/dev/null || true
rm -rf "$T/state-a"
ok "2: A recorded a message batch, was killed, its state dir deleted"
start_worker worker-c "${args[@]}" --tiers claude-bulk-tier --state-dir "$T/state-c"
C=$LAST_PID
"$SY_BIN" results --topic switchyard.results.claude --count "$NA" --timeout-ms 20000 >"$T/claude-results.jsonl" ||
    fail "only $(wc -l <"$T/claude-results.jsonl") of $NA Anthropic results"
grep -q "$NA job(s) rebuilt from batch records" "$T/worker-c.log" || fail "worker-c did not rebuild the $NA jobs"
grep -q "msgbatch_.*restored from the changelog after a restart" "$T/worker-c.log" ||
    fail "worker-c did not take the message batch from the changelog"
! grep -q "uploading" "$T/worker-c.log" || fail "worker-c sent jobs in a new batch"
batch_stop_and_check worker-c "$C" m "results after the takeover"
ok "C: restored the batch from the changelog, consumed nothing, answered its $NA jobs"
check_logs
