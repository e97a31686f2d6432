#!/usr/bin/env bash
# A large backlog with flat memory: JOBS jobs are loaded onto the jobs topic
# first (`switchyard submit`); then a scheduler and one worker start, and
# the worker's memory is sampled every second until the last result is out.
#
#   bench/backlog.sh [JOBS=1000000] [INFLIGHT=10000] [LATENCY_MS=1000]
#
# The worker runs with its defaults (--max-jobs 8 x INFLIGHT, a partition's
# window 2 x INFLIGHT) and durable state (LMDB, changelog). Prints, for the
# worker and the scheduler: resident anonymous memory (heap and stacks: what
# the limits must bound) at start (once its store is open), at each quarter of the run and at its
# peak, and the worker's file-backed resident memory (its LMDB map: page
# cache, grows with the keys kept, shared with the OS and reclaimable); the
# growth over start per job held and per call in flight; throughput; CPU per
# job. Settings: PARTITIONS=64 (the embedded broker keeps ~5 MB a partition,
# so the backlog must spread), BUILD=build, KEEP_TMP=1 keeps the logs and
# the samples ($T/memory.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-1000000}; INFLIGHT=${2:-10000}; LATENCY=${3:-1000}
PARTITIONS=${PARTITIONS:-64}
BENCH=backlog source bench/lib.sh

mem_kb() { # pid -> "RssAnon RssFile" in kB
    awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {print a + 0, f + 0}' "/proc/$1/status"
}

start_fake "$T" --latency-ms "$LATENCY" --rpm 1000000000 --tpm 1000000000000
export OPENAI_API_KEY=bench-key
start_broker "$T" bench/bench.yaml "$PARTITIONS"
make_jobs "$JOBS" backlog bench >"$T/jobs.jsonl"
t_load=$(date +%s%N)
$SY submit --quiet "$T/jobs.jsonl" >/dev/null
t_loaded=$(date +%s%N)

$SY scheduler -p bench/bench.yaml >"$T/scheduler.log" 2>&1 & PIDS+=($!); SCHED_PID=$!
$SY worker -p bench/bench.yaml --max-inflight "$INFLIGHT" ${WORKER_ARGS:-} --state-dir "$T/state" \
    >"$T/worker.log" 2>&1 & PIDS+=($!); WORKER_PID=$!
t0=$(date +%s%N)
for _ in $(seq 100); do grep -q 'started:' "$T/worker.log" && break; sleep 0.01; done
read -r idle_anon idle_file < <(mem_kb $WORKER_PID)
read -r sched_idle _ < <(mem_kb $SCHED_PID)

# One sample a second: seconds, worker anon/file kB, scheduler anon kB, results so far.
(
    t0=$(date +%s%N)
    while kill -0 $WORKER_PID 2>/dev/null; do
        echo "$(( ($(date +%s%N) - t0) / 1000000 )) $(mem_kb $WORKER_PID) $(mem_kb $SCHED_PID | cut -d' ' -f1) $(wc -l <"$T/results.jsonl" 2>/dev/null || echo 0)"
        sleep 1
    done
) >"$T/memory.tsv" 2>/dev/null & SAMPLER=$!

$SY results --topic switchyard.results.bench --count "$JOBS" --timeout-ms 1200000 >"$T/results.jsonl"
t1=$(date +%s%N)
w=$(cpu_us $WORKER_PID); s=$(cpu_us $SCHED_PID)
kill $SAMPLER 2>/dev/null || true
grep -E 'held [0-9]+, in flight' "$T/worker.log" | sed -E 's/.*held ([0-9]+), in flight ([0-9]+).*/\1 \2/' >"$T/held.txt" || true
kept=ok; check_broker_kept_up || kept="NO: the broker dropped data, the run does not count"

"$PY" - "$JOBS" "$INFLIGHT" "$LATENCY" "$t0" "$t_load" "$t_loaded" "$t1" "$w" "$s" "$idle_anon" "$idle_file" "$sched_idle" "$T" "$kept" <<'PY'
import sys
jobs, inflight, lat, t0, t_load, t_loaded, t1, w, s, idle_anon, idle_file, sched_idle = map(int, sys.argv[1:13])
T, kept = sys.argv[13], sys.argv[14]
rows = [list(map(int, l.split())) for l in open(f"{T}/memory.tsv") if len(l.split()) == 5]
held = [list(map(int, l.split())) for l in open(f"{T}/held.txt") if l.strip()]
secs = (t1 - t0) / 1e9
mb = lambda kb: f"{kb / 1024:,.1f} MB"
print(f"jobs {jobs:,}  in flight {inflight:,}  provider latency {lat} ms  broker kept up: {kept}")
print(f"loaded in {(t_loaded - t_load) / 1e9:.1f} s ({jobs * 1e9 / (t_loaded - t_load):,.0f} jobs/s by submit); "
      f"all results {secs:.1f} s after the worker started: {jobs / secs:,.0f} jobs/s "
      f"(ideal {inflight * 1000 / lat:,.0f})")
print(f"CPU us/job (start-up and group join included): worker {w / jobs:.1f}  scheduler {s / jobs:.1f}")
print(f"worker anon memory: at start {mb(idle_anon)}", end="")
for q in (0.25, 0.5, 0.75, 1.0):
    at = next((r for r in rows if r[4] >= q * jobs), rows[-1] if rows else None)
    if at: print(f"; at {int(q * 100)}% of results {mb(at[1])}", end="")
peak = max(r[1] for r in rows) if rows else 0
print(f"; peak {mb(peak)}")
print(f"worker file-backed (LMDB map) memory: at start {mb(idle_file)}, end {mb(rows[-1][2]) if rows else '?'}")
print(f"scheduler anon memory: at start {mb(sched_idle)}, peak {mb(max(r[3] for r in rows)) if rows else '?'}")
if held:
    h = max(x[0] for x in held)
    print(f"most jobs held (worker's 10 s reports): {h:,}, most calls in flight: {max(x[1] for x in held):,}")
    print(f"growth over start: {(peak - idle_anon) * 1024 / max(h, 1):,.0f} bytes per job held, "
          f"{(peak - idle_anon) * 1024 / inflight:,.0f} bytes per call in flight (all held jobs charged to them)")
PY
