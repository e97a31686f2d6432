#!/usr/bin/env bash
# Throughput against the ideal (in-flight limit / provider latency) at
# several in-flight limits, each run RUNS times; prints the median and the
# spread (min-max) of the steady rate and of the CPU per job.
#
#   bench/throughput.sh [RUNS=3]
#
# Configurations (in-flight, latency, jobs): 256 at 200 ms, 1,000 at 200 ms,
# 10,000 at 1 s. Each run is one bench/run.sh.
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CONFIGS=${CONFIGS:-"256:200:20000 1000:200:50000 10000:1000:100000"}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for c in $CONFIGS; do
    IFS=: read -r inflight latency jobs <<<"$c"
    for r in $(seq "$RUNS"); do
        bench/run.sh "$jobs" "$inflight" "$latency" | sed "s/^/$inflight $latency $r | /" | tee -a "$out"
    done
done
"$PY" - "$out" <<'PY'
import re, statistics, sys, collections
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    key, text = line.split(" | ", 1)
    inflight, latency, _ = key.split()
    k = (int(inflight), int(latency))
    if m := re.search(r"steady ([\d,]+) jobs/s\s+ideal ([\d,]+)", text):
        runs[k]["steady"].append(int(m[1].replace(",", "")))
        runs[k]["ideal"] = [int(m[2].replace(",", ""))]
    if m := re.search(r"worker ([\d.]+)\s+together ([\d.]+)\s+\| broker ([\d.]+)\s+fake provider ([\d.]+)", text):
        runs[k]["worker"].append(float(m[1])); runs[k]["together"].append(float(m[2]))
        runs[k]["broker"].append(float(m[3])); runs[k]["fake"].append(float(m[4]))
def cell(v, fmt="{:,.0f}"):
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"
print("\n| in flight | latency | ideal jobs/s | steady jobs/s, median (min-max) | % of ideal | CPU µs/job scheduler+worker | broker | fake provider |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (inflight, latency), v in sorted(runs.items()):
    ideal = v["ideal"][0]
    print(f"| {inflight:,} | {latency} ms | {ideal:,} | {cell(v['steady'])} | {100*statistics.median(v['steady'])/ideal:.0f}% | "
          f"{cell(v['together'], '{:.0f}')} | {cell(v['broker'], '{:.0f}')} | {cell(v['fake'], '{:.0f}')} |")
PY
