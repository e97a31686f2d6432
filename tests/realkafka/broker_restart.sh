#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): the single broker is killed with
# SIGKILL in the middle of a run and started again 5 s later (same data,
# same ports). The scheduler and the worker stay up, reconnect and finish:
# every job has exactly one result, no call was paid twice. The worker's
# group session times out meanwhile, so it gives its partitions up with
# results still waiting for the broker, and gets them back: the messages
# of those results come again (before the fix in run.c, first_copy_publishing,
# 2 runs of 3 published 16 and 73 results twice).
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
N=${RESTART_JOBS:-5000}

start_fake --latency-ms 50 --jitter-ms 50
start_broker "$P"
start_scheduler "$P"
SCHED_PID=${PIDS[-1]}
echo_jobs "$N" b- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs"
start_worker worker -p "$P" --max-inflight 128 --state-dir "$T/state"
WORKER_PID=$LAST_PID

calls_made() { wc -l <"$T/calls.jsonl"; }
for ((i = 0; i < 600; i++)); do [ "$(calls_made)" -ge $((N / 3)) ] && break; sleep 0.2; done
"$KAFKA_SH" kill 1 --dir "$T/kafka"
ok "broker killed (SIGKILL) after $(calls_made) calls"
sleep 5 # with the start, past the session timeout (6 s): the worker loses its partitions and gets them back
"$KAFKA_SH" start --dir "$T/kafka" >>"$T/kafka-start.out" 2>&1 || fail "the broker did not start again"
ok "broker started again"

check_rode_through "$N" b- "$SCHED_PID" "$WORKER_PID"
check_logs
