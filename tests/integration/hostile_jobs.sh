#!/usr/bin/env bash
# Job fields aimed at headers, logs and terminals, against real processes
# (tests/pipelines/e2e.yaml), written with kcat so that nothing on the way
# cleans them:
#
#   header injection  an id or idempotency key with CR/LF (a second
#                     Authorization, a whole second request) is dead-lettered
#                     invalid_job by the scheduler and by the worker; the
#                     provider never sees it; an ordinary key with spaces,
#                     % and / reaches the provider percent-encoded
#   deadline          ~60 characters ending in a malformed offset: dead-lettered
#                     invalid_job by both; both keep running (it used to read
#                     past the buffer and kill them on every restart)
#   terminal          a model answer with ESC sequences and CR (the fake echoes
#                     the job's text), and a result whose job_id carries them,
#                     show escaped in `switchyard results --table`
#   logs              no raw control character in any process's log
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TIER=switchyard.tier.echo-tier

start_fake --latency-ms 5
start_broker "$P"
"$SY_BIN" scheduler -p "$P" --log-level debug >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
SCHED=$!
start_worker worker -p "$P" --max-inflight 16 --state-dir "$T/state" --log-level debug
WORKER=$LAST_PID

BAD_DEADLINE="2025-08-21T12:40:59.0000000000000000000000000000000000000000+1:2"
"$PY" - "$T" "$BAD_DEADLINE" <<'PY'
import json, sys
t, bad_deadline = sys.argv[1], sys.argv[2]
def line(f, **j):
    j.setdefault("task", "echo")
    j.setdefault("vars", {"word": "w", "n": 1})
    f.write(json.dumps(j) + "\n")
with open(f"{t}/jobs.jsonl", "w") as f:   # through the scheduler
    line(f, id="inj-id\r\nAuthorization: Bearer evil\r\n\r\nPOST /v1/chat/completions HTTP/1.1")
    line(f, id="inj-key", idempotency_key="k\r\nX-Evil: 1")
    line(f, id="dl-sched", deadline=bad_deadline)
    line(f, id="a b%c/d")
    line(f, id="esc-1", vars={"word": "\x1b[2J\x1b]0;owned\x07\rOVERWRITE\x1b[31m", "n": 1})
with open(f"{t}/tier.jsonl", "w") as f:   # straight to the worker
    line(f, id="inj-tier\nX-Evil: 1")
    line(f, id="dl-worker", deadline=bad_deadline)
# a result as a hostile producer could write it to any topic
with open(f"{t}/forged.json", "w") as f:
    json.dump({"job_id": "forged\x1b[2J\r", "status": "ok", "model": "m\x1b[5m",
               "output": "text\r\x1b[1A\x1b[2Kgone", "tokens": {"in": 1, "out": 1}}, f)
PY
kcat -P -b "$BROKERS" -t switchyard.jobs -l "$T/jobs.jsonl" 2>>"$T/kcat.log"
kcat -P -b "$BROKERS" -t "$TIER" -l "$T/tier.jsonl" 2>>"$T/kcat.log"
kcat -P -b "$BROKERS" -t switchyard.results.forged "$T/forged.json" 2>>"$T/kcat.log"

"$SY_BIN" results --topic switchyard.dlq --headers --count 5 --timeout-ms 60000 >"$T/dlq.jsonl" \
    || fail "expected 5 dead letters, got $(wc -l <"$T/dlq.jsonl")"
"$SY_BIN" results --topic switchyard.results.echo --count 2 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "expected 2 results, got $(wc -l <"$T/results.jsonl")"
"$SY_BIN" results --topic switchyard.results.echo --table --count 2 --timeout-ms 30000 >"$T/table.txt" \
    || fail "results --table"
"$SY_BIN" results --topic switchyard.results.forged --table --count 1 --timeout-ms 30000 >>"$T/table.txt" \
    || fail "results --table of the forged result"
sleep 1

"$PY" - "$T" "$BAD_DEADLINE" <<'PY' || fail "dead letters, results, calls or table"
import json, sys
t, bad_deadline = sys.argv[1], sys.argv[2]
load = lambda f: [json.loads(l) for l in open(f"{t}/{f}")]
dlq = {}
for d in load("dlq.jsonl"):
    h = d["headers"]
    assert h["switchyard.error.class"] == "invalid_job", d
    dlq[json.loads(d["value"])["id"] if isinstance(d["value"], str) else d["value"]["id"]] = h
want = {"inj-id\r\nAuthorization: Bearer evil\r\n\r\nPOST /v1/chat/completions HTTP/1.1",
        "inj-key", "dl-sched", "inj-tier\nX-Evil: 1", "dl-worker"}
assert set(dlq) == want, set(dlq)
for k in ("inj-id\r\nAuthorization: Bearer evil\r\n\r\nPOST /v1/chat/completions HTTP/1.1", "inj-key", "inj-tier\nX-Evil: 1"):
    assert "control character" in dlq[k]["switchyard.error.message"], dlq[k]
for k in ("dl-sched", "dl-worker"):
    assert "RFC 3339" in dlq[k]["switchyard.error.message"], dlq[k]
assert dlq["inj-tier\nX-Evil: 1"]["switchyard.stage"] != dlq["inj-key"]["switchyard.stage"], dlq
res = {r["job_id"]: r for r in load("results.jsonl")}
assert set(res) == {"a b%c/d", "esc-1"} and all(r["status"] == "ok" for r in res.values()), res
assert "\x1b[2J" in res["esc-1"]["output"], res["esc-1"]
calls = load("calls.jsonl")
assert sorted(c["job"] for c in calls) == ["a%20b%25c%2Fd", "esc-1"], [c["job"] for c in calls]
raw = open(f"{t}/table.txt", "rb").read()
assert b"\x1b" not in raw and b"\r" not in raw and b"\x07" not in raw, raw
table = raw.decode()
assert "\\x1b[2J\\x1b]0;owned\\x07\\x0dOVER" in table, table
assert "forged\\x1b[2J " in table and "m\\x1b[5m" in table and "text\\x0d\\x1b[1A\\x1b[2Kgone" in table, table
print("ok - 5 invalid_job dead letters (CR/LF in id or key, bad deadline; scheduler and worker); "
      "the provider saw only the 2 good keys, percent-encoded; --table escapes ESC, CR, BEL")
PY
kill -0 "$SCHED" 2>/dev/null || fail "the scheduler died"
kill -0 "$WORKER" 2>/dev/null || fail "the worker died"
if grep -l -P '[\x00-\x08\x0b-\x1f\x7f]' "$T"/*.log; then
    fail "a raw control character in the logs above"
fi
ok "scheduler and worker alive; no raw control character in any log"
check_logs
