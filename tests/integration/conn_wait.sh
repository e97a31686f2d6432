#!/usr/bin/env bash
# conn_wait.sh -- a call waiting for a free connection of a provider with
# max_connections is not timed out for the wait. One fake provider over
# HTTP/1.1, 300 ms per call, max_connections 1 (max_streams_per_connection
# 1); a tier with a 1 s call timeout, 3 attempts and a circuit breaker
# that opens after 3 failures in a row; 40 jobs at once (the worker allows
# 64 calls in flight). The calls go out one at a time, in order, each with
# its whole second: every job succeeds on its first attempt, the fake sees
# exactly 40 calls and never more than one connection, nothing times out,
# the circuit never opens, and /metrics shows calls waiting meanwhile.
# 5 jobs of a task with a 2 s deadline, submitted a second later, wait
# behind them: their deadline passes before a connection is free, so they
# are never sent and expire (dead letters), which is not a failure of the
# provider either.
# (Before, the waiting calls' timeouts ran inside libcurl: most failed as
# timeouts that never reached the provider, were retried, and the circuit
# opened.)
source "$(dirname "$0")/lib.sh"
start_fake --latency-ms 300
cat >"$T/wait.yaml" <<YAML
version: 1
providers:
  one: {kind: openai, base_url: "$FAKE_URL", api_key_env: OPENAI_API_KEY, max_connections: 1,
        max_streams_per_connection: 1}
models:
  m: {provider: one, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
tiers:
  t:
    models: [m]
    retry: {attempts_per_model: 3, base_ms: 50, cap_ms: 100, timeout_ms: 1000}
    breaker: {consecutive_failures: 3, cooldown_ms: 2000}
tasks:
  echo: {tier: t, prompt: {id: w, version: 1, user: "Say {{word}}"}, max_tokens: 10,
         output: {topic: switchyard.results.wait}}
  late: {tier: t, prompt: {id: w, version: 1, user: "Say {{word}}"}, max_tokens: 10, deadline_s: 2,
         output: {topic: switchyard.results.late}}
YAML
P=$T/wait.yaml
start_broker "$P"
start_scheduler "$P"
echo_jobs 40 w- >"$T/jobs.jsonl"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state" --http 127.0.0.1:0
MPORT=$(http_port_of "$T/worker.log")
"$SY_BIN" submit -q "$T/jobs.jsonl" || fail "submit"
sleep 1
echo_jobs 5 late- | sed 's/"task": "echo"/"task": "late"/' >"$T/late.jsonl"
grep -q '"task": "late"' "$T/late.jsonl" || fail "late jobs: $(head -1 "$T/late.jsonl")"
"$SY_BIN" submit -q "$T/late.jsonl" || fail "submit late"
# the most calls seen waiting for the connection, sampled while the jobs run
(
    peak=0
    for _ in $(seq 300); do
        n=$(curl -sS "http://127.0.0.1:$MPORT/metrics" 2>/dev/null |
            sed -n 's/^switchyard_provider_calls_waiting{provider="one"} \([0-9]*\).*/\1/p' || true)
        if [ -n "$n" ] && [ "$n" -gt "$peak" ]; then peak=$n && echo "$peak" >"$T/waiting_peak"; fi
        sleep 0.1
    done
) &
SAMPLER=$!
"$SY_BIN" results --topic switchyard.results.wait --count 40 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") results"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
curl -sS "http://127.0.0.1:$(cat "$T/fake.port")/stats" >"$T/stats.json" || fail "GET /stats"
"$SY_BIN" results --topic switchyard.dlq --headers --count 5 --timeout-ms 30000 >"$T/dlq.jsonl" ||
    fail "only $(wc -l <"$T/dlq.jsonl") of 5 dead letters"
"$PY" - "$T" <<'PY' || fail "calls waiting for the connection"
import json, sys
t = sys.argv[1]
res = [json.loads(l) for l in open(t + "/results.jsonl")]
st = json.load(open(t + "/stats.json"))
ok = sum(r["status"] == "ok" for r in res)
first = sum(r["status"] == "ok" and r.get("attempts") == 1 for r in res)
retried = sum(r.get("attempts", 1) > 1 for r in res)
calls = sum(st["by_status"].values())
print("   results ok %d of %d, on the first attempt %d, retried %d; calls the fake saw %d, connections at once %d"
      % (ok, len(res), first, retried, calls, st["connections_peak"]))
assert ok == 40 and first == 40, [(r["job_id"], r["status"], r.get("attempts"), r.get("error")) for r in res
                                  if r["status"] != "ok" or r.get("attempts") != 1][:3]
assert calls == 40 and st["by_status"].get("200") == 40, st
# the peak counts this test's own GET /stats connection (open while counted)
assert st["connections_peak"] <= 2, st
dlq = [json.loads(l) for l in open(t + "/dlq.jsonl")]
classes = sorted((d["key"], d["headers"]["switchyard.error.class"]) for d in dlq)
print("   dead letters: %s" % classes)
assert classes == [("late-%d" % i, "expired") for i in range(5)], classes
PY
peak=$(cat "$T/waiting_peak" 2>/dev/null || echo 0)
[ "$peak" -ge 5 ] || fail "/metrics never showed calls waiting for the connection (peak $peak)"
ok "/metrics: switchyard_provider_calls_waiting{provider=\"one\"} up to $peak"
if grep -E "circuit open|timed out|timeout" "$T/worker.log" | head -3 | grep .; then fail "a call timed out or the circuit opened"; fi
ok "40 jobs through one connection, each on its first attempt; no timeout, no circuit open"
kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "worker exit status"
grep -q "provider one: connections opened 1, open .*calls out 0, waiting for a slot 0" "$T/worker.log" ||
    fail "worker's stats line: $(grep 'provider one' "$T/worker.log" | tail -1)"
check_logs
