#!/usr/bin/env bash
# conn_limits.sh -- a provider's max_connections and max_streams_per_connection.
# Two fake providers over TLS (a certificate made here), 300 ms per call,
# the worker allowed 128 calls in flight:
#  * provider h2 (HTTP/2, max_connections 2, max_streams_per_connection 4):
#    the fake never sees more than 2 connections open at once nor more than
#    4 streams open at once on one, yet several on one (multiplexed);
#  * provider h1 (http: 1.1, max_connections 3): never more than 3 open.
# A batch tier on provider h2 goes through the same bounds and trusts the
# same ca_file (its files, batches and polls are calls to h2 like any other).
# Every job completes; the worker reports each bounded provider's
# connections and bounds (its stats line and /metrics).
source "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.log" ||
    fail "openssl req"
for name in fake-h2 fake-h1; do
    "$SY_FAKE" --port 0 --port-file "$T/$name.port" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
        --latency-ms 300 >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    wait_file "$T/$name.port" 10
done
export OPENAI_API_KEY=sk-test-openai-SECRET123
H2=https://127.0.0.1:$(cat "$T/fake-h2.port")/v1 H1=https://127.0.0.1:$(cat "$T/fake-h1.port")/v1
cat >"$T/limits.yaml" <<YAML
version: 1
providers:
  h2: {kind: openai, base_url: "$H2", api_key_env: OPENAI_API_KEY, ca_file: "$T/cert.pem",
       max_connections: 2, max_streams_per_connection: 4}
  h1: {kind: openai, base_url: "$H1", api_key_env: OPENAI_API_KEY, ca_file: "$T/cert.pem", http: "1.1",
       max_connections: 3}
models:
  m-h2: {provider: h2, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
  m-h1: {provider: h1, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
tiers:
  t-h2: {models: [m-h2]}
  t-h1: {models: [m-h1]}
  t-bulk: {models: [m-h2], mode: batch, batch: {max_jobs: 20, max_wait_ms: 200, poll_ms: 100, poll_max_ms: 300}}
tasks:
  over-h2: {tier: t-h2, prompt: {id: a, version: 1, user: "h2 {{n}}"}, output: {topic: switchyard.results.h2}}
  over-h1: {tier: t-h1, prompt: {id: b, version: 1, user: "h1 {{n}}"}, output: {topic: switchyard.results.h1}}
  bulk-h2: {tier: t-bulk, prompt: {id: c, version: 1, user: "bulk {{n}}"}, output: {topic: switchyard.results.bulk}}
YAML
P=$T/limits.yaml

# out-of-range bounds are refused where they are written
sed 's/max_connections: 3}/max_connections: 0}/' "$P" >"$T/bad.yaml"
if "$SY_BIN" check "$T/bad.yaml" >"$T/check.out" 2>&1; then fail "max_connections: 0 passed check"; fi
grep -q "bad.yaml:6:.*max_connections of provider 'h1'" "$T/check.out" || fail "check: $(cat "$T/check.out")"
ok "max_connections: 0 is refused at file:line"

start_broker "$P"
start_scheduler "$P"
"$PY" -c "
import json
for t, n in (('over-h2', 60), ('over-h1', 30), ('bulk-h2', 10)):
    for i in range(n): print(json.dumps({'id': '%s-%d' % (t, i), 'task': t, 'vars': {'n': i}}))" >"$T/jobs.jsonl"
start_worker worker -p "$P" --max-inflight 128 --state-dir "$T/state" --http 127.0.0.1:0
MPORT=$(http_port_of "$T/worker.log")
"$SY_BIN" submit -q "$T/jobs.jsonl" || fail "submit"
for t in h2:60 h1:30 bulk:10; do
    "$SY_BIN" results --topic "switchyard.results.${t%%:*}" --count "${t##*:}" --timeout-ms 60000 >"$T/results-${t%%:*}.jsonl" ||
        fail "only $(wc -l <"$T/results-${t%%:*}.jsonl") results of ${t%%:*}"
done
stats() { curl -sS --http1.1 --cacert "$T/cert.pem" "https://127.0.0.1:$(cat "$T/$1.port")/stats"; }
stats fake-h2 >"$T/stats-h2.json" && stats fake-h1 >"$T/stats-h1.json" || fail "GET /stats over TLS"
curl -sS "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt" || fail "GET /metrics"
"$PY" - "$T" <<'PY' || fail "connection and stream bounds"
import json, sys
t = sys.argv[1]
for k in ("h2", "h1", "bulk"):
    res = [json.loads(l) for l in open("%s/results-%s.jsonl" % (t, k))]
    assert all(r["status"] == "ok" for r in res), [r["error"] for r in res if r["status"] != "ok"][:2]
    assert k != "bulk" or all(r.get("batch_id") for r in res), res[:1]
h2, h1 = (json.load(open("%s/stats-%s.json" % (t, k))) for k in ("h2", "h1"))
assert h2["by_status"].get("200", 0) >= 60 and h2["h2_streams"] >= 60, h2
# the peaks count this test's own GET /stats connection (open while counted)
assert 1 <= h2["h2_connections"] <= 2 and 2 <= h2["connections_peak"] <= 3, h2
assert 2 <= h2["h2_streams_peak"] <= 4, h2     # multiplexed, within the bound
assert h1["by_status"].get("200") == 30 and h1["h2_streams"] == 0, h1
assert 2 <= h1["connections_peak"] <= 4, h1
m = open(t + "/metrics.txt").read()
for line in ('switchyard_provider_max_connections{provider="h2"} 2',
             'switchyard_provider_max_streams_per_connection{provider="h2"} 4',
             'switchyard_provider_max_connections{provider="h1"} 3'):
    assert line in m, (line, [l for l in m.splitlines() if "provider_" in l])
print("ok - h2: 60 calls, at most %d connections and %d streams on one at once; h1: 30 calls, at most %d "
      "connections" % (h2["connections_peak"] - 1, h2["h2_streams_peak"], h1["connections_peak"] - 1))
PY
kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "worker exit status"
grep -q "provider h2: connections opened [12], open .* (bounds: 2 connections, .*4 streams on one)" "$T/worker.log" ||
    fail "worker's stats line: $(grep 'provider h2' "$T/worker.log" | tail -1)"
ok "worker: $(grep -o 'provider h1: connections.*' "$T/worker.log" | tail -1)"
check_logs
