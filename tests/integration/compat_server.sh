#!/usr/bin/env bash
# The openai-compatible kind against an OpenAI-compatible server this
# project did not write: @dwmkerr/mock-llm from npm (scripts/mock-llm.sh),
# with rules for what such servers do. Through the worker:
#  * its default answer has no usage, no rate-limit headers and few fields:
#    the tokens are estimated, marked and priced (cost > 0);
#  * the provider's parameter mapping reaches the server: a rule answers
#    "mapped" only to a request with random_seed 7 and neither seed nor
#    top_p (and its answer carries usage and members OpenAI does not have);
#  * a flat error body (vLLM's {"object": "error", ...}) is read: a 400 is
#    bad_request, not retried, with the server's message;
#  * an error without an error body (404, `null`) is not_found, not retried.
# Skipped (exit 77) only when npm cannot install the package.
source "$(dirname "$0")/lib.sh"
main=$("$SY_SRC/scripts/mock-llm.sh" install 2>"$T/npm.log") || {
    rc=$?
    [ "$rc" = 3 ] && { echo "SKIP: @dwmkerr/mock-llm could not be installed from npm: $(tail -n 3 "$T/npm.log")"; exit 77; }
    fail "scripts/mock-llm.sh install: $(cat "$T/npm.log")"
}
cat >"$T/mock-llm.yaml" <<'YAML'
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "{{jmes request body.messages[-1].content}}"}, "finish_reason": "stop"}]}
  - path: "/v1/chat/completions"
    method: "POST"
    match: "contains(body.messages[-1].content, 'mapping') && body.random_seed == `7` && body.seed == null && body.top_p == null && body.max_tokens == `50`"
    response:
      status: 200
      content: |
        {"choices": [{"message": {"role": "assistant", "content": "mapped"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 11, "completion_tokens": 1}, "x_extra": {"a": [1, 2]}}
  - path: "/v1/chat/completions"
    method: "POST"
    match: "contains(body.messages[-1].content, 'flat-error')"
    response:
      status: 400
      content: |
        {"object": "error", "message": "flat: unsupported parameter", "type": "BadRequestError", "param": null, "code": 400}
  - path: "/v1/chat/completions"
    method: "POST"
    match: "contains(body.messages[-1].content, 'no-body')"
    response:
      status: 404
      content: "null"
YAML
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1 PORT=$port node "$main" --config "$T/mock-llm.yaml" >"$T/mock-llm.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || fail "mock-llm did not start: $(cat "$T/mock-llm.log")"
export MOCK_LLM_URL="http://127.0.0.1:$port/v1"
P=tests/pipelines/compat.yaml
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
cat >"$T/jobs.jsonl" <<'JSONL'
{"id": "c-echo", "task": "compat", "vars": {"text": "hello from switchyard"}}
{"id": "c-mapping", "task": "compat", "vars": {"text": "check the mapping"}}
{"id": "c-flat", "task": "compat", "vars": {"text": "flat-error please"}}
{"id": "c-nobody", "task": "compat", "vars": {"text": "no-body please"}}
JSONL
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.compat --count 4 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 4 results"
"$PY" - "$T" <<'PY' || fail "compat server assertions"
import json, sys
res = {json.loads(l)["job_id"]: json.loads(l) for l in open(f"{sys.argv[1]}/results.jsonl")}
for jid, r in sorted(res.items()):
    print(f"   {jid:10} {r['status']:6} attempts {r['attempts']} tokens {r['tokens']} cost {r['cost_usd']:.8f} "
          f"{(r['error'] or {}).get('class', '')} {r['output']!r}")
r = res["c-echo"]
assert r["status"] == "ok" and r["output"] == "hello from switchyard", r
assert r["tokens"].get("estimated") is True and r["tokens"]["in"] > 0 and r["tokens"]["out"] > 0, r
assert abs(r["cost_usd"] - (r["tokens"]["in"] * 0.5 + r["tokens"]["out"] * 1.5) / 1e6) < 1e-12 and r["cost_usd"] > 0, r
r = res["c-mapping"]
assert r["status"] == "ok" and r["output"] == "mapped", r   # random_seed 7, no seed, no top_p
assert r["tokens"] == {"in": 11, "out": 1}, r
r = res["c-flat"]
assert r["status"] == "failed" and r["error"]["class"] == "bad_request" and r["attempts"] == 1, r
assert "flat: unsupported parameter" in r["error"]["message"], r
r = res["c-nobody"]
assert r["status"] == "failed" and r["error"]["class"] == "not_found" and r["attempts"] == 1, r
PY
ok "openai-compatible against @dwmkerr/mock-llm: no usage estimated and priced, parameter mapping on the wire, flat and missing error bodies"
check_logs
