#!/usr/bin/env bash
# provider_down.sh -- the provider cannot be reached (nothing listens on its
# port):
#  * each failed call says where it went: "cannot connect to HOST:PORT
#    (Connection refused)", in the worker's log, the result and the dead
#    letter, never the URL's userinfo or query;
#  * a clean stop while every job waits (the circuit opened after the first
#    failure: no call out) leaves no "call may have been in flight" for the
#    restart to warn about: the stop marks those intents as having no call
#    out. The restart runs with the circuit off, and every job fails.
source "$(dirname "$0")/lib.sh"
DOWN=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export OPENAI_API_KEY=sk-proj-looks-real-SECRET123 # a real-looking key to a local URL: warned
cat >"$T/down.yaml" <<YAML
version: 1
providers:
  downstream:
    kind: openai
    base_url: http://user:PASSWORD789@127.0.0.1:$DOWN/v1?token=QUERY789
    api_key_env: OPENAI_API_KEY
models:
  m:
    provider: downstream
    name: gpt-4o-mini
    price_per_mtok: {input: 1, output: 1}
tiers:
  down-tier:
    models: [m]
    retry: {attempts_per_model: 2, base_ms: 50, cap_ms: 100, timeout_ms: 2000}
    breaker: {consecutive_failures: 1, cooldown_ms: 600000}
tasks:
  echo:
    tier: down-tier
    prompt: {id: down, version: 1, user: "Say {{n}}"}
    max_tokens: 10
    output: {topic: switchyard.results.down, parse: text, format: json}
YAML
P=$T/down.yaml
# the restart: the circuit off, so that every job's second attempt fails at once
sed 's/breaker: .*/breaker: {consecutive_failures: 0, failure_ratio: 0}/' "$P" >"$T/down2.yaml"
start_broker "$P"
BROKER_PID=${PIDS[-1]}
start_scheduler "$P"
"$PY" -c "
import json
for i in range(20): print(json.dumps({'id': 'd-%d' % i, 'task': 'echo', 'vars': {'n': i}}))" >"$T/jobs.jsonl"
"$SY_BIN" submit -q "$T/jobs.jsonl" || fail "submit"

# 1. the first calls fail at once, the circuit opens: every job waits
start_worker w1 -p "$P" --state-dir "$T/state" --log-level debug
for _ in $(seq 150); do grep -q "cannot connect" "$T/w1.log" && break; sleep 0.1; done
grep -q "provider 'downstream': cannot connect to 127.0.0.1:$DOWN (Connection refused)" "$T/w1.log" ||
    fail "the log does not name the provider's host and port"
ok "log: provider 'downstream': cannot connect to 127.0.0.1:$DOWN (Connection refused)"
grep -q "provider 'downstream': \$OPENAI_API_KEY looks like a real API key, but the base_url points at a local or fake provider" "$T/w1.log" ||
    fail "no warning about a real-looking key going to a local URL"
ok "warned: a real-looking key configured with a local base_url"
sleep 1
kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "worker exit status $?"
grep -q "stopping: 20 job(s) held, 0 with a call out" "$T/w1.log" ||
    fail "not every job was waiting at the stop: $(grep stopping "$T/w1.log")"

# 2. the restart knows no call was out; the second attempts fail for good
start_worker w2 -p "$T/down2.yaml" --state-dir "$T/state"
for _ in $(seq 150); do grep -q "recovery: " "$T/w2.log" && break; sleep 0.1; done
grep -q "recovery: 0 call(s) may have been in flight; [1-9][0-9]* job(s) were waiting with no call out" "$T/w2.log" ||
    fail "restart: $(grep 'recovery: ' "$T/w2.log")"
ok "restart after a clean stop: $(grep -o '0 call(s) may have been in flight; [0-9]* job(s) were waiting' "$T/w2.log")"
"$SY_BIN" results --topic switchyard.results.down --count 20 --timeout-ms 30000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") results"
"$SY_BIN" results --topic switchyard.dlq --count 20 --timeout-ms 10000 --headers >"$T/dlq.jsonl" ||
    fail "only $(wc -l <"$T/dlq.jsonl") dead letters"
"$PY" - "$T" "$DOWN" <<'PY' || fail "results and dead letters"
import json, sys
t, port = sys.argv[1], sys.argv[2]
want = "cannot connect to 127.0.0.1:%s (Connection refused)" % port
results = [json.loads(l) for l in open(t + "/results.jsonl")]
assert len(results) == 20 and all(r["status"] == "failed" for r in results), results[:2]
for r in results:
    assert r["error"]["message"] == want, r["error"]
for d in (json.loads(l) for l in open(t + "/dlq.jsonl")):
    assert d["headers"]["switchyard.error.message"] == want, d["headers"]
print("ok - each result and dead letter says: " + want)
PY
# 3. the broker goes away first: the worker still stops (its last offset
# commit gives up instead of waiting for a coordinator forever)
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
t0=$(date +%s)
kill -TERM "$LAST_PID"
for _ in $(seq 600); do kill -0 "$LAST_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LAST_PID" 2>/dev/null && fail "the worker still runs 60 s after SIGTERM with the broker gone"
ok "broker gone, then SIGTERM: the worker exits after $(($(date +%s) - t0)) s"
if grep -l -E 'PASSWORD789|QUERY789' "$T"/*.log "$T"/*.jsonl; then fail "the URL's userinfo or query appears above"; fi
ok "no userinfo or query string of the URL in logs, results or dead letters"
check_logs
