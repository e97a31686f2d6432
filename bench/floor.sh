#!/usr/bin/env bash
# The floor under a job's cost: provider calls alone through the worker's
# HTTP engine and adapter (bench/tools/http_floor.c), against the same fake
# provider as bench/run.sh, with no Kafka, store or routing. bench/run.sh's
# CPU per job minus this is what the rest of a job costs.
#
#   bench/floor.sh [CALLS=50000] [INFLIGHT=1000] [LATENCY_MS=200]
#
# TRANSPORT=h1|tls|h2 (bench/lib.sh): plain HTTP/1.1, HTTPS with HTTP/1.1,
# HTTPS with HTTP/2. Prints also the connections the fake accepted and the
# memory per call in flight (http-floor's peak RSS over its RSS before the
# first call, divided by INFLIGHT).
# CALLGRIND=1: run the calls under valgrind's callgrind instead and print
# instructions per call (start-up included), to set against
# bench/callgrind.sh's instructions per job (the same build, any load).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-50000}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
BENCH=floor source bench/lib.sh
start_fake "$T" --latency-ms "$LATENCY" --rpm 100000000 --tpm 100000000000
if [ "${CALLGRIND:-0}" = 1 ]; then
    valgrind --tool=callgrind --callgrind-out-file="$T/callgrind.out" \
        $BUILD/http-floor "$OPENAI_BASE_URL" "$CALLS" "$INFLIGHT" >"$T/floor.txt" 2>"$T/valgrind.log"
    total=$(callgrind_annotate "$T/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "http-floor instructions: $total total, $(( total / (CALLS + INFLIGHT) )) per call ($CALLS calls after $INFLIGHT warm-up calls, $INFLIGHT in flight, start-up included)"
    echo
    "$PY" bench/tools/cg_modules.py "$T/callgrind.out" $(( CALLS + INFLIGHT )) | sed -n '/by module/,$p'
    exit 0
fi
f0=$(cpu_us $FAKE_PID)
$BUILD/http-floor "$OPENAI_BASE_URL" "$CALLS" "$INFLIGHT"
echo "fake provider CPU us/call $(( ($(cpu_us $FAKE_PID) - f0) / (CALLS + INFLIGHT) ))"
echo "transport $TRANSPORT, the fake's counts: $(fake_stats connections_total tls_connections h2_streams)"
