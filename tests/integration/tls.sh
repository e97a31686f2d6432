#!/usr/bin/env bash
# tls.sh -- calls over HTTPS, with HTTP/2 where the provider offers it.
# Two fake providers serve TLS with a certificate made here (none is kept):
#  * provider h2 (ca_file: the certificate; http unset = HTTP/2 by ALPN):
#    every job completes, over HTTP/2, on far fewer TLS connections than
#    calls in flight (the fake counts handshakes and h2 streams);
#  * provider h1 (same, http: 1.1): HTTP/1.1 only, no h2 stream, a
#    connection per call in flight;
#  * provider untrusted (no ca_file: the system's CAs, which do not know the
#    certificate): each job fails tls_error at its first call, not retried,
#    to the dead-letter topic, with a message that says what to do; the
#    fallback tier moves on to the trusted model.
# And a pipeline that tries to turn verification off is refused (file:line).
source "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.log" ||
    fail "openssl req"
fake() { # name, then options
    local name=$1; shift
    "$SY_FAKE" --port 0 --port-file "$T/$name.port" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
        --latency-ms 300 "$@" >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    wait_file "$T/$name.port" 10
}
fake fake-h2
fake fake-h1
export OPENAI_API_KEY=sk-test-openai-SECRET123
H2=https://127.0.0.1:$(cat "$T/fake-h2.port")/v1 H1=https://127.0.0.1:$(cat "$T/fake-h1.port")/v1
cat >"$T/tls.yaml" <<YAML
version: 1
providers:
  h2: {kind: openai, base_url: "$H2", api_key_env: OPENAI_API_KEY, ca_file: "$T/cert.pem"}
  h1: {kind: openai, base_url: "$H1", api_key_env: OPENAI_API_KEY, ca_file: "$T/cert.pem", http: "1.1"}
  untrusted: {kind: openai, base_url: "$H1", api_key_env: OPENAI_API_KEY}
models:
  m-h2: {provider: h2, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
  m-h1: {provider: h1, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
  m-bad: {provider: untrusted, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
tiers:
  t-h2: {models: [m-h2]}
  t-h1: {models: [m-h1]}
  t-bad:
    models: [m-bad]
    retry: {attempts_per_model: 3, base_ms: 50, cap_ms: 100}
    breaker: {consecutive_failures: 0, failure_ratio: 0}
  t-fall:
    models: [m-bad, m-h2]
    breaker: {consecutive_failures: 0, failure_ratio: 0}
tasks:
  over-h2: {tier: t-h2, prompt: {id: a, version: 1, user: "h2 {{n}}"}, output: {topic: switchyard.results.h2}}
  over-h1: {tier: t-h1, prompt: {id: b, version: 1, user: "h1 {{n}}"}, output: {topic: switchyard.results.h1}}
  bad: {tier: t-bad, prompt: {id: c, version: 1, user: "bad {{n}}"}, output: {topic: switchyard.results.bad}}
  fall: {tier: t-fall, prompt: {id: d, version: 1, user: "fall {{n}}"}, output: {topic: switchyard.results.fall}}
YAML
P=$T/tls.yaml

# verification cannot be turned off: refused where it is written
sed 's/http: "1.1"}/http: "1.1", tls_verify: false}/' "$P" >"$T/insecure.yaml"
if "$SY_BIN" check "$T/insecure.yaml" >"$T/check.out" 2>&1; then fail "a pipeline with tls_verify: false passed check"; fi
grep -q "insecure.yaml:4:.*tls_verify of provider 'h1': certificate verification cannot be turned off; .*ca_file" "$T/check.out" ||
    fail "check: $(cat "$T/check.out")"
ok "tls_verify: false is refused at file:line"

start_broker "$P"
start_scheduler "$P"
"$PY" -c "
import json
for t, n in (('over-h2', 200), ('over-h1', 100), ('bad', 5), ('fall', 5)):
    for i in range(n): print(json.dumps({'id': '%s-%d' % (t, i), 'task': t, 'vars': {'n': i}}))" >"$T/jobs.jsonl"
start_worker worker -p "$P" --max-inflight 256 --state-dir "$T/state"
"$SY_BIN" submit -q "$T/jobs.jsonl" || fail "submit"
for t in h2:200 h1:100 bad:5 fall:5; do
    "$SY_BIN" results --topic "switchyard.results.${t%%:*}" --count "${t##*:}" --timeout-ms 60000 >"$T/results-${t%%:*}.jsonl" ||
        fail "only $(wc -l <"$T/results-${t%%:*}.jsonl") results of ${t%%:*}"
done
"$SY_BIN" results --topic switchyard.dlq --count 5 --timeout-ms 10000 --headers >"$T/dlq.jsonl" ||
    fail "only $(wc -l <"$T/dlq.jsonl") dead letters"
stats() { curl -sS --http1.1 --cacert "$T/cert.pem" "https://127.0.0.1:$(cat "$T/$1.port")/stats"; }
stats fake-h2 >"$T/stats-h2.json" && stats fake-h1 >"$T/stats-h1.json" || fail "GET /stats over TLS"
"$PY" - "$T" <<'PY' || fail "results and connection counts"
import json, sys
t = sys.argv[1]
res = {k: [json.loads(l) for l in open("%s/results-%s.jsonl" % (t, k))] for k in ("h2", "h1", "bad", "fall")}
for k in ("h2", "h1", "fall"):
    assert all(r["status"] == "ok" for r in res[k]), [r["error"] for r in res[k] if r["status"] != "ok"][:2]
h2, h1 = (json.load(open("%s/stats-%s.json" % (t, k))) for k in ("h2", "h1"))
# fake-h2 got the 200 jobs of over-h2 and the 5 fallbacks of fall, as h2 streams
assert h2["h2_streams"] >= 205 and h2["by_status"].get("200") == 205, h2
assert 1 <= h2["tls_connections"] <= 20, h2
assert h1["h2_streams"] == 0 and h1["h2_connections"] == 0, h1
assert h1["by_status"].get("200") == 100, h1
# 100 calls at once over HTTP/1.1: a connection each (most of them)
assert h1["tls_connections"] >= 50, h1
assert h1["tls_connections"] > 4 * h2["tls_connections"], (h1, h2)
for r in res["bad"]:
    e = r["error"]
    assert r["status"] == "failed" and e["class"] == "tls_error", r
    assert "is not trusted" in e["message"] and "ca_file" in e["message"], e
    assert r["attempts"] == 1, r  # not retried
for r in res["fall"]:
    assert r["model"] == "m-h2" and r["attempts"] == 2, r
    assert r["attempt_history"][0]["error"] == "tls_error", r["attempt_history"]
dl = [json.loads(l) for l in open(t + "/dlq.jsonl")]
assert all("is not trusted" in d["headers"]["switchyard.error.message"] for d in dl), dl[0]["headers"]
print("ok - h2: %d calls on %d TLS connections (%d h2 streams); h1: %d calls on %d connections; "
      "untrusted: tls_error, one attempt, dead-lettered" % (h2["by_status"]["200"], h2["tls_connections"],
      h2["h2_streams"], h1["by_status"]["200"], h1["tls_connections"]))
PY
kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "worker exit status"
grep -q "calls over HTTP/2 205, over HTTP/1.x 100" "$T/worker.log" ||
    fail "worker's stats line: $(grep 'connections opened' "$T/worker.log" | tail -1)"
ok "worker: $(grep -o 'connections opened.*' "$T/worker.log" | tail -1)"
check_logs
