#!/usr/bin/env bash
# The opt-in transactions mode (`switchyard worker --transactions`): 2,000
# jobs with provider latency; the worker, in that mode, is killed with
# SIGKILL twice mid-run and restarted each time, then stopped cleanly. Then:
#   - every job has exactly one result and no job was called again after
#     its success was stored (exactly_once.py, as in crash.sh), and
#   - the mode really ran: every worker started its transactional producer
#     with a transactional.id that survives a restart (kept in the state
#     directory), and the last worker committed transactions (count > 0);
#   - a job whose result is too large for Kafka (refused by the client) ends
#     as a dead letter, in this mode too.
# The embedded broker accepts transactions without enforcing them, so this
# shows that the mode runs and keeps the guarantee the store gives, not what
# transactions add on a real Kafka (see README, Durability).
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=${TXN_JOBS:-2000}
KILLS=${TXN_KILLS:-2}

start_fake --latency-ms 100 --jitter-ms 100
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" t- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs"

# Each kill comes once the run is well under way (progress: the fake
# provider's call log), at a random moment after that: calls in flight,
# results in an open transaction. 48 calls in flight: ~300 calls a second,
# so the run is over soon after the kills, yet the later kill (past N/2
# calls and 1.5 s at most) still leaves a quarter of the jobs to do.
calls_made() { wc -l <"$T/calls.jsonl"; }
worker_args=(-p "$P" --transactions --max-inflight 48 --state-dir "$T/state" "${KILL_GROUP_OPTS[@]}")
start_worker worker-0 "${worker_args[@]}"
for k in $(seq 1 "$KILLS"); do
    want=$((N * k / (KILLS + 2)))
    for ((i = 0; i < 120; i++)); do [ "$(calls_made)" -ge "$want" ] && break; sleep 0.5; done
    sleep "$("$PY" -c 'import random; print(round(random.uniform(0, 1.5), 1))')"
    kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
    echo "   kill -9 #$k after $(calls_made) calls"
    start_worker "worker-$k" "${worker_args[@]}"
done
# A result the Kafka client refuses for good (1.2 MB): a dead letter, not an
# abort that produces it again forever.
echo '{"id": "x-big", "task": "long-echo", "vars": {"word": "[[size:1200000]]"}}' >"$T/big.jsonl"
"$SY_BIN" submit --quiet "$T/big.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count "$N" --timeout-ms 240000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $N results"
"$SY_BIN" results --topic switchyard.dlq --headers --count 1 --timeout-ms 30000 >"$T/dlq.jsonl" \
    || fail "no dead letter for the job whose result is too large"
grep -q '"switchyard.error.class":"result_unpublishable"' "$T/dlq.jsonl" || fail "dead letter: $(head -c 600 "$T/dlq.jsonl")"
sleep 3
kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "the last worker did not stop cleanly"
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true

grep -h "call may have been in flight" "$T"/worker-*.log | sed 's/.*key=\([^ ]*\).*/\1/' | sort -u >"$T/maybe-twice.txt" || true
"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" t- \
    || fail "transactions test assertions"
ok "exactly one result per job across $KILLS kill -9 in transactions mode"

ids=$(grep -h "transactions on: transactional.id " "$T"/worker-*.log | sed 's/.*transactional.id \([^" ]*\).*/\1/' | sort -u)
[ "$(grep -l "transactions on: transactional.id switchyard-switchyard-workers-" "$T"/worker-*.log | wc -l)" = $((KILLS + 1)) ] \
    || fail "not every worker started its transactional producer"
[ "$(echo "$ids" | wc -l)" = 1 ] || fail "the transactional.id changed across restarts: $ids"
committed=$(grep -h "transactions: [0-9]* committed" "$T/worker-$KILLS.log" | tail -n 1 | sed 's/.*transactions: \([0-9]*\) committed.*/\1/')
[ "${committed:-0}" -gt 0 ] || fail "the last worker committed no transaction"
ok "transactional.id $ids kept across $KILLS restarts; the last worker committed $committed transaction(s)"
check_logs
