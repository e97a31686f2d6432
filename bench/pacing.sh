#!/usr/bin/env bash
# Pacing under rate limits: how close the worker keeps one provider account
# to its requests-per-minute limit, how many 429s it draws on the way, and
# whether every job still ends somewhere when the provider fails.
#
#   bench/pacing.sh [SCENARIOS=abc]
#
#   a  told limit:   the pipeline states requests_per_minute = the fake's --rpm
#   b  headers only: the pipeline states no limit; the worker learns it from
#                    the x-ratelimit-* headers
#   c  faults:       as (a) plus 10% 500s and 5% hung calls (1 s timeout per
#                    attempt); every job must end as a result on its output
#                    topic or as a dead letter on switchyard.dlq
#
# Each scenario gets its own fake provider, embedded broker, scheduler and
# worker (the process setup of bench/run.sh); its jobs are loaded first.
# Settings (environment): RPM=30000, WINDOW_MS=20000 (the fake enforces the
# per-minute limit in fixed windows, each allowing RPM x WINDOW_MS / 60 s, and
# its headers state the per-minute limit, what is left in the window and when
# it ends), WINDOWS=3 (measured windows), LATENCY_MS=200, JITTER_MS=100,
# INFLIGHT=500, BUILD=build, KEEP_TMP=1 keeps the logs.
#
# Throughput is measured from the fake's call log: each call's arrival is its
# answer time minus its simulated latency; the key's windows are rebuilt the
# way the fake opens them (a window opens at the first call after the last
# one ended), and each is printed (admitted, 429s). Window 1, the first, is
# also reported on its own; in (a) every window 1..WINDOWS+1 must, on its
# own, admit >= 95% of its calls with <= 0.5% 429s. Windows 2..WINDOWS+1 are
# measured for throughput: the calls
# they admitted (everything not answered 429) over the time from the start of
# window 2 to the start of window WINDOWS+2 (gaps between windows count
# against the worker), as a share of RPM. The 429 share is over every call of
# the run, warm-up included ("429s measured": those in the measured windows).
# Exit status 1 when a target is missed:
#   a >= 95% of the limit, <= 0.5% 429s;  b >= 90%, <= 2%  (and every job ok);
#   c results + dead letters = jobs submitted.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS=${1:-abc}
RPM=${RPM:-30000}; WINDOW_MS=${WINDOW_MS:-20000}; WINDOWS=${WINDOWS:-3}
LATENCY=${LATENCY_MS:-200}; JITTER=${JITTER_MS:-100}; INFLIGHT=${INFLIGHT:-500}
BENCH=pacing source bench/lib.sh

PER_WINDOW=$(( RPM * WINDOW_MS / 60000 ))
export PACING_RPM=$RPM

# scenario NAME TASK JOBS [fake-provider options...]
scenario() {
    local name=$1 task=$2 jobs=$3; shift 3
    local D=$T/$name
    mkdir -p "$D"
    start_fake "$D" --latency-ms "$LATENCY" --jitter-ms "$JITTER" \
        --rpm "$RPM" --window-ms "$WINDOW_MS" --call-log "$D/calls.jsonl" "$@"
    export OPENAI_API_KEY=pacing-bench-key
    start_broker "$D" bench/pacing.yaml 12
    make_jobs "$jobs" "$name" "$task" >"$D/jobs.jsonl"
    $SY submit --quiet "$D/jobs.jsonl" >/dev/null
    local t0 t1
    t0=$(date +%s%N)
    $SY scheduler -p bench/pacing.yaml >"$D/scheduler.log" 2>&1 & PIDS+=($!)
    $SY worker -p bench/pacing.yaml --max-inflight "$INFLIGHT" --state-dir "$D/state" >"$D/worker.log" 2>&1 &
    PIDS+=($!)
    $SY results --topic "switchyard.results.$task" --count "$jobs" --timeout-ms 60000 >"$D/results.jsonl" ||
        echo "scenario $name: fewer than $jobs results" >&2
    t1=$(date +%s%N)
    if [ "$task" = faults ]; then
        $SY results --topic switchyard.dlq --headers --timeout-ms 5000 >"$D/dlq.jsonl" 2>/dev/null || true
    fi
    stop_all
    check_broker_kept_up || true
    echo "$name $task $jobs $t0 $t1" >>"$T/runs"
    echo "scenario $name done: $(wc -l <"$D/calls.jsonl") calls in $(( (t1 - t0) / 1000000000 )) s" >&2
}

JOBS=$(( (WINDOWS + 1) * PER_WINDOW + PER_WINDOW / 4 ))
case $SCENARIOS in *a*) scenario a told "$JOBS" ;; esac
case $SCENARIOS in *b*) scenario b learned "$JOBS" ;; esac
# (c): about 1.2 calls per job (retries), so fewer jobs fill the same windows.
case $SCENARIOS in *c*) scenario c faults $(( JOBS * 5 / 6 )) --error-rate 0.10 --timeout-rate 0.05 ;; esac

"$PY" - "$T" "$RPM" "$WINDOW_MS" "$WINDOWS" "$LATENCY" "$JITTER" "$INFLIGHT" <<'PY'
import json, os, sys
T = sys.argv[1]
rpm, window_ms, nwin, latency, jitter, inflight = map(int, sys.argv[2:])
per_window = rpm * window_ms // 60000
targets = {"a": (95.0, 0.5), "b": (90.0, 2.0)}
titles = {"a": "told limit", "b": "headers only", "c": "faults"}
missed = []

def load(path):
    if not os.path.exists(path): return []
    return [json.loads(l) for l in open(path) if l.strip()]

def pct429(w):
    return 100.0 * w["429"] / max(w["admitted"] + w["429"], 1)

def windows_of(calls):
    """Rebuild the fake's fixed windows (one key) from arrival times."""
    arrivals = sorted((c["ts_ms"] - (c["latency_ms"] if c["status"] else 0), c["status"]) for c in calls)
    wins = []
    for at, status in arrivals:
        if not wins or at >= wins[-1]["start"] + window_ms:
            wins.append({"start": at, "admitted": 0, "429": 0})
        wins[-1]["429" if status == 429 else "admitted"] += 1
    return wins

rows = []
for line in open(os.path.join(T, "runs")):
    name, task, jobs, t0, t1 = line.split()
    jobs, secs = int(jobs), (int(t1) - int(t0)) / 1e9
    D = os.path.join(T, name)
    calls = load(os.path.join(D, "calls.jsonl"))
    wins = windows_of(calls)
    n429 = sum(c["status"] == 429 for c in calls)
    share429 = 100.0 * n429 / max(len(calls), 1)
    print(f"\nscenario {name} ({titles[name]}): {jobs} jobs, {len(calls)} calls, {secs:.1f} s")
    print("  window  start s  admitted  % of window   429s  % 429")
    for i, w in enumerate(wins):
        tag = "first" if i == 0 else "measured" if i <= nwin else ""
        print(f"  {i + 1:6d} {(w['start'] - wins[0]['start']) / 1000:8.2f} {w['admitted']:9d} "
              f"{100.0 * w['admitted'] / per_window:11.1f}% {w['429']:6d} {pct429(w):5.2f}%  {tag}")
    tput, m429 = None, sum(w["429"] for w in wins[1:nwin + 1])
    if len(wins) >= nwin + 2:
        period_ms = wins[nwin + 1]["start"] - wins[1]["start"]
        admitted = sum(w["admitted"] for w in wins[1:nwin + 1])
        tput = 100.0 * admitted / (period_ms * rpm / 60000.0)
    else:
        print(f"  too few windows: {len(wins)} (need {nwin + 2}: warm-up, {nwin} measured, the next one's start)")
    first = wins[0] if wins else {"admitted": 0, "429": 0}
    row = {"name": name, "title": titles[name], "jobs": jobs, "secs": secs, "calls": len(calls),
           "tput": tput, "share429": share429, "n429": n429, "m429": m429, "check": "",
           "first": 100.0 * first["admitted"] / per_window, "first429": pct429(first)}
    if name in targets:
        want_tput, max429 = targets[name]
        done = len({r["job_id"] for r in load(os.path.join(D, "results.jsonl")) if r.get("status") == "ok"})
        ok = tput is not None and tput >= want_tput and share429 <= max429 and done == jobs
        if name == "a": # a told limit: every window, the first included, on its own
            bad = [i + 1 for i, w in enumerate(wins[:nwin + 1])
                   if pct429(w) > max429 or 100.0 * w["admitted"] / per_window < want_tput]
            if bad: print(f"  windows missing the target on their own: {bad}")
            ok = ok and not bad and len(wins) >= nwin + 1
        row["check"] = (f">= {want_tput:.0f}%, <= {max429}% 429" + ("" if done == jobs else f", only {done} ok")
                        + ": " + ("ok" if ok else "MISSED"))
        if not ok: missed.append(name)
    else:
        results = load(os.path.join(D, "results.jsonl"))
        dlq = load(os.path.join(D, "dlq.jsonl"))
        ok_ids = {r["job_id"] for r in results if r.get("status") == "ok"}
        failed_ids = {r["job_id"] for r in results if r.get("status") != "ok"}
        dead_ids = {d["key"] for d in dlq if (d.get("headers") or {}).get("switchyard.error.class")}
        statuses = {}
        for c in calls: statuses[c["status"]] = statuses.get(c["status"], 0) + 1
        print(f"  calls by status: {dict(sorted(statuses.items()))} (0 = hung)")
        print(f"  results ok {len(ok_ids)}, failed {len(failed_ids)}; dead letters {len(dlq)} "
              f"({len(dead_ids)} jobs with a reason)")
        reasons = {}
        for d in dlq:
            k = (d.get("headers") or {}).get("switchyard.error.class")
            reasons[k] = reasons.get(k, 0) + 1
        print(f"  dead-letter reasons: {reasons}")
        ok = (len(ok_ids) + len(dead_ids) == jobs and not (ok_ids & dead_ids)
              and failed_ids == dead_ids and len(dlq) == len(dead_ids))
        row["check"] = (f"ok {len(ok_ids)} + dead {len(dead_ids)} = {len(ok_ids) + len(dead_ids)} "
                        f"of {jobs}: " + ("ok" if ok else "MISSED"))
        if not ok: missed.append(name)
    rows.append(row)

print(f"\nrpm {rpm} in {window_ms} ms windows ({per_window} calls per window), latency {latency}+0..{jitter} ms, "
      f"{inflight} in flight; measured windows 2..{nwin + 1}")
print(f"{'scenario':16s} {'jobs':>6s} {'calls':>6s} {'secs':>6s} {'% of limit':>10s} {'429s':>6s} {'% 429':>6s} "
      f"{'429s measured':>13s} {'first window':>12s} {'its % 429':>9s}  target")
for r in rows:
    t = f"{r['tput']:.1f}%" if r["tput"] is not None else "n/a"
    print(f"{r['name'] + ' ' + r['title']:16s} {r['jobs']:6d} {r['calls']:6d} {r['secs']:6.1f} {t:>10s} "
          f"{r['n429']:6d} {r['share429']:5.2f}% {r['m429']:13d} {r['first']:11.1f}% {r['first429']:8.2f}%  {r['check']}")
if missed:
    print("MISSED: " + " ".join(missed))
    sys.exit(1)
PY
