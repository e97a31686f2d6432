#!/usr/bin/env bash
# switchyard, the Portkey gateway and the LiteLLM proxy side by side, one
# after the other in one run on the same machine, against the same fake
# provider at the same in-flight limit and latency, each warmed up before
# it is measured: jobs (requests) per second and CPU microseconds per job
# (request), and the ratios of the gateways' figures to switchyard's.
#
#   bench/compare.sh [INFLIGHT=1000] [LATENCY_MS=200] [JOBS=50000] [SECONDS=20]
#
# switchyard: bench/run.sh (scheduler + worker, durable state in LMDB,
# Kafka in and out: the whole path from job consumed to result produced and
# offset committed), its CPU counted from 20% to 80% of the results (the
# group join, ramp-up and tail left out). Portkey: bench/portkey.sh, LiteLLM:
# bench/litellm.sh (each gateway's process tree only, after WARM_SECS=5 of
# the same load; their client, wrk, is not counted; they keep no state and
# touch no queue, so the comparison favours them). GATEWAYS="portkey
# litellm" picks which run.
set -euo pipefail
PY=${SY_PYTHON:-/usr/bin/python3} # Debian's python, not whatever is on PATH
cd "$(dirname "$0")/.."
INFLIGHT=${1:-1000}; LATENCY=${2:-200}; JOBS=${3:-50000}; SECS=${4:-20}
out=()
out+=("$(bench/run.sh "$JOBS" "$INFLIGHT" "$LATENCY")")
for g in ${GATEWAYS:-portkey litellm}; do out+=("$(bench/"$g".sh "$SECS" "$INFLIGHT" "$LATENCY")"); done
printf '%s\n\n' "${out[@]}"
"$PY" - "${out[@]}" <<'PY'
import re, sys
sy = sys.argv[1]
if (m := re.search(r"warm \(.*?\): ([\d,]+) jobs/s\s+CPU us/job scheduler \+ worker ([\d.]+)", sy)):
    sy_rate, sy_cpu, how = float(m[1].replace(",", "")), float(m[2]), "warm, 20%-80% of results"
else:
    sy_rate = float(re.search(r"steady ([\d,]+) jobs/s", sy)[1].replace(",", ""))
    sy_cpu, how = float(re.search(r"together ([\d.]+)", sy)[1]), "whole run"
print(f"{'':12s} {'calls/s':>9s} {'CPU us/call':>12s} {'CPU vs switchyard':>18s} {'rate vs switchyard':>19s}")
print(f"{'switchyard':12s} {sy_rate:9,.0f} {sy_cpu:12.1f} {'1.0x':>18s} {'1.00x':>19s}   ({how}; scheduler + worker)")
for g in sys.argv[2:]:
    name = g.split()[0]
    rate = float(re.search(rf"{name} ([\d,.]+) requests/s", g)[1].replace(",", ""))
    cpu = float(re.search(r"gateway ([\d.]+)", g)[1])
    print(f"{name:12s} {rate:9,.0f} {cpu:12.1f} {cpu / sy_cpu:17.1f}x {rate / sy_rate:18.2f}x")
PY
