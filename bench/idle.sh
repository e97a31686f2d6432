#!/usr/bin/env bash
# What a scheduler and a worker cost with nothing to do: their CPU per
# second (user and kernel apart) once joined, on the embedded broker, no
# jobs. A fixed cost that a busy worker shares among its jobs per second.
#
#   bench/idle.sh [SECONDS=10]
#
# WORKER_ARGS: more options for the worker (e.g. --commit-interval-ms 5).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
BENCH=idle source bench/lib.sh
bench_pipeline "$T"
start_fake "$T" --latency-ms 200
export OPENAI_API_KEY=bench-key
start_broker "$T" "$PIPELINE" 12
$SY scheduler -p "$PIPELINE" >"$T/scheduler.log" 2>&1 & PIDS+=($!); SCHED_PID=$!
$SY worker -p "$PIPELINE" ${WORKER_ARGS:-} --state-dir "$T/state" >"$T/worker.log" 2>&1 & PIDS+=($!); WORKER_PID=$!
run_us() { cat /proc/$1/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s / 1000 }'; } # all threads, ns precision (stat counts 10 ms ticks)
sleep 8 # the group join (the embedded broker's first join waits 3 s)
sr0=$(run_us $SCHED_PID); wr0=$(run_us $WORKER_PID)
s0=$(cpu_us $SCHED_PID); sk0=$(sys_us $SCHED_PID); w0=$(cpu_us $WORKER_PID); wk0=$(sys_us $WORKER_PID)
b0=$(cpu_us $BROKER_PID)
sleep "$SECS"
s=$(( $(cpu_us $SCHED_PID) - s0 )); sk=$(( $(sys_us $SCHED_PID) - sk0 ))
w=$(( $(cpu_us $WORKER_PID) - w0 )); wk=$(( $(sys_us $WORKER_PID) - wk0 ))
b=$(( $(cpu_us $BROKER_PID) - b0 ))
sr=$(( $(run_us $SCHED_PID) - sr0 )); wr=$(( $(run_us $WORKER_PID) - wr0 ))
echo "idle over $SECS s, CPU us per second: scheduler $(( sr / SECS )), worker $(( wr / SECS ))" \
     "(schedstat); in 10 ms ticks, user + kernel: scheduler $(( (s - sk) / SECS )) + $(( sk / SECS ))," \
     "worker $(( (w - wk) / SECS )) + $(( wk / SECS )), broker $(( b / SECS ))"
