#!/usr/bin/env bash
# Crash test: 20,000 jobs with provider latency; the worker is killed with
# SIGKILL 5 times, each at a random moment 1-4 s after it got its partitions
# (not during a group join), and restarted each time. Then:
#   - every job has exactly one result on the output topic (none lost, no
#     duplicate), and
#   - the fake provider's call log shows no second successful call for any
#     job, except jobs whose call the worker found IN_FLIGHT in its store at
#     a restart (the only calls that can be paid twice); their count is
#     printed.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=${CRASH_JOBS:-20000}
KILLS=${CRASH_KILLS:-5}

start_fake --latency-ms 100 --jitter-ms 100
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" c- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs"

worker_args=(-p "$P" --max-inflight 256 --state-dir "$T/state")
start_worker worker-0 "${worker_args[@]}"
for k in $(seq 1 "$KILLS"); do
    # A kill during the group join would hit a worker with nothing in work:
    # wait until this one owns partitions, then kill it at a random moment.
    for _ in $(seq 300); do grep -q "rebalance: assigned" "$T/worker-$((k - 1)).log" && break; sleep 0.1; done
    sleep "$("$PY" -c 'import random; print(round(random.uniform(1, 4), 1))')"
    kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
    done_now=$("$SY_BIN" results --topic switchyard.results.echo --timeout-ms 1500 | wc -l)
    echo "   kill -9 #$k: $done_now results so far"
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
