#!/usr/bin/env bash
# Crash test: 10,000 jobs with provider latency; the worker is killed with
# SIGKILL 5 times, each at a random moment after it got its partitions (not
# during a group join) and made calls, spread over the run (by the number of
# calls made), and restarted each time. Then:
#   - every job has exactly one result on the output topic (none lost, no
#     duplicate), and
#   - the fake provider's call log shows no second successful call for any
#     job, except jobs whose call the worker found IN_FLIGHT in its store at
#     a restart (the only calls that can be paid twice); their count is
#     printed.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=${CRASH_JOBS:-10000}
KILLS=${CRASH_KILLS:-5}

# The fake's rate-limit headers state 10,000 requests a minute by default,
# which the worker honours: the run's ~11,000 calls (repeats included) then
# wait ~25 s for the window's reset. A stated limit the run never reaches:
start_fake --latency-ms 100 --jitter-ms 100 --rpm 1000000
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" c- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs"

worker_args=(-p "$P" --max-inflight 256 --state-dir "$T/state" "${KILL_GROUP_OPTS[@]}")
calls_made() { wc -l <"$T/calls.jsonl" 2>/dev/null || echo 0; }
start_worker worker-0 "${worker_args[@]}"
for k in $(seq 1 "$KILLS"); do
    # A kill during the group join would hit a worker with nothing in work:
    # wait until this one owns partitions and has made 50 calls, then kill
    # it at a random moment: when the run has made a random number of calls
    # in the k-th of KILLS + 2 spans of N (so every kill has work left to
    # hit, however fast the machine).
    for _ in $(seq 300); do grep -q "rebalance: assigned" "$T/worker-$((k - 1)).log" && break; sleep 0.1; done
    want=$((N * k / (KILLS + 2) + RANDOM % (N / (KILLS + 2))))
    [ "$want" -gt $(($(calls_made) + 50)) ] || want=$(($(calls_made) + 50))
    for ((i = 0; i < 2400; i++)); do [ "$(calls_made)" -ge "$want" ] && break; sleep 0.05; done
    [ "$(calls_made)" -ge "$want" ] || fail "worker-$((k - 1)): stuck at $(calls_made) calls"
    kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
    echo "   kill -9 #$k after $(calls_made) calls"
    start_worker "worker-$k" "${worker_args[@]}"
done
"$SY_BIN" results --topic switchyard.results.echo --count "$N" --timeout-ms 240000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $N results"
sleep 3
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true

grep -h "call may have been in flight" "$T"/worker-*.log | sed 's/.*key=\([^ ]*\).*/\1/' | sort -u >"$T/maybe-twice.txt" || true
"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" c- \
    || fail "crash test assertions"
ok "exactly one result per job across $KILLS kill -9; no call repeated after its success was stored"
check_logs
