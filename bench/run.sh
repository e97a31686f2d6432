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
#
# SY_KAFKA=real: on a real Apache Kafka node (scripts/kafka.sh) instead of
# the embedded broker; "broker" CPU is then the Kafka JVM's.
#
# METRICS=1: the worker serves --http 127.0.0.1:0 (metrics counted and the
# page rendered once a second; README, Metrics and health).
# TRANSPORT=h1|tls|h2 (bench/lib.sh): plain HTTP/1.1 (default), HTTPS with
# HTTP/1.1, HTTPS with HTTP/2; prints the connections the fake accepted and
# the worker's peak RSS too.
#
# FALLBACK=1: every job's first call goes to a second fake provider that
# answers 500, and the job falls back to the working model
# (bench/fallback.yaml): two calls per job, the fallback path's cost.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-50000}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
BENCH=bench source bench/lib.sh

bench_pipeline "$T"
start_fake "$T" --latency-ms "$LATENCY" ${FAKE_ARGS:---rpm 100000000 --tpm 100000000000}
export OPENAI_API_KEY=bench-key
start_broker "$T" "$PIPELINE" 12
make_jobs "$JOBS" b bench >"$T/jobs.jsonl"
$SY submit --quiet "$T/jobs.jsonl" >/dev/null

b0=$(cpu_us $BROKER_PID); f0=$(cpu_us $FAKE_PID); g0=$(cpu_us ${FAILING_PID:-$FAKE_PID})
t0=$(date +%s%N)
$SY scheduler -p "$PIPELINE" ${METRICS:+--http 127.0.0.1:0} >"$T/scheduler.log" 2>&1 & PIDS+=($!); SCHED_PID=$!
${WORKER_WRAP:-} $SY worker -p "$PIPELINE" --max-inflight "$INFLIGHT" ${WORKER_ARGS:-} ${METRICS:+--http 127.0.0.1:0} --state-dir "$T/state" >"$T/worker.log" 2>&1 & PIDS+=($!); WORKER_PID=$!
# Warm figures: the scheduler's and worker's CPU sampled when 20% and when
# 80% of the results are in (the group join, ramp-up and tail left out).
( for mark in $(( JOBS / 5 )) $(( JOBS * 4 / 5 )); do
      while [ "$(wc -l 2>/dev/null <"$T/results.jsonl" || echo 0)" -lt "$mark" ]; do
          kill -0 "$WORKER_PID" 2>/dev/null || exit 0; sleep 0.05; done
      echo "$(date +%s%3N) $(( $(cpu_us $SCHED_PID) + $(cpu_us $WORKER_PID) ))" >>"$T/warm"
  done ) & WARM_PID=$!
$SY results --topic switchyard.results.bench --count "$JOBS" --timeout-ms 300000 >"$T/results.jsonl"
t1=$(date +%s%N)
wait "$WARM_PID" 2>/dev/null || true
s=$(cpu_us $SCHED_PID); w=$(cpu_us $WORKER_PID); wk=$(sys_us $WORKER_PID); b=$(( $(cpu_us $BROKER_PID) - b0 )); f=$(( $(cpu_us $FAKE_PID) - f0 ))
[ -n "${FAILING_PID:-}" ] && f=$(( f + $(cpu_us $FAILING_PID) - g0 )) # both fakes
check_broker_kept_up || true
echo "transport $TRANSPORT: the fake's counts $(fake_stats connections_total h2_streams);" \
     "worker peak RSS $(awk '/VmHWM/ {print $2}' /proc/$WORKER_PID/status) KB (all of it; per call: bench/floor.sh)"

"$PY" - "$JOBS" "$INFLIGHT" "$LATENCY" "$t0" "$t1" "$s" "$w" "$b" "$f" "$wk" "$T/results.jsonl" "$T/warm" <<'PY'
import json, os, sys
jobs, inflight, lat, t0, t1, s, w, b, f, wk = map(int, sys.argv[1:11])
done = sorted(json.loads(l)["finished_ms"] for l in open(sys.argv[11]) if l.strip())
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
print(f"worker CPU us/job in the kernel {wk/jobs:.1f}, in user space {(w-wk)/jobs:.1f}")
warm = [l.split() for l in open(sys.argv[12])] if os.path.exists(sys.argv[12]) else []
if len(warm) == 2:
    (ta, ca), (tb, cb) = [(int(t), int(c)) for t, c in warm]
    n = sum(ta <= d <= tb for d in done)
    if n and tb > ta:
        print(f"warm (from 20% to 80% of the results): {n / ((tb - ta) / 1000):,.0f} jobs/s  "
              f"CPU us/job scheduler + worker {(cb - ca) / n:.1f}")
PY
# The worker's final statistics line (after a clean stop): its group
# commits and loop turns over the whole run.
stop_all
grep -o 'group commits [0-9]*, loop turns [0-9]*' "$T/worker.log" | tail -1 |
    awk -v jobs="$JOBS" '{ printf "worker: %d group commits (%.1f jobs a commit), %d loop turns (%.2f a job)\n", $3, jobs / ($3 ? $3 : 1), $6, $6 / jobs }'
