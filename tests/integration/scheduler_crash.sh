#!/usr/bin/env bash
# The scheduler is killed with SIGKILL 7 times while it routes 4,000 jobs
# streamed onto the jobs topic (~80/s while the kills go on, then the rest
# at once), each time at a random moment soon after it got its partitions,
# and restarted. A killed scheduler has routed
# jobs whose jobs-topic offsets it had not committed yet: its successor routes
# them again. Asserts: the tier topic did receive such second copies, and
# still every job has exactly one result (the worker tells a copy routed
# again, same origin, from a producer's resubmission, another origin), and
# no job was called twice. SCHED_ARGS adds scheduler options
# (scheduler_txn.sh: --transactions). On a real Kafka (SY_KAFKA=real) with
# --transactions, the second copies are aborted: a read_committed reader
# sees one message per job and the worker releases no copy.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=${SCHED_CRASH_JOBS:-4000}
KILLS=${SCHED_CRASH_KILLS:-7}

start_fake --latency-ms 20 --jitter-ms 20
start_broker "$P"
start_worker worker -p "$P" --max-inflight 256 --state-dir "$T/state"
WORKER_PID=$LAST_PID
sched() { # n
    "$SY_BIN" scheduler -p "$P" "${KILL_GROUP_OPTS[@]}" ${SCHED_ARGS:-} >"$T/scheduler-$1.log" 2>&1 &
    PIDS+=($!)
    SCHED_PID=$!
}
sched 0
echo_jobs "$N" s- >"$T/jobs.jsonl"
# ~80 jobs/s while the kills go on; once they are done ($T/kills-done),
# the rest at once: the last scheduler routes them as well.
"$PY" -c '
import os, sys, time
lines = open(sys.argv[1]).readlines()
for i, l in enumerate(lines):
    sys.stdout.write(l)
    if i % 8 == 7 and not os.path.exists(sys.argv[2]):
        sys.stdout.flush()
        time.sleep(0.1)
' "$T/jobs.jsonl" "$T/kills-done" | "$SY_BIN" submit --quiet --format jsonl - >"$T/submit.out" 2>&1 &
SUBMIT_PID=$!
PIDS+=($SUBMIT_PID)

for k in $(seq 1 "$KILLS"); do
    for _ in $(seq 300); do grep -q "rebalance: assigned" "$T/scheduler-$((k - 1)).log" && break; sleep 0.1; done
    sleep "$("$PY" -c 'import random; print(round(random.uniform(0.2, 1.5), 2))')"
    kill -9 "$SCHED_PID"; wait "$SCHED_PID" 2>/dev/null || true
    echo "   kill -9 #$k of the scheduler: $(cat "$T/calls.jsonl" 2>/dev/null | wc -l) calls so far"
    sched "$k"
done
touch "$T/kills-done"
wait "$SUBMIT_PID" || fail "submit: $(cat "$T/submit.out")"
# 20 more jobs once the last scheduler has its partitions (librdkafka 2.0's
# cooperative-sticky assignor asserts when a consumer is closed before its
# first assignment), so that it routes (and commits) some for sure.
for _ in $(seq 300); do grep -q "rebalance: assigned" "$T/scheduler-$KILLS.log" && break; sleep 0.1; done
echo_jobs $((N + 20)) s- | tail -n 20 >"$T/extra.jsonl" # s-N .. s-(N+19)
"$SY_BIN" submit --quiet "$T/extra.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count $((N + 20)) --timeout-ms 240000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $((N + 20)) results"
sleep 3
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
routed=$(kcat -C -b "$BROKERS" -t switchyard.tier.echo-tier -X isolation.level=read_uncommitted -e -q \
    -f '%k\n' 2>>"$T/kcat.log" | grep -c .)
echo "   $routed messages on the tier topic for $((N + 20)) jobs"
[ "$routed" -gt $((N + 20)) ] || fail "no job was routed twice: the kills did not test anything"
if [ "${SY_KAFKA:-}" = real ] && [[ " ${SCHED_ARGS:-} " == *" --transactions "* ]]; then
    # A real broker enforces the scheduler's transactions: what a killed
    # scheduler had routed since its last commit is aborted, so a
    # read_committed reader (the worker) sees each job once.
    committed=$(kcat -C -b "$BROKERS" -t switchyard.tier.echo-tier -X isolation.level=read_committed -e -q \
        -f '%k\n' 2>>"$T/kcat.log" | grep -c .)
    [ "$committed" = $((N + 20)) ] || fail "$committed committed messages on the tier topic for $((N + 20)) jobs"
    ok "transactions enforced: $((routed - committed)) routed message(s) aborted, one committed per job"
fi
: >"$T/maybe-twice.txt"
"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" $((N + 20)) s- \
    || fail "exactly one result per job"
kill "$WORKER_PID"; wait "$WORKER_PID" || true
kill "$SCHED_PID"; wait "$SCHED_PID" || fail "the last scheduler did not stop cleanly"
again=$(grep -o 'routed again [0-9]*' "$T/worker.log" | tail -1)
echo "   worker: $again"
if [ -n "${committed:-}" ] && [ "$again" != "routed again 0" ]; then
    fail "the worker saw copies of aborted routes ($again)"
fi
ok "$KILLS kill -9 of the scheduler, $((routed - N - 20)) job(s) routed twice: exactly one result per job"
check_logs
