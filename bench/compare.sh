#!/usr/bin/env bash
# switchyard and the Portkey gateway side by side, one after the other on
# the same machine, against the same fake provider at the same in-flight
# limit and latency: jobs (requests) per second and CPU microseconds per job
# (request), and the ratio of the two CPU figures.
#
#   bench/compare.sh [INFLIGHT=1000] [LATENCY_MS=200] [JOBS=50000] [SECONDS=20]
#
# switchyard: bench/run.sh (scheduler + worker, durable state in LMDB,
# Kafka in and out: the whole path from job consumed to result produced and
# offset committed). Portkey: bench/portkey.sh (the gateway's processes
# only; its client, wrk, is not counted; it keeps no state and touches no
# queue, so the comparison favours it).
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
INFLIGHT=${1:-1000}; LATENCY=${2:-200}; JOBS=${3:-50000}; SECS=${4:-20}
sy=$(bench/run.sh "$JOBS" "$INFLIGHT" "$LATENCY")
pk=$(bench/portkey.sh "$SECS" "$INFLIGHT" "$LATENCY")
printf '%s\n\n%s\n\n' "$sy" "$pk"
"$PY" - "$sy" "$pk" <<'PY'
import re, sys
sy, pk = sys.argv[1], sys.argv[2]
sy_cpu = float(re.search(r"together ([\d.]+)", sy)[1])
sy_rate = int(re.search(r"steady ([\d,]+) jobs/s", sy)[1].replace(",", ""))
pk_cpu = float(re.search(r"gateway ([\d.]+)", pk)[1])
pk_rate = float(re.search(r"portkey ([\d,]+) requests/s", pk)[1].replace(",", ""))
print(f"switchyard {sy_rate:,} jobs/s at {sy_cpu:.0f} us CPU/job;  Portkey {pk_rate:,.0f} requests/s at {pk_cpu:.0f} us CPU/request")
print(f"Portkey spends {pk_cpu / sy_cpu:.1f}x the CPU per call (target of issue 5: 40x)")
PY
