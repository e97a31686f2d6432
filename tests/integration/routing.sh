#!/usr/bin/env bash
# Routing against real processes (tests/pipelines/routing.yaml):
#
#   error classes   each class is retried (3 calls on a 3-attempt tier) or
#                   not (1 call), counted in the fake provider's call log
#   retry-after     a 429's retry-after-ms (1000) is waited out, measured
#                   between the calls the provider saw
#   fallback order  m-a, m-a, m-b in the call log and the attempt history
#   weights         a 3:1 split lands within tolerance; the result says the arm
#   cheapest        the cheapest model that fits; a model too small is left out
#   account         a 401 cools the account down (logged once); later jobs
#                   skip its model without calling it
#   breaker         an endpoint that is down opens the breaker: later jobs
#                   skip it; once it is back, probes close the breaker again
#   deadline        a job whose deadline passes mid-attempt is dead-lettered
#                   as expired
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/routing.yaml

FLAKY_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export FLAKY_BASE_URL="http://127.0.0.1:$FLAKY_PORT/v1" LOCKED_API_KEY=bad-key # the fake answers 401 to it
start_fake --latency-ms 5
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state"

submit() { # jsonl file
    "$SY_BIN" submit --quiet "$1" >>"$T/submit.out" 2>&1 || fail "submit $1 failed"
}
results() { # task count -> $T/<task>.jsonl
    "$SY_BIN" results --topic "switchyard.results.$1" --count "$2" --timeout-ms 60000 >"$T/$1.jsonl" \
        || fail "expected $2 $1 results, got $(wc -l <"$T/$1.jsonl")"
}

"$PY" - "$T" <<'PY'
import json, sys, time
t = sys.argv[1]
def job(f, id, task, text, **kw):
    f.write(json.dumps(dict(id=id, task=task, vars={"text": text}, **kw)) + "\n")
with open(f"{t}/main.jsonl", "w") as f:
    for s in (500, 503, 529, 504, 400, 403, 404, 422):
        job(f, f"cls-{s}", "single", f"class [[status:{s}]]")
    job(f, "cls-malformed", "single", "class [[malformed]]")
    job(f, "cls-hang", "single", "class [[hang]]")
    job(f, "ra-1", "single", "rate limited [[status:429]]")
    job(f, "fb-1", "chain", "fall back [[fail-model:model-a]]")
    job(f, "fb-2", "chain", "bad everywhere [[status:400]]")
    for i in range(400):
        job(f, f"w-{i}", "split", f"split {i}")
    job(f, "cheap-short", "cheap", "short")
    job(f, "cheap-long", "cheap", "long " + "word " * 400)
    job(f, "dl-1", "deadline", "slow [[latency:3000]]")
with open(f"{t}/acct1.jsonl", "w") as f:
    job(f, "acct-1", "account", "the first job on the locked account")
with open(f"{t}/acct2.jsonl", "w") as f:
    for i in range(2, 7): job(f, f"acct-{i}", "account", f"after the 401 {i}")
for wave, n in ((1, 6), (2, 10), (3, 10), (4, 10)):
    with open(f"{t}/br{wave}.jsonl", "w") as f:
        for i in range(n): job(f, f"br{wave}-{i}", "breaker", f"wave {wave} job {i}")
PY

submit "$T/main.jsonl"
results single 11
results deadline 1
results chain 2
results split 400
results cheap 2
"$SY_BIN" results --topic switchyard.dlq --headers --count 13 --timeout-ms 30000 >"$T/dlq.jsonl" \
    || fail "expected 13 dead letters, got $(wc -l <"$T/dlq.jsonl")"
ok "main batch: 11 single, 1 deadline, 2 chain, 400 split, 2 cheap results; 13 dead letters"

# account: the 401 first, then jobs that arrive while the account cools down
submit "$T/acct1.jsonl"; results account 1
submit "$T/acct2.jsonl"; results account 6

# breaker: down (waves 1-2), back up (waves 3-4). It opens in wave 1; wave 2
# must come within its cool-down (20 s: wave 2 takes ~2 s on an idle machine,
# and took more than the former 8 s on a loaded one) and wave 3 after it, so
# the wait for wave 3 counts from the moment it opened (the worker's log).
opened_at() { # unix seconds of the last "circuit open" of m-flaky (JSON log lines)
    grep "model 'm-flaky' of tier 'breaker': circuit open" "$T/worker.log" |
        sed -n 's/^{"time":"\([0-9T:.-]*Z\)".*/\1/p' | tail -n 1 |
        "$PY" -c 'import datetime, sys; print(datetime.datetime.fromisoformat(sys.stdin.read().strip().replace("Z", "+00:00")).timestamp())'
}
submit "$T/br1.jsonl"; results breaker 6
submit "$T/br2.jsonl"; results breaker 16
t_open=$(opened_at) || fail "no 'circuit open' of m-flaky in the worker log"
since=$("$PY" -c 'import sys, time; print(round(time.time() - float(sys.argv[1]), 1))' "$t_open")
"$PY" -c 'import sys; sys.exit(float(sys.argv[1]) >= 19.5)' "$since" ||
    fail "wave 2 ended ${since} s after the breaker opened: not within its 20 s cool-down"
"$SY_FAKE" --port "$FLAKY_PORT" --latency-ms 300 --call-log "$T/flaky-calls.jsonl" >"$T/fake-flaky.log" 2>&1 &
PIDS+=($!)
sleep "$("$PY" -c 'import sys, time; print(max(0.0, float(sys.argv[1]) + 20.3 - time.time()))' "$(opened_at)")"
ok "breaker: wave 2 ended ${since} s after it opened; wave 3 comes past the 20 s cool-down"
submit "$T/br3.jsonl"; results breaker 26
submit "$T/br4.jsonl"; results breaker 36

"$PY" - "$T" <<'PY' || fail "routing checks"
import json, sys, collections
t = sys.argv[1]
def load(p): return [json.loads(l) for l in open(p) if l.strip()]
calls = collections.defaultdict(list)
for c in load(f"{t}/calls.jsonl"): calls[c["job"]].append(c)
res = {}
for task in ("single", "deadline", "chain", "split", "cheap", "account", "breaker"):
    for r in load(f"{t}/{task}.jsonl"):
        assert r["job_id"] not in res, f"two results for {r['job_id']}"
        res[r["job_id"]] = r
hist = lambda r: [(a["model"], a["error"]) for a in r["attempt_history"]]

# error classes: retried (3 calls) or not (1 call); the history lists each
want = {500: ("server_error", 3), 503: ("overloaded", 3), 529: ("overloaded", 3), 504: ("server_error", 3),
        400: ("bad_request", 1), 403: ("auth_error", 1), 404: ("not_found", 1), 422: ("bad_request", 1),
        "malformed": ("malformed_response", 3), "hang": ("timeout", 3)}
for s, (cls, n) in want.items():
    r = res[f"cls-{s}"]
    assert r["status"] == "failed" and r["error"]["class"] == cls, (s, r["error"])
    assert len(calls[f"cls-{s}"]) == n, (s, len(calls[f"cls-{s}"]), n)
    assert r["attempts"] == n and len(r["attempt_history"]) == n, (s, r["attempt_history"])
    assert all(a["model"] == "m-a" and a["error"] == cls for a in r["attempt_history"]), r["attempt_history"]
print("ok - error classes: 5xx, 529, timeouts, malformed retried 3 times; 400/403/404/422 called once")

# retry-after-ms: 1000 between the calls
ts = [c["ts_ms"] for c in calls["ra-1"]]
gaps = [b - a for a, b in zip(ts, ts[1:])]
assert len(ts) == 3 and all(950 <= g <= 1600 for g in gaps), gaps
print(f"ok - retry-after honoured: gaps {gaps} ms for retry-after-ms 1000")

# fallback order
r = res["fb-1"]
assert [c["model"] for c in calls["fb-1"]] == ["model-a", "model-a", "model-b"], calls["fb-1"]
assert r["status"] == "ok" and r["model"] == "m-b" and hist(r) == [("m-a", "server_error"), ("m-a", "server_error"), ("m-b", None)], r
r = res["fb-2"]
assert [c["model"] for c in calls["fb-2"]] == ["model-a", "model-b", "model-c"], calls["fb-2"]
assert r["status"] == "failed" and len(r["attempt_history"]) == 3, r
print("ok - fallback order: a, a, b after 500s; a, b, c after 400s")

# weights 3:1 over 400 jobs, the arm in the result
arms = collections.Counter(res[f"w-{i}"]["model"] for i in range(400))
assert 270 <= arms["m-a"] <= 330, arms
for i in range(400):
    r = res[f"w-{i}"]; assert r["route"]["strategy"] == "weighted" and f"arm {r['model']}" in r["route"]["reason"], r["route"]
print(f"ok - weighted 3:1: {dict(arms)}")

# cheapest: tiny is cheapest but too small for the long job
r = res["cheap-short"]; assert r["model"] == "m-tiny" and r["route"]["strategy"] == "cheapest", r
r = res["cheap-long"]; assert r["model"] == "m-b" and "1 too small" in r["route"]["reason"], r["route"]
print("ok - cheapest: " + res["cheap-short"]["route"]["reason"] + " | " + r["route"]["reason"])

# account: the 401 falls back; later jobs skip the cooling account
r = res["acct-1"]
assert r["status"] == "ok" and hist(r) == [("m-locked", "auth_error"), ("m-b", None)], hist(r)
for i in range(2, 7):
    r = res[f"acct-{i}"]
    assert r["status"] == "ok" and hist(r) == [("m-b", None)], hist(r)
    assert "1 unavailable" in r["route"]["reason"], r["route"]
    assert [c["model"] for c in calls[f"acct-{i}"]] == ["model-b"], calls[f"acct-{i}"]
print("ok - account: a 401 cools it down; 5 later jobs skipped it without a call")

# breaker: waves 1-2 while down, 3-4 after it is back
flaky = collections.Counter(c["job"] for c in load(f"{t}/flaky-calls.jsonl"))
w1 = [hist(res[f"br1-{i}"]) for i in range(6)]
assert all(h[-1] == ("m-b", None) for h in w1), w1
assert sum(h[0] == ("m-flaky", "connection_error") for h in w1) >= 3, w1  # then it opens
w2 = [hist(res[f"br2-{i}"]) for i in range(10)]
assert all(h == [("m-b", None)] for h in w2), w2
assert all("1 unavailable" in res[f"br2-{i}"]["route"]["reason"] for i in range(10))
w3 = [res[f"br3-{i}"]["model"] for i in range(10)]
assert w3.count("m-flaky") >= 2, w3  # two probes; jobs before they answer skip it
assert all(hist(res[f"br3-{i}"])[0] in (("m-flaky", "circuit_open"), ("m-b", None)) for i in range(10) if w3[i] == "m-b"), w3
w4 = [res[f"br4-{i}"]["model"] for i in range(10)]
assert w4.count("m-flaky") == 10, w4  # closed again
assert sum(flaky.values()) == w3.count("m-flaky") + 10, flaky
print(f"ok - breaker: opened after connection errors, {len(w2)} jobs skipped it, probes closed it ({w3.count('m-flaky')} of wave 3), then all 10 went back")

# deadline
dlq = {d["key"]: d["headers"] for d in load(f"{t}/dlq.jsonl")}
assert dlq["dl-1"]["switchyard.error.class"] == "expired", dlq["dl-1"]
assert res.get("dl-1") is None or res["dl-1"]["error"]["class"] == "expired"
assert len(calls["dl-1"]) == 1, calls["dl-1"]
print("ok - deadline: the slow job expired after one attempt cut at the deadline")
PY
n=$(grep -c "account of provider 'locked'" "$T/worker.log" || true)
[ "$n" -eq 1 ] || fail "expected the cool-down logged once, got $n"
ok "cool-down logged once"
grep -l "bad-key" "$T"/*.log "$T"/account.jsonl 2>/dev/null && fail "the locked account's key appears above"
check_logs
