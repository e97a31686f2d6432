#!/usr/bin/env bash
# End to end on the embedded defaults, every part a separate process:
#   submit (msgpack) + kcat (JSON)  ->  switchyard.jobs  ->  scheduler
#   -> tier topics -> worker -> fake provider (OpenAI + Anthropic wire)
#   -> output topics (JSON and msgpack results) + dead-letter topic
# Asserts: every good job has exactly one result with the expected content;
# retries, fallback and failures are recorded; malformed jobs and unknown
# tasks land in the dead-letter topic with their reasons; kcat reads results.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml

start_fake --latency-ms 20 --jitter-ms 30
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state"
ok "processes started (broker $BROKERS, provider $FAKE_URL)"

# 150 echo jobs + 100 label jobs via `switchyard submit` (msgpack on the wire)
"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(f"{t}/jobs.jsonl", "w") as f:
    for i in range(150):
        f.write(json.dumps({"id": f"e-{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i},
                            "metadata": {"team": "team-a" if i % 2 else "team-b"}}) + "\n")
    for i in range(100):
        f.write(json.dumps({"id": f"l-{i}", "task": "label", "vars": {"n": i, "text": f"printer {i} is on fire"},
                            "metadata": {"team": "team-c"}}) + "\n")
    # routing behaviour, checked below
    f.write(json.dumps({"id": "retry-1", "task": "echo", "vars": {"word": "[[fail-first:1]]", "n": 1}}) + "\n")
    f.write(json.dumps({"id": "fallback-1", "task": "echo", "vars": {"word": "[[fail-model:gpt-4o-mini]]", "n": 1}}) + "\n")
    f.write(json.dumps({"id": "bad-request-1", "task": "echo", "vars": {"word": "[[status:400]]", "n": 1}}) + "\n")
    f.write(json.dumps({"id": "missing-var-1", "task": "echo", "vars": {"word": "x"}}) + "\n")
# 50 more echo jobs in JSON for kcat
with open(f"{t}/kcat.jsonl", "w") as f:
    for i in range(150, 200):
        f.write(json.dumps({"id": f"e-{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >"$T/submit.out" || fail "submit failed: $(cat "$T/submit.out")"
ok "submitted $(wc -l <"$T/jobs.jsonl") jobs with switchyard submit"

# JSON jobs and poison messages with kcat, as any Kafka client would
kcat -P -l -b "$BROKERS" -t switchyard.jobs "$T/kcat.jsonl" 2>>"$T/kcat.log"
printf 'this is not a job' | kcat -P -b "$BROKERS" -t switchyard.jobs -k poison-1 2>>"$T/kcat.log"
printf '{"id":"no-task-1","vars":{}}' | kcat -P -b "$BROKERS" -t switchyard.jobs -k poison-2 2>>"$T/kcat.log"
printf '{"id":"unknown-1","task":"translate","vars":{}}' | kcat -P -b "$BROKERS" -t switchyard.jobs -k poison-3 2>>"$T/kcat.log"
ok "submitted 50 JSON jobs and 3 poison messages with kcat"

# 200 + 4 echo results (JSON), 100 label results (msgpack), 5 dead letters
"$SY_BIN" results --topic switchyard.results.echo --count 204 --timeout-ms 60000 >"$T/echo.jsonl" \
    || fail "expected 204 echo results, got $(wc -l <"$T/echo.jsonl")"
"$SY_BIN" results --topic switchyard.results.label --count 100 --timeout-ms 60000 >"$T/label.jsonl" \
    || fail "expected 100 label results, got $(wc -l <"$T/label.jsonl")"
"$SY_BIN" results --topic switchyard.dlq --headers --count 5 --timeout-ms 30000 >"$T/dlq.jsonl" \
    || fail "expected 5 dead letters, got $(wc -l <"$T/dlq.jsonl")"
sleep 2 # anything extra (a duplicate) would arrive now
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 2000 >"$T/echo-all.jsonl" || true
[ "$(wc -l <"$T/echo-all.jsonl")" -eq 204 ] || fail "echo topic holds $(wc -l <"$T/echo-all.jsonl") results, expected exactly 204"
ok "result counts: 204 echo, 100 label, 5 dead letters"

"$PY" - "$T" <<'PY' || fail "result content check"
import json, sys
t = sys.argv[1]
def load(p): return [json.loads(l) for l in open(p) if l.strip()]
echo = {r["job_id"]: r for r in load(f"{t}/echo-all.jsonl")}
label = {r["job_id"]: r for r in load(f"{t}/label.jsonl")}
assert len(echo) == 204, f"duplicate echo results: {len(echo)} distinct ids"
for i in range(200):
    r = echo[f"e-{i}"]
    assert r["status"] == "ok", r
    assert r["output"] == f"ECHO Say w{i} number {i}", r["output"]
    assert r["model"] == "small-openai" and r["provider"] == "openai" and r["tier"] == "echo-tier", r
    assert r["prompt"] == {"id": "echo-test", "version": 2}, r["prompt"]
    assert r["attempts"] == 1 and r["tokens"]["in"] > 0 and r["tokens"]["out"] > 0, r
    want = (r["tokens"]["in"] * 0.15 + r["tokens"]["out"] * 0.60) / 1e6
    assert abs(r["cost_usd"] - want) < 1e-12, (r["cost_usd"], want)
    if i < 150: assert r["metadata"]["team"] == ("team-a" if i % 2 else "team-b"), r["metadata"]
labels = {"billing", "technical", "account", "other"}
for i in range(100):
    r = label[f"l-{i}"]
    assert r["status"] == "ok" and r["model"] == "small-anthropic" and r["provider"] == "anthropic", r
    assert r["output_json"]["label"] in labels, r
    assert r["output_json"]["echo"] == f"Ticket {i}: printer {i} is on fire"[:40], r["output_json"]
    assert r["metadata"] == {"team": "team-c"}, r
r = echo["retry-1"]; assert r["status"] == "ok" and r["attempts"] == 2 and r["model"] == "small-openai", r
r = echo["fallback-1"]  # 500 is retried once on small-openai (2 attempts per model), then falls back
assert r["status"] == "ok" and r["model"] == "small-anthropic" and r["attempts"] == 3, r
r = echo["bad-request-1"]
assert r["status"] == "failed" and r["error"]["class"] == "bad_request" and r["error"]["http_status"] == 400, r
assert r["attempts"] == 2, r  # 400 is never retried: one call per model
r = echo["missing-var-1"]
assert r["status"] == "failed" and r["error"]["class"] == "render_error" and "'n'" in r["error"]["message"], r
dlq = load(f"{t}/dlq.jsonl")
why = {d["key"]: d["headers"] for d in dlq}
assert why["poison-1"]["switchyard.error.class"] == "invalid_job", why["poison-1"]
assert why["poison-2"]["switchyard.error.class"] == "invalid_job" and "task" in why["poison-2"]["switchyard.error.message"], why["poison-2"]
assert why["poison-3"]["switchyard.error.class"] == "unknown_task" and "translate" in why["poison-3"]["switchyard.error.message"], why["poison-3"]
assert why["bad-request-1"]["switchyard.error.class"] == "bad_request" and why["bad-request-1"]["switchyard.models"] == "small-openai,small-anthropic", why["bad-request-1"]
assert why["missing-var-1"]["switchyard.error.class"] == "render_error", why["missing-var-1"]
assert why["poison-1"]["switchyard.source.topic"] == "switchyard.jobs", why["poison-1"]
print("ok - content: outputs, models, prompt versions, tokens, cost, metadata, retries, fallback, failures, dead letters")
PY

# The provider saw one call per job (plus the retry and fallback calls)
calls=$(wc -l <"$T/calls.jsonl")
[ "$calls" -eq $((300 + 2 + 3 + 2)) ] || fail "fake provider served $calls calls, expected 307"
ok "provider calls: $calls = 300 jobs + retry-1 (2) + fallback-1 (3) + bad-request-1 (2)"

# Any Kafka client can read the results: kcat on the JSON topic
n=$(kcat -C -b "$BROKERS" -t switchyard.results.echo -e -q -f '%k\n' 2>>"$T/kcat.log" | grep -c .)
[ "$n" -eq 204 ] || fail "kcat read $n echo results, expected 204"
ok "kcat reads the 204 echo results"

# Clean shutdown: SIGTERM -> exit 0
for pid in "${PIDS[@]:2}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]:2}"; do wait "$pid" || fail "process $pid did not exit 0 on SIGTERM"; done
PIDS=("${PIDS[@]:0:2}")
ok "scheduler and worker stop cleanly on SIGTERM"
check_logs
echo "e2e: all checks passed"
