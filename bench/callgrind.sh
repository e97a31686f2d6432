#!/usr/bin/env bash
# Instructions per job of the worker, counted by valgrind's callgrind:
# repeatable (the same binary and input give the same count whatever else
# the machine is doing), and with a full call graph of where they go.
#
#   bench/callgrind.sh [JOBS=5000] [INFLIGHT=256]
#
# Loads JOBS jobs, lets the scheduler route them, then runs one worker
# under callgrind until the last result is on the output topic. Prints the
# worker's instructions per job (start-up included; run with two JOBS
# values to take it out), the functions that cost the most, inclusive, and
# (bench/tools/cg_modules.py) the job's stages and the modules they run in.
# The profile stays in $T/callgrind.out (KEEP_TMP=1) for callgrind_annotate
# or kcachegrind. FALLBACK=1: every job falls back once (as in run.sh).
# METRICS=1: the worker serves --http (as in run.sh). BENCH_PIPELINE,
# FAKE_ARGS and WORKER_ARGS as in run.sh: BATCH=1 profiles bench/batch.sh's
# batch tier (bench/batch.yaml, its fake-provider and worker options).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-5000}; INFLIGHT=${2:-256}
if [ "${BATCH:-0}" = 1 ]; then
    BENCH_PIPELINE=bench/batch.yaml
    FAKE_ARGS="--batch-ms ${BATCH_MS:-1000} ${FAKE_ARGS:-}"
    WORKER_ARGS="--max-answer-bytes 67108864 --max-jobs 20000 --max-jobs-per-partition 20000 ${WORKER_ARGS:-}"
    export BENCH_PIPELINE
fi
BENCH=callgrind source bench/lib.sh
command -v valgrind >/dev/null || ./scripts/deps.sh bench/packages

bench_pipeline "$T"
start_fake "$T" --latency-ms 5 --rpm 100000000 --tpm 100000000000 ${FAKE_ARGS:-}
export OPENAI_API_KEY=bench-key
start_broker "$T" "$PIPELINE" 12
make_jobs "$JOBS" c bench >"$T/jobs.jsonl"
$SY submit --quiet "$T/jobs.jsonl" >/dev/null
$SY scheduler -p "$PIPELINE" >"$T/scheduler.log" 2>&1 & PIDS+=($!)

valgrind --tool=callgrind --callgrind-out-file="$T/callgrind.out" ${CALLGRIND_ARGS:-} \
    $SY worker -p "$PIPELINE" --max-inflight "$INFLIGHT" ${WORKER_ARGS:-} ${METRICS:+--http 127.0.0.1:0} \
    --state-dir "$T/state" >"$T/worker.log" 2>&1 & PIDS+=($!); WORKER_PID=$!
$SY results --topic switchyard.results.bench --count "$JOBS" --timeout-ms 600000 >"$T/results.jsonl"
kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true
PIDS=("${PIDS[@]:0:${#PIDS[@]}-1}")

callgrind_annotate --inclusive=yes "$T/callgrind.out" >"$T/annotate.txt" 2>/dev/null
total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' "$T/annotate.txt")
echo "jobs $JOBS  in-flight $INFLIGHT"
echo "worker instructions: $total total, $(( total / JOBS )) per job"
grep -E '^ *[0-9,]+ ' "$T/annotate.txt" | sed -n "2,${TOP:-40}p" |
    awk -v n="$JOBS" '{c=$1; gsub(",", "", c); $1=""; $2=""; sub(/ \[.*\]$/, ""); printf "%10d /job %s\n", c / n, $0}'
echo
"$PY" bench/tools/cg_modules.py "$T/callgrind.out" "$JOBS"
