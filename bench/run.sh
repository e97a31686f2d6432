#!/usr/bin/env bash
# End-to-end throughput and CPU cost per job on the embedded broker against
# the fake provider at a fixed latency.
#
#   bench/run.sh [JOBS=50000] [INFLIGHT=1000] [LATENCY_MS=200]
#
# Jobs are loaded onto the jobs topic first; then the scheduler and a worker
# start and the clock runs until the last result is on the output topic.
# Prints jobs/s, the ideal (in-flight limit / latency), and the CPU
# microseconds per job of each process (from /proc/PID/stat).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-50000}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
BUILD=${BUILD:-build}
SY=$BUILD/switchyard; FAKE=$BUILD/fake-provider
T=$(mktemp -d /tmp/switchyard-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT

cpu_us() { # pid -> user+system CPU in microseconds
    awk -v tck="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000000 / tck)}' "/proc/$1/stat"
}
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
$FAKE --port 0 --port-file "$T/port" --latency-ms "$LATENCY" ${FAKE_ARGS:---rpm 100000000 --tpm 100000000000} >"$T/fake.log" 2>&1 & PIDS+=($!); FAKE_PID=$!
wait_file "$T/port"
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" OPENAI_API_KEY=bench-key
$SY broker -p bench/bench.yaml --partitions 12 --brokers-file "$T/brokers" >"$T/broker.log" 2>&1 & PIDS+=($!); BROKER_PID=$!
wait_file "$T/brokers"
export SWITCHYARD_BROKERS=$(cat "$T/brokers")

python3 -c "
import json
for i in range($JOBS):
    print(json.dumps({'id': 'b-%d' % i, 'task': 'bench', 'vars': {'n': i, 'text': 'the printer on floor %d jams every morning' % (i % 97)}, 'metadata': {'team': 'bench'}}))
" >"$T/jobs.jsonl"
$SY submit --quiet "$T/jobs.jsonl" >/dev/null

b0=$(cpu_us $BROKER_PID); f0=$(cpu_us $FAKE_PID)
t0=$(date +%s%N)
$SY scheduler -p bench/bench.yaml >"$T/scheduler.log" 2>&1 & PIDS+=($!); SCHED_PID=$!
$SY worker -p bench/bench.yaml --max-inflight "$INFLIGHT" ${WORKER_ARGS:-} --state-dir "$T/state" >"$T/worker.log" 2>&1 & PIDS+=($!); WORKER_PID=$!
$SY results --topic switchyard.results.bench --count "$JOBS" --timeout-ms 300000 >"$T/results.jsonl"
t1=$(date +%s%N)
s=$(cpu_us $SCHED_PID); w=$(cpu_us $WORKER_PID); b=$(( $(cpu_us $BROKER_PID) - b0 )); f=$(( $(cpu_us $FAKE_PID) - f0 ))
if grep -qiE 'offset out of range|offset reset' "$T"/*.log; then echo "WARNING: the embedded broker dropped data" >&2; fi

python3 - "$JOBS" "$INFLIGHT" "$LATENCY" "$t0" "$t1" "$s" "$w" "$b" "$f" "$T/results.jsonl" <<'PY'
import json, sys
jobs, inflight, lat, t0, t1, s, w, b, f = map(int, sys.argv[1:10])
done = sorted(json.loads(l)["finished_ms"] for l in open(sys.argv[10]) if l.strip())
secs = (t1 - t0) / 1e9
ideal = inflight / (lat / 1000)
# Steady state: the middle 80% of results (the group join, the ramp-up and
# the tail are left out), as results per second.
lo, hi = done[len(done) // 10], done[len(done) * 9 // 10]
steady = (len(done) * 8 // 10) / max((hi - lo) / 1000, 1e-3)
print(f"jobs {jobs}  in-flight {inflight}  provider latency {lat} ms")
print(f"elapsed {secs:.2f} s (first result after {(done[0] - t0 / 1e6) / 1000:.1f} s)   overall {jobs/secs:,.0f} jobs/s")
print(f"steady {steady:,.0f} jobs/s   ideal {ideal:,.0f} jobs/s   ({100*steady/ideal:.0f}% of ideal)")
print(f"CPU us/job: scheduler {s/jobs:.1f}  worker {w/jobs:.1f}  together {(s+w)/jobs:.1f}   | broker {b/jobs:.1f}  fake provider {f/jobs:.1f}")
PY
