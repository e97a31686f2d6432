#!/usr/bin/env bash
# Every figure of bench/README.md's table in one run, on a quiet machine:
# medians of RUNS runs with the spread (min-max), printed as the README's
# table rows. About 15-20 minutes on 2 cores with the defaults.
#
#   bench/all.sh
#
# What runs (each a script of bench/, see the README's method):
#   floor   bench/floor.sh, per transport (h1, tls, h2) at 1,000 and 10,000
#           in flight: CPU per call, connections, memory per call in flight
#   run     bench/run.sh, same transports and in-flight counts, durability
#           on (--fsync always): CPU per job (scheduler + worker, warm),
#           steady jobs/s against the ideal, the fake's connections; the
#           overhead is its CPU per job minus the floor's of the same
#           transport and in-flight count, paired run by run
#   tput    bench/run.sh TPUT_JOBS 10000 1000, plain HTTP/1.1, --fsync always:
#           steady jobs/s against the ideal (10,000/s), as bench/throughput.sh
#   pacing  RPM=6000 WINDOW_MS=5000 bench/pacing.sh a: the first window
#   batch   bench/batch.sh: CPU per job when one request carries thousands
#   compare bench/compare.sh: switchyard, Portkey, LiteLLM side by side
#   callgrind  bench/callgrind.sh and CALLGRIND=1 bench/floor.sh (3000 jobs,
#           256 in flight, plain HTTP/1.1): instructions per job by stage,
#           converted to µs at the floor's CPU per instruction of this run
#
# Settings (environment), smaller for a smoke test:
#   RUNS=3  SECTIONS="floor run tput pacing batch compare callgrind"  TRANSPORTS="h1 tls h2"
#   INFLIGHTS="1000 10000"  JOBS_1K=20000 (at 200 ms)  JOBS_10K=40000 (at 1 s)
#   FLOOR_1K=20000  FLOOR_10K=40000 (calls)  TPUT_JOBS=100000  BATCH_JOBS=20000
#   COMPARE_RUNS=$RUNS  COMPARE_JOBS=20000  COMPARE_SECS=20  GATEWAYS="portkey litellm"
#   OUT=a directory to keep every script's output in (default: a temporary one)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${SY_PYTHON:-/usr/bin/python3} # Debian's python, not whatever is on PATH
RUNS=${RUNS:-3}
SECTIONS=${SECTIONS:-"floor run tput pacing batch compare callgrind"}
TRANSPORTS=${TRANSPORTS:-"h1 tls h2"}
INFLIGHTS=${INFLIGHTS:-"1000 10000"}
JOBS_1K=${JOBS_1K:-20000}; JOBS_10K=${JOBS_10K:-40000}
FLOOR_1K=${FLOOR_1K:-20000}; FLOOR_10K=${FLOOR_10K:-40000}
BATCH_JOBS=${BATCH_JOBS:-20000}; TPUT_JOBS=${TPUT_JOBS:-100000}; export BATCH_JOBS TPUT_JOBS
COMPARE_RUNS=${COMPARE_RUNS:-$RUNS}; COMPARE_JOBS=${COMPARE_JOBS:-20000}; COMPARE_SECS=${COMPARE_SECS:-20}
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; else OUT=$(mktemp -d /tmp/switchyard-all.XXXXXX); trap 'rm -rf "$OUT"' EXIT; fi
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
./scripts/deps.sh bench/packages # wrk and valgrind (npm comes with Node.js)
step() { # name command...: its output to $OUT/name.txt, a line on stderr
    local name=$1 t0=$SECONDS; shift
    "$@" >"$OUT/$name.txt" 2>&1 || echo "(exit $?)" >>"$OUT/$name.txt"
    echo "all.sh: $name ($(( SECONDS - t0 )) s)" >&2
}
shape() { # in-flight -> "jobs latency floor-calls"
    if [ "$1" -ge 10000 ]; then echo "$JOBS_10K 1000 $FLOOR_10K"; else echo "$JOBS_1K 200 $FLOOR_1K"; fi
}
for r in $(seq "$RUNS"); do # runs interleaved, so that a drift of the machine spreads over all
    for tr in $TRANSPORTS; do
        for n in $INFLIGHTS; do
            read -r jobs lat calls <<<"$(shape "$n")"
            has floor && TRANSPORT=$tr step "floor-$tr-$n-$r" bench/floor.sh "$calls" "$n" "$lat"
            has run && TRANSPORT=$tr WORKER_ARGS="--fsync always" step "run-$tr-$n-$r" bench/run.sh "$jobs" "$n" "$lat"
        done
    done
    has tput && TRANSPORT=h1 WORKER_ARGS="--fsync always" step "tput-$r" bench/run.sh "$TPUT_JOBS" 10000 1000
    has batch && step "batch-$r" bench/batch.sh "$BATCH_JOBS" 256 1000
done
if has callgrind; then
    CALLGRIND=1 TRANSPORT=h1 step cg-floor bench/floor.sh 3000 256 5
    TRANSPORT=h1 step cg-worker bench/callgrind.sh 3000 256
fi
has pacing && RPM=6000 WINDOW_MS=5000 step pacing bench/pacing.sh a
if has compare; then
    for r in $(seq "$COMPARE_RUNS"); do step "compare-$r" bench/compare.sh 1000 200 "$COMPARE_JOBS" "$COMPARE_SECS"; done
fi
"$PY" - "$OUT" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" <<'PY'
import glob, os, re, statistics, sys, time
out, commit, cores = sys.argv[1:]
def text(name):
    p = os.path.join(out, name + ".txt")
    return open(p).read() if os.path.exists(p) else ""
def num(pat, s):
    m = re.search(pat, s, re.M)
    return float(m[1].replace(",", "")) if m else None
def cell(v, fmt="{:.1f}"):
    v = [x for x in v if x is not None]
    if not v: return "n/a"
    med = statistics.median(v)
    return fmt.format(med) if len(v) == 1 else f"{fmt.format(med)} ({fmt.format(min(v))}-{fmt.format(max(v))})"
runs = sorted({int(f.rsplit("-", 1)[1][:-4]) for f in glob.glob(out + "/*-*.txt") if f.rsplit("-", 1)[1][:-4].isdigit()})
names = {"h1": "plain HTTP/1.1", "tls": "HTTP/1.1 over TLS", "h2": "HTTP/2 over TLS"}
print(f"## Latest figures ({time.strftime('%Y-%m-%d', time.gmtime())}, commit {commit}, {cores} cores, "
      f"medians of {len(runs)} runs (min-max); bench/all.sh)\n")
rows = sorted({tuple(os.path.basename(f)[:-4].split("-")[1:3]) for f in glob.glob(out + "/floor-*.txt") + glob.glob(out + "/run-*.txt")},
              key=lambda k: (int(k[1]), ["h1", "tls", "h2"].index(k[0]) if k[0] in names else 9))
if rows:
  print("| transport | in flight | CPU µs per job | floor µs per call | overhead µs | steady jobs/s | % of ideal "
      "| connections (floor) | KB per call in flight (floor) |")
  print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for tr, n in rows:
    cpu, floor, over, rate, pct, conns, mem = [], [], [], [], [], [], []
    for r in runs:
        f, j = text(f"floor-{tr}-{n}-{r}"), text(f"run-{tr}-{n}-{r}")
        fl = num(r"CPU us/call ([\d.]+)", f) if "failed 0" in f else None
        c = num(r"CPU us/job scheduler \+ worker ([\d.]+)", j)
        floor.append(fl); cpu.append(c)
        over.append(c - fl if c is not None and fl is not None else None)
        rate.append(num(r"steady ([\d,]+) jobs/s", j)); pct.append(num(r"\((\d+)% of ideal\)", j))
        conns.append(num(r"connections opened (\d+)", f))
        mem.append(num(r"memory per call in flight ([\d.]+) KB", f))
    print(f"| {names.get(tr, tr)} | {int(n):,} | {cell(cpu)} | {cell(floor)} | {cell(over)} | "
          f"{cell(rate, '{:,.0f}')} | {cell(pct, '{:.0f}%')} | {cell(conns, '{:,.0f}')} | {cell(mem)} |")

print("\n| figure | measured | target |")
print("| --- | ---: | --- |")
tp = [num(r"\((\d+)% of ideal\)", text(f"tput-{r}")) for r in runs]
rt = [num(r"steady ([\d,]+) jobs/s", text(f"tput-{r}")) for r in runs]
if any(x is not None for x in tp):
    print(f"| throughput, 10,000 in flight at 1 s, plain HTTP/1.1, --fsync always (bench/run.sh "
          f"{os.environ.get('TPUT_JOBS')} 10000 1000): steady jobs/s, % of ideal | {cell(rt, '{:,.0f}')}, {cell(tp, '{:.0f}%')} | >= 90% |")
p = text("pacing")
if m := re.search(r"^a told limit\s+\d+\s+\d+\s+[\d.]+\s+([\d.]+%)\s+\d+\s+([\d.]+%)\s+\d+\s+([\d.]+)%\s+([\d.]+)%", p, re.M):
    print(f"| pacing, first window (RPM=6000 WINDOW_MS=5000 bench/pacing.sh a): its 429s, its % of the window; "
          f"whole run: % of limit, 429s | {m[4]}% 429s, {m[3]}%; {m[1]}, {m[2]} | <= 0.5% 429s, >= 95% |")
b = [num(r"together ([\d.]+)", text(f"batch-{r}")) for r in runs]
if any(x is not None for x in b):
    print(f"| batch mode: CPU µs per job, scheduler + worker, whole run (bench/batch.sh {os.environ.get('BATCH_JOBS', '20000')} 256 1000) | {cell(b)} | |")
cmp = sorted(glob.glob(out + "/compare-*.txt"))
if cmp:
    sy, gw = [], {}
    for f in cmp:
        s = open(f).read()
        sy.append(num(r"^switchyard\s+[\d,]+\s+([\d.]+)", s))
        for g in ("portkey", "litellm"):
            if m := re.search(rf"^{g}\s+([\d,]+)\s+([\d.]+)\s+([\d.]+)x", s, re.M):
                gw.setdefault(g, []).append((float(m[1].replace(",", "")), float(m[2]), float(m[3])))
    print(f"| side by side, 1,000 in flight: switchyard CPU µs per job (warm) | {cell(sy)} | |")
    for g, v in gw.items():
        v = [x for x in v if x[0] > 0] # none answered in the window: no figure
        if not v:
            print(f"| {g}: no request answered in the measured window | n/a | |")
            continue
        print(f"| {g}: requests/s; CPU µs per request; ratio to switchyard's | {cell([x[0] for x in v], '{:,.0f}')}; "
              f"{cell([x[1] for x in v], '{:,.0f}')}; {cell([x[2] for x in v], '{:.1f}x')} | "
              f"{'>= 20x' if g == 'portkey' else 'as measured'} |")
cw, cf = text("cg-worker"), text("cg-floor")
job, call = num(r"worker instructions: \d+ total, (\d+) per job", cw), num(r"total, (\d+) per call", cf)
fl = [num(r"CPU us/call ([\d.]+)", text(f"floor-h1-1000-{r}")) for r in runs]
fl = [x for x in fl if x is not None]
if job and call:
    k = statistics.median(fl) / call if fl else None # µs per instruction, from the floor
    us = lambda n: f"{n * k:.1f}" if k else "n/a"
    print(f"\nWhere a job's instructions go (bench/callgrind.sh 3000 256, plain HTTP/1.1, start-up included), " +
          (f"in µs at the floor's {1000 * k:.2f} µs per 1,000 instructions (plain HTTP/1.1, 1,000 in flight):\n" if k else
           "(no plain HTTP/1.1 floor at 1,000 in flight in this run: no µs):\n"))
    print("| stage (inclusive) | instructions per job | µs |")
    print("| --- | ---: | ---: |")
    print(f"| the worker, all of a job | {job:,.0f} | {us(job)} |")
    print(f"| the floor: one call through the same engine and adapter (CALLGRIND=1 bench/floor.sh 3000 256 5) | {call:,.0f} | {us(call)} |")
    print(f"| **above the floor** | **{job - call:,.0f}** | **{us(job - call)}** |")
    for m in re.finditer(r"^\s+([\d,]+)\s+[\d.]+%\s+(.+?)\s+\[(\w+)\]$", cw, re.M):
        n = float(m[1].replace(",", ""))
        if n: print(f"| {m[2]} (`{m[3]}`) | {n:,.0f} | {us(n)} |")
PY
