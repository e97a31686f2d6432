#!/usr/bin/env bash
# Structured output through the worker against the fake provider
# (tests/pipelines/structured.yaml): an answer that is not JSON
# ([[bad-json-first:N]]) is output_invalid, retried on the same model and
# answered once it validates, or taken over by the fallback model when the
# first one keeps failing; an answer that never validates (a schema that
# takes only "billing") is retried, falls back, and is dead-lettered with
# the validation error; a label set turns the answer into its label in
# output_json.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/structured.yaml
start_fake
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
"$PY" - >"$T/jobs.jsonl" <<'PY'
import json
jobs = [("ok-1", "extract", "printer jams"),
        ("retry-1", "extract", "answer badly once [[bad-json-first:1]]"),
        ("fallback-1", "extract", "answer badly twice [[bad-json-first:2]]"),
        ("classify-1", "classify", "my invoice is wrong"),
        ("classify-2", "classify", "the app crashes")]
jobs += [("billing-%d" % i, "billing-only", "ticket number %d" % i) for i in range(6)]
for i, task, text in jobs:
    print(json.dumps({"id": i, "task": task, "vars": {"text": text}}))
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.structured --count 11 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 11 results"
"$SY_BIN" results --topic switchyard.dlq --headers --timeout-ms 3000 >"$T/dlq.jsonl" || true
"$PY" - "$T" <<'PY' || fail "structured output assertions"
import json, sys
t = sys.argv[1]
res = {}
for l in open(f"{t}/results.jsonl"):
    r = json.loads(l)
    assert r["job_id"] not in res, ("two results", r)
    res[r["job_id"]] = r
dlq = {json.loads(l)["key"]: json.loads(l)["headers"] for l in open(f"{t}/dlq.jsonl")}
labels = ["billing", "technical", "account", "other"]
def tried(r): return [(a["model"], a["error"]) for a in r["attempt_history"]]
for jid in ["ok-1", "retry-1", "fallback-1"]:
    r = res[jid]
    assert r["status"] == "ok", r
    assert set(r["output_json"]) == {"label", "echo"} and r["output_json"]["label"] in labels, r
print("   retry-1:", tried(res["retry-1"]), " fallback-1:", tried(res["fallback-1"]))
assert tried(res["ok-1"]) == [("first", None)], res["ok-1"]
assert tried(res["retry-1"]) == [("first", "output_invalid"), ("first", None)], res["retry-1"]
assert tried(res["fallback-1"]) == [("first", "output_invalid"), ("first", "output_invalid"),
                                    ("second", None)], res["fallback-1"]
for jid in ["classify-1", "classify-2"]:
    r = res[jid]
    assert r["status"] == "ok" and r["output_json"] in labels, r
    assert json.loads(r["output"])["label"] == r["output_json"], r
failed = 0
for i in range(6):
    r = res["billing-%d" % i]
    if r["status"] == "ok":
        assert r["output_json"]["label"] == "billing", r
        continue
    failed += 1
    err = r["error"]
    assert err["class"] == "output_invalid", r
    assert "$.label: not the constant the schema wants" in err["message"], err
    assert tried(r) == [("first", "output_invalid")] * 2 + [("second", "output_invalid")] * 2, r
    h = dlq[r["idempotency_key"]]
    assert h["switchyard.error.class"] == "output_invalid", h
    assert "the answer does not validate: $.label" in h["switchyard.error.message"], h
    print("   dead letter:", h["switchyard.error.message"])
assert 0 < failed < 6, f"{failed} of 6 billing-only jobs failed: the fake's labels should mix"
assert len(dlq) == failed, (failed, dlq.keys())
PY
ok "an answer that does not validate is retried, falls back, and is dead-lettered with the reason; labels give output_json"
check_logs
