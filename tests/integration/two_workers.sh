#!/usr/bin/env bash
# Two workers in one group; one is killed with SIGKILL mid-run and not
# restarted. The other takes over its partitions (after the session
# timeout), restores their job state from the changelog topics, and
# finishes. Then:
#   - every job has exactly one result on the output topic, none lost;
#   - no job was called twice unless its call was in flight on the killed
#     worker, or its success was known only to that worker's own store
#     (read from the killed worker's store with `switchyard state`);
#   - the survivor restored state for the moved partitions.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=${TWO_WORKERS_JOBS:-2000}

start_fake --latency-ms 200 --jitter-ms 200
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" t- >"$T/jobs.jsonl"

start_worker worker-a -p "$P" --tiers echo-tier --max-inflight 32 --state-dir "$T/state-a" "${KILL_GROUP_OPTS[@]}"
start_worker worker-b -p "$P" --tiers echo-tier --max-inflight 32 --state-dir "$T/state-b" "${KILL_GROUP_OPTS[@]}"
B=$LAST_PID
for _ in $(seq 150); do # both must own partitions before the jobs go in
    grep -q "rebalance: assigned" "$T/worker-a.log" && grep -q "rebalance: assigned" "$T/worker-b.log" && break
    sleep 0.1
done
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs to two workers"

"$SY_BIN" results --topic switchyard.results.echo --count $((N / 4)) --timeout-ms 120000 >/dev/null \
    || fail "no progress before the kill"
kill -9 "$B"; wait "$B" 2>/dev/null || true
ok "killed worker-b after $((N / 4)) results"

"$SY_BIN" results --topic switchyard.results.echo --count "$N" --timeout-ms 240000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $N results"
sleep 3 # a duplicate would arrive now
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true

"$SY_BIN" state --state-dir "$T/state-b" --unfinished 2>"$T/state-b.txt" >"$T/unfinished-b.txt"
# The killed worker's IN_FLIGHT calls, and successes it had stored only on
# its own disk (PUBLISHING whose changelog record had not landed), are the
# calls the survivor may make again: nobody else could know of them.
awk '$1 == "in_flight" || $1 == "publishing" {print $2}' "$T/unfinished-b.txt" >"$T/maybe-twice.txt"
echo "   killed worker's store: $(cat "$T/state-b.txt")"
grep -h "changelog: restored" "$T/worker-a.log" | sed 's/^/   worker-a: /'
grep -q "changelog: restored [1-9]" "$T/worker-a.log" || fail "worker-a restored no state from the changelog"

"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" t- \
    || fail "two-worker assertions"
ok "exactly one result per job after losing a worker; no call repeated after its success was stored"
check_logs
