#!/usr/bin/env bash
# `switchyard report` (cli/report.c, base/report_agg.c) against totals
# computed independently from `switchyard results` JSON lines.
#   150 echo jobs of three teams (one a hostile value: ESC and a leading
#   `=`), the provider failing 40% of calls (so some jobs fail), 10
#   resubmitted keys (deduplicated: counted, not paid), 3 jobs of an unknown
#   task (dead-lettered by the scheduler: no result, counted as errors).
# Asserts: per team and in total, jobs, ok, failed, deduplicated, tokens
# and cost equal the sums from the results (+ the dead letters); p50/p95/
# p99 within the histogram's 1/64; CSV parses back to the same numbers with
# the formula neutralised; the table holds no raw control byte; with
# --max-groups 1 the rest is under `other` with the same total.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/ops.yaml

start_fake --latency-ms 2 --jitter-ms 20 --error-rate 0.4
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
"$PY" - "$T/jobs.jsonl" <<'PYEOF'
import json, sys
teams = ["search", "ads", "evil\x1b[2J=cmd"]
with open(sys.argv[1], "w") as f:
    for i in range(150):
        f.write(json.dumps({"id": "j%d" % i, "task": "echo", "vars": {"word": "w%d" % i, "n": i},
                            "metadata": {"team": teams[i % 3], "workflow": "wf%d" % (i % 2)}}) + "\n")
    for i in range(10):  # the same keys again: answered from the store
        f.write(json.dumps({"id": "again%d" % i, "idempotency_key": "j%d" % i, "task": "echo",
                            "vars": {"word": "w%d" % i, "n": i}, "metadata": {"team": teams[i % 3]}}) + "\n")
    for i in range(3):
        f.write(json.dumps({"id": "lost%d" % i, "task": "nope", "metadata": {"team": "search"}}) + "\n")
PYEOF
head -150 "$T/jobs.jsonl" >"$T/first.jsonl"; tail -n 13 "$T/jobs.jsonl" >"$T/second.jsonl"
"$SY_BIN" submit --quiet "$T/first.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results -t switchyard.results.echo --count 150 --timeout-ms 60000 >/dev/null || fail "150 results"
"$SY_BIN" submit --quiet "$T/second.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results -t switchyard.results.echo --count 160 --timeout-ms 60000 >/dev/null || fail "160 results"
for _ in $(seq 100); do
    [ "$("$SY_BIN" dlq list --class unknown_task --format json | wc -l)" = 3 ] && break; sleep 0.2
done
"$SY_BIN" results -t switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
"$SY_BIN" dlq list --format json >"$T/letters.jsonl"
ok "$(wc -l <"$T/results.jsonl") results, $(wc -l <"$T/letters.jsonl") dead letters"

"$SY_BIN" report -t switchyard.results.echo --by team --format json >"$T/report.json" || fail "report json"
"$SY_BIN" report -t switchyard.results.echo --by team,model --format csv >"$T/report.csv" || fail "report csv"
"$SY_BIN" report -t switchyard.results.echo --by team,workflow >"$T/report.txt" || fail "report table"
"$SY_BIN" report -t switchyard.results.echo --by team --max-groups 1 --format json >"$T/capped.json" || fail "capped"
cat "$T/report.txt"
"$PY" - "$T" <<'PYEOF' || fail "report against the results"
import collections, csv, json, math, sys
t = sys.argv[1]
rs = [json.loads(l) for l in open(t + "/results.jsonl")]
letters = [json.loads(l) for l in open(t + "/letters.jsonl")]
unknown = [l for l in letters if l["class"] == "unknown_task"]
assert len(rs) == 160 and len(unknown) == 3, (len(rs), len(unknown))
def new(): return {"jobs": 0, "ok": 0, "failed": 0, "deduplicated": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "lat": [], "errors": collections.Counter()}
want = collections.defaultdict(new)
for r in rs:
    for g in (want[r["metadata"].get("team", "-")], want["*"]):
        g["jobs"] += 1
        g["ok" if r["status"] == "ok" else "failed"] += 1
        if r["status"] != "ok": g["errors"][r["error"]["class"]] += 1
        if r.get("deduplicated"): g["deduplicated"] += 1; continue
        g["tokens_in"] += r["tokens"]["in"]; g["tokens_out"] += r["tokens"]["out"]
        g["cost_usd"] += r["cost_usd"]; g["lat"].append(r["latency_ms"])
for l in unknown:
    for g in (want["search"], want["*"]):
        g["jobs"] += 1; g["failed"] += 1; g["errors"]["unknown_task"] += 1
rep = json.load(open(t + "/report.json"))
got = {g["values"]["team"]: g for g in rep["groups"]}
got["*"] = rep["total"]
assert set(got) == set(want), (set(got), set(want))
def pct(v, q):
    v = sorted(v); return v[max(1, math.ceil(q * len(v))) - 1]
for k, w in want.items():
    g = got[k]
    for f in ("jobs", "ok", "failed", "deduplicated", "tokens_in", "tokens_out"):
        assert g[f] == w[f], (k, f, g[f], w[f])
    assert abs(g["cost_usd"] - w["cost_usd"]) < 1e-9, (k, g["cost_usd"], w["cost_usd"])
    assert g["errors"] == dict(w["errors"]), (k, g["errors"], w["errors"])
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        e = pct(w["lat"], q)
        assert abs(g["latency_ms"][name] - e) <= e / 64 + 1, (k, name, g["latency_ms"][name], e)
tot = want["*"]
# a resubmitted key is answered from the store when its first run succeeded
# (a stored failure is no answer: it runs again)
first_ok = sum(1 for r in rs if r["job_id"] in {"j%d" % i for i in range(10)} and r["status"] == "ok")
assert tot["failed"] > 3 and tot["deduplicated"] == first_ok > 0, (tot["deduplicated"], first_ok)
print("   report == results: %d jobs, %d failed, %d deduplicated, %d+%d tokens, $%.6f" %
      (tot["jobs"], tot["failed"], tot["deduplicated"], tot["tokens_in"], tot["tokens_out"], tot["cost_usd"]))
rows = list(csv.DictReader(open(t + "/report.csv", newline="")))
assert abs(sum(float(r["cost_usd"]) for r in rows) - tot["cost_usd"]) < 1e-6
assert sum(int(r["jobs"]) for r in rows) == tot["jobs"]
assert any(r["team"] == "'evil\x1b[2J=cmd" or r["team"] == "evil\x1b[2J=cmd" for r in rows), [r["team"] for r in rows]
assert not any(r["team"].startswith("=") for r in rows)
cap = json.load(open(t + "/capped.json"))
assert len(cap["groups"]) == 2 and cap["groups"][-1]["values"]["team"] == "other", cap["groups"]
assert cap["total"]["jobs"] == tot["jobs"] and sum(g["jobs"] for g in cap["groups"]) == tot["jobs"]
print("   csv parses back to the same totals; --max-groups 1 keeps the total, the rest under other")
PYEOF
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/report.txt"; then fail "a raw control byte in the table"; fi
grep -qF 'evil\x1b[2J=cmd' "$T/report.txt" || fail "the hostile team is not shown escaped"
ok "report totals, percentiles and errors equal the results'; CSV and terminal escaped"
check_logs
