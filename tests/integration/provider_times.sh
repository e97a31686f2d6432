#!/usr/bin/env bash
# Hostile provider times against real processes (tests/pipelines/provider_times.yaml,
# the fake provider's [[retry-after:V]] and [[reset:V]] markers):
#
#   retry-after   429s with retry-after 1e12, 1e300, inf, nan, -5 and a
#                 20-digit number pause the account (for a bounded time),
#                 with no undefined behaviour (UBSan in the ASan build)
#   reset         answers saying 0 requests left until 99999999h (and
#                 1e300h, infh, nanms) stop the account (bounded)
#   deadline      jobs with a short deadline waiting on either account are
#                 dead-lettered `expired` close to their deadline, instead of
#                 waiting for ever (one with deadline INT64_MAX waits, no
#                 overflow); jobs on a healthy account still succeed
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/provider_times.yaml

start_fake --latency-ms 5
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 32 --state-dir "$T/state"
WORKER=$LAST_PID

now_ms() { date +%s%3N; }
submit() { # jsonl file
    "$SY_BIN" submit --quiet "$1" >>"$T/submit.out" 2>&1 || fail "submit $1 failed"
}
jobs() { # phase deadline_in_ms > file
    "$PY" - "$1" "$2" <<'PY'
import json, sys, time
phase, dl = sys.argv[1], int(sys.argv[2])
deadline = int(time.time() * 1000) + dl
def job(id, task, text, deadline=None):
    j = dict(id=id, task=task, vars={"text": text})
    if deadline: j["deadline"] = deadline
    print(json.dumps(j))
if phase == "1":
    for i, v in enumerate(("1e12", "1e300", "inf", "nan", "-5", "99999999999999999999")):
        job(f"ra-{i}", "paused", f"rate limited [[retry-after:{v}]]", deadline)
    for i, v in enumerate(("1e300h", "infh", "nanms")):   # unreadable: no stop
        job(f"rs-{i}", "stopped", f"stop [[reset:{v}]]")
elif phase == "stop":   # the newest answer, so its stop is the one that counts
    job("rs-3", "stopped", "stop [[reset:99999999h]]")
else:
    job("ra-late", "paused", "waits on the paused account", deadline)
    for i in range(3): job(f"rs-late-{i}", "stopped", f"waits on the stopped account {i}", deadline)
    job("rs-far", "stopped", "waits, with the farthest deadline there is", 2**63 - 1)
    for i in range(5): job(f"ok-{i}", "healthy", f"healthy {i}")
PY
}

jobs 1 6000 >"$T/phase1.jsonl"
submit "$T/phase1.jsonl"
"$SY_BIN" results --topic switchyard.results.stopped --count 3 --timeout-ms 60000 >"$T/stopped1.jsonl" \
    || fail "the 3 jobs with unreadable resets did not all answer"
jobs stop 0 >"$T/stop.jsonl"
submit "$T/stop.jsonl"
"$SY_BIN" results --topic switchyard.results.stopped --count 4 --timeout-ms 60000 >"$T/stopped1.jsonl" \
    || fail "the job with reset 99999999h did not answer"
ok "4 answers with resets 1e300h, infh, nanms, 99999999h read"

t1=$(now_ms)
jobs 2 4000 >"$T/phase2.jsonl"
submit "$T/phase2.jsonl"
"$SY_BIN" results --topic switchyard.dlq --headers --count 10 --timeout-ms 30000 >"$T/dlq.jsonl" \
    || fail "expected 10 dead letters (6 paused, 1 late paused, 3 late stopped), got $(wc -l <"$T/dlq.jsonl")"
elapsed=$(($(now_ms) - t1))
"$SY_BIN" results --topic switchyard.results.healthy --count 5 --timeout-ms 30000 >"$T/healthy.jsonl" \
    || fail "the healthy account's jobs did not all succeed"
"$SY_BIN" results --topic switchyard.results.paused --count 7 --timeout-ms 10000 >"$T/paused.jsonl" \
    || fail "expected 7 failed results on the paused account"
"$SY_BIN" results --topic switchyard.results.stopped --count 7 --timeout-ms 10000 >"$T/stopped.jsonl" \
    || fail "expected 4 + 3 results on the stopped account"

"$PY" - "$T" "$elapsed" <<'PY' || fail "results, dead letters or calls"
import json, sys
t, elapsed = sys.argv[1], int(sys.argv[2])
load = lambda f: [json.loads(l) for l in open(f"{t}/{f}")]
dlq = load("dlq.jsonl")
keys = sorted(d["key"] for d in dlq)
want = sorted([f"ra-{i}" for i in range(6)] + ["ra-late"] + [f"rs-late-{i}" for i in range(3)])
assert keys == want, keys
for d in dlq:
    assert d["headers"]["switchyard.error.class"] == "expired", d
# the late jobs waited for their deadline (4 s from t1), not for the
# provider's wait (a day, or 1e12 s before the clamp)
assert 3500 <= elapsed <= 4000 + 6000, f"last dead letter {elapsed} ms after the jobs went in"
for r in load("paused.jsonl") + [r for r in load("stopped.jsonl") if r["job_id"].startswith("rs-late")]:
    assert r["status"] == "failed" and r["error"]["class"] == "expired", r
assert sorted(r["job_id"] for r in load("stopped.jsonl") if r["status"] == "ok") == [f"rs-{i}" for i in range(4)]
assert all(r["status"] == "ok" for r in load("healthy.jsonl"))
calls = {}
for c in load("calls.jsonl"): calls.setdefault(c["job"], []).append(c["status"])
for i in range(6):   # each was answered 429 at least once, then waited on the account
    assert 429 in calls.get(f"ra-{i}", []), (i, calls.get(f"ra-{i}"))
for k in ["ra-late", "rs-far"] + [f"rs-late-{i}" for i in range(3)]:
    assert k not in calls, (k, calls[k])   # it never got past the account's pause / stop
print(f"ok - 10 jobs expired on the paused and stopped accounts, the last {elapsed} ms after "
      f"the late ones went in (deadline 4000 ms); none of the late ones called; 5 healthy jobs ok")
PY
kill -0 "$WORKER" 2>/dev/null || fail "the worker died"
check_logs
