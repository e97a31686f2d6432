#!/usr/bin/env bash
# Start-up with a large store: how long from launching a worker to its first
# provider call when its state directory already holds KEYS idempotency
# keys, next to the same start with an empty store.
#
#   bench/startup.sh [KEYS=1000000]
#
# The store is filled with bench/tools/fill_state.c (finished jobs with a
# ~400-byte result each, unexpired), through the worker's own store code.
# 100 jobs wait on the tier topic before each worker starts. Printed, from
# the worker's log and the fake provider's call log (latency 0, so a call is
# logged as it arrives):
#   ready     launch -> "started" (store opened, unfinished jobs recovered,
#             subscribed)
#   assigned  launch -> partitions assigned (the broker's group join)
#   first     launch -> first call at the provider
# COLD=1 drops the page cache before each start (needs root), so the store
# is read from disk, not from memory. BUILD, KEEP_TMP as in bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-1000000}
BENCH=startup source bench/lib.sh

ms_of() { "$PY" -c "import datetime, sys; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00')).timestamp() * 1000))" "$1"; }

t=$(date +%s%N)
$BUILD/fill-state "$T/full" "$KEYS" >/dev/null
echo "filled $KEYS keys in $(( ($(date +%s%N) - t) / 1000000 )) ms; store $(du -sh "$T/full" | cut -f1)"

start_fake "$T" --latency-ms 0 --call-log "$T/calls.jsonl"
export OPENAI_API_KEY=bench-key
start_broker "$T" bench/bench.yaml 12
$SY scheduler -p bench/bench.yaml >"$T/scheduler.log" 2>&1 & PIDS+=($!)

# one_start NAME STATE_DIR: 100 new jobs, then a worker in a group of its own.
one_start() {
    local name=$1 dir=$2 calls0 launch
    make_jobs 100 "$name" bench >"$T/$name.jsonl"
    $SY submit --quiet "$T/$name.jsonl" >/dev/null
    sleep 2 # the scheduler moves them to the tier topic
    calls0=$(wc -l <"$T/calls.jsonl" 2>/dev/null || echo 0)
    [ "${COLD:-0}" = 1 ] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
    launch=$(( $(date +%s%N) / 1000000 ))
    $SY worker -p bench/bench.yaml --group "startup-$name" --state-dir "$dir" >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 2000); do
        [ "$(wc -l <"$T/calls.jsonl" 2>/dev/null || echo 0)" -gt "$calls0" ] && break
        sleep 0.005
    done
    local first ready assigned keys
    first=$(sed -n "$((calls0 + 1))p" "$T/calls.jsonl" | "$PY" -c "import json, sys; print(json.load(sys.stdin)['ts_ms'])")
    ready=$(ms_of "$(grep -m1 'started:' "$T/$name.log" | cut -d' ' -f1)")
    assigned=$(ms_of "$(grep -m1 'rebalance: assigned' "$T/$name.log" | cut -d' ' -f1)")
    keys=$(grep -m1 -o '[0-9]* key(s) in the store' "$T/$name.log" | cut -d' ' -f1)
    printf "%-6s %9s keys in store   ready %5d ms   assigned %5d ms   first call %5d ms\n" \
        "$name" "$keys" $((ready - launch)) $((assigned - launch)) $((first - launch))
    stop_worker_last
}
stop_worker_last() { local p=${PIDS[-1]}; kill "$p"; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

one_start full "$T/full"
one_start empty "$T/empty"
