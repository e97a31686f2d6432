#!/usr/bin/env bash
# The fake provider on its own, over real HTTP with curl: response shapes of
# both APIs, deterministic answers and token counts, JSON mode, auth errors,
# magic markers, rate-limit headers and windows, the call log, keep-alive,
# pipelining, latency, every provider kind of the product (kind-probe) and
# the exit summary.
#
#   SY_FAKE=build/fake-provider bash tests/integration/fake_provider.sh
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
SY_FAKE=${SY_FAKE:-build/fake-provider}
T=$(mktemp -d /tmp/fake-provider-test.XXXXXX)
PIDS=()
KEY=sk-test-fake-SECRET789

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done >&2
    exit 1
}
ok() { echo "ok - $*"; }

start() { # name, then options; sets URL (http://127.0.0.1:PORT) and PID
    local name=$1 i
    shift
    "$SY_FAKE" --port 0 --port-file "$T/$name.port" --call-log "$T/$name.calls" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    PID=$!
    PIDS+=("$PID")
    for ((i = 0; i < 100; i++)); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
    [ -s "$T/$name.port" ] || fail "$name: no port file after 10 s"
    URL="http://127.0.0.1:$(cat "$T/$name.port")"
    grep -qx "port=$(cat "$T/$name.port")" "$T/$name.out" || fail "$name: stdout lacks port=$(cat "$T/$name.port")"
}

# POST to the OpenAI API: body [key] [extra curl args...]; status in $CODE
openai() {
    local body=$1 key=${2-$KEY}
    shift 2 || shift $#
    local auth=()
    [ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
    CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' "${auth[@]}" \
        -H 'content-type: application/json' "$@" --data-binary "$body" "$URL/v1/chat/completions")
}

# POST to the Anthropic API: body [key] [extra curl args...]; status in $CODE
anthropic() {
    local body=$1 key=${2-$KEY}
    shift 2 || shift $#
    local auth=()
    [ -n "$key" ] && auth=(-H "x-api-key: $key")
    CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' "${auth[@]}" \
        -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' "$@" \
        --data-binary "$body" "$URL/v1/messages")
}

expect_code() { # expected description
    [ "$CODE" = "$1" ] || fail "$2: expected HTTP $1, got $CODE; body: $(cat "$T/body")"
}

# Run python assertions with b = parsed body (None if not JSON), raw = body
# text, h = response headers (lower-case names).
check() { # description python-code
    "$PY" - "$T/body" "$T/hdr" "$2" <<'PY' || fail "$1"
import json, re, sys
raw = open(sys.argv[1], encoding="utf-8").read()
h = {}
for line in open(sys.argv[2], encoding="latin-1"):
    if ":" in line:
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
try:
    b = json.loads(raw)
except ValueError:
    b = None
GO = r"^([0-9]+h)?([0-9]+m)?[0-9]+(\.[0-9]+)?(ms|s)$"
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
def openai_error(type_, code=None):
    e = b["error"]
    assert set(e) == {"message", "type", "param", "code"}, b
    assert e["type"] == type_ and (code is None or e["code"] == code), b
def anthropic_error(type_):
    assert b["type"] == "error" and b["error"]["type"] == type_ and b["error"]["message"], b
    assert b["request_id"] == h["request-id"], (b, h.get("request-id"))
exec(sys.argv[3])
PY
    ok "$1"
}

[ -x "$SY_FAKE" ] || fail "no fake-provider binary at $SY_FAKE (build it, or set SY_FAKE)"
start main
CALLS=0

# ---- OpenAI success: shape, exact echo, usage ----
openai '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to Bob"}]}' \
    "$KEY" -H 'X-Switchyard-Job: job-openai-1'
CALLS=$((CALLS + 1))
expect_code 200 "OpenAI success"
check "OpenAI success: shape, echo and usage (14+16 bytes -> 7+7 prompt, 21 bytes -> 6 completion)" '
assert b["id"].startswith("chatcmpl-") and b["object"] == "chat.completion", b
assert isinstance(b["created"], int) and b["model"] == "gpt-4o-mini", b
c = b["choices"][0]
assert c["index"] == 0 and c["finish_reason"] == "stop", c
assert c["message"] == {"role": "assistant", "content": "ECHO Say hello to Bob", "refusal": None, "annotations": []}, c
u = b["usage"]
assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (14, 6, 20), u
assert u["prompt_tokens_details"]["cached_tokens"] == 0 and u["completion_tokens_details"]["reasoning_tokens"] == 0, u
assert h["content-type"] == "application/json" and h["x-request-id"].startswith("req_"), h
assert h["openai-processing-ms"].isdigit(), h
'
check "OpenAI rate-limit headers: counts and Go durations" '
for k in ["limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens"]:
    assert h["x-ratelimit-" + k].isdigit(), (k, h)
assert h["x-ratelimit-limit-requests"] == "10000" and h["x-ratelimit-limit-tokens"] == "10000000", h
assert int(h["x-ratelimit-remaining-requests"]) < 10000, h
for k in ["reset-requests", "reset-tokens"]:
    assert re.match(GO, h["x-ratelimit-" + k]), (k, h["x-ratelimit-" + k])
'

# max_tokens cut: "ECHO " + 40 bytes = 45 bytes = 12 tokens > 3 -> 12 bytes, length
openai '{"model":"m","max_completion_tokens":3,"messages":[{"role":"user","content":"0123456789012345678901234567890123456789"}]}'
CALLS=$((CALLS + 1))
expect_code 200 "OpenAI max_completion_tokens"
check "OpenAI max_completion_tokens 3 cuts the reply to 12 bytes, finish_reason length" '
c = b["choices"][0]
assert c["message"]["content"] == "ECHO 0123456" and c["finish_reason"] == "length", c
assert b["usage"]["completion_tokens"] == 3, b["usage"]
'

# ---- Anthropic success: string content + string system; blocks + block system ----
anthropic '{"model":"claude-x","max_tokens":100,"system":"Be kind.","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"Hi there"}]}' \
    "$KEY" -H 'X-Switchyard-Job: job-anthropic-1'
CALLS=$((CALLS + 1))
expect_code 200 "Anthropic success"
check "Anthropic success (string content, string system): shape, echo of last user message, usage" '
assert b["id"].startswith("msg_") and b["type"] == "message" and b["role"] == "assistant", b
assert b["model"] == "claude-x" and b["stop_reason"] == "end_turn" and b["stop_sequence"] is None, b
assert b["content"] == [{"type": "text", "text": "ECHO Hi there"}], b["content"]
# system 8 B -> 2+3, "first" 5 B -> 2+3, "ok" -> 1+3, "Hi there" 8 B -> 2+3 = 19; reply 13 B -> 4
assert b["usage"] == {"input_tokens": 19, "output_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}, b["usage"]
assert h["request-id"].startswith("req_"), h
'
check "Anthropic rate-limit headers: counts and RFC 3339 resets" '
for k in ["requests", "tokens"]:
    assert h["anthropic-ratelimit-%s-limit" % k].isdigit() and h["anthropic-ratelimit-%s-remaining" % k].isdigit(), h
    assert re.match(RFC3339, h["anthropic-ratelimit-%s-reset" % k]), h["anthropic-ratelimit-%s-reset" % k]
'
anthropic '{"model":"claude-x","max_tokens":100,"system":[{"type":"text","text":"Be "},{"type":"text","text":"kind."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hello, "},{"type":"text","text":"wörld"}]}]}'
CALLS=$((CALLS + 1))
expect_code 200 "Anthropic block content"
check "Anthropic success (block content, block system): text blocks concatenated" '
assert b["content"][0]["text"] == "ECHO Hello, wörld", b
assert b["usage"]["input_tokens"] == 2 + 3 + 4 + 3, b["usage"]
'
anthropic '{"model":"claude-x","messages":[{"role":"user","content":"no max"}]}'
CALLS=$((CALLS + 1))
expect_code 400 "Anthropic without max_tokens"
check "Anthropic without max_tokens: 400 invalid_request_error" 'anthropic_error("invalid_request_error")'

# ---- JSON mode ----
U='My invoice is wrong and I was charged twice for the same order'
openai "{\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":\"user\",\"content\":\"$U\"}]}"
CALLS=$((CALLS + 1))
expect_code 200 "OpenAI JSON mode"
check "OpenAI json_object: reply parses, label is one of four, echo = first 40 bytes" '
r = json.loads(b["choices"][0]["message"]["content"])
assert r["label"] in ["billing", "technical", "account", "other"], r
assert r["echo"] == "My invoice is wrong and I was charged twice for the same order"[:40], r
'
anthropic '{"model":"c","max_tokens":200,"system":"Answer in JSON.","messages":[{"role":"user","content":"Mon \"écran\" clignote depuis hier, àéîõü tail"}]}'
CALLS=$((CALLS + 1))
expect_code 200 "Anthropic JSON mode"
check "Anthropic with JSON in the system prompt: reply parses, echo cut at a UTF-8 boundary" '
r = json.loads(b["content"][0]["text"])
assert r["label"] in ["billing", "technical", "account", "other"], r
assert r["echo"] == "Mon \"écran\" clignote depuis hier, àé", r
'

# ---- auth ----
openai '{"model":"m","messages":[{"role":"user","content":"x"}]}' bad-key
CALLS=$((CALLS + 1))
expect_code 401 "OpenAI bad key"
check "OpenAI bad-key: 401 invalid_api_key" 'openai_error("invalid_request_error", "invalid_api_key")'
openai '{"model":"m","messages":[{"role":"user","content":"x"}]}' ""
CALLS=$((CALLS + 1))
expect_code 401 "OpenAI missing key"
check "OpenAI missing key: 401 in the OpenAI error shape" 'openai_error("invalid_request_error", "invalid_api_key")'
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' bad-key
CALLS=$((CALLS + 1))
expect_code 401 "Anthropic bad key"
check "Anthropic bad-key: 401 authentication_error" 'anthropic_error("authentication_error")'
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' ""
CALLS=$((CALLS + 1))
expect_code 401 "Anthropic missing key"
check "Anthropic missing key: 401 authentication_error" 'anthropic_error("authentication_error")'
openai '{"model":"m","messages":[{"role":"user","content":"x"}]}' no-quota-key
CALLS=$((CALLS + 1))
expect_code 429 "OpenAI no-quota-key"
check "OpenAI no-quota-key: 429 insufficient_quota" 'openai_error("insufficient_quota", "insufficient_quota")'
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' no-quota-key
CALLS=$((CALLS + 1))
expect_code 402 "Anthropic no-quota-key"
check "Anthropic no-quota-key: 402 billing_error" 'anthropic_error("billing_error")'
openai '{"model":"m","messages":[{"role":"user","content":'
CALLS=$((CALLS + 1))
expect_code 400 "OpenAI bad JSON"
check "OpenAI bad JSON body: 400 invalid_request_error" 'openai_error("invalid_request_error")'

# ---- markers ----
openai '{"model":"m","messages":[{"role":"user","content":"slow down [[status:429]]"}]}'
CALLS=$((CALLS + 1))
expect_code 429 "[[status:429]]"
check "[[status:429]]: 429 rate_limit_exceeded with retry-after 1 and retry-after-ms 1000" '
openai_error("requests", "rate_limit_exceeded")
assert h["retry-after"] == "1" and h["retry-after-ms"] == "1000", h
'
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"busy [[status:529]]"}]}'
CALLS=$((CALLS + 1))
expect_code 529 "[[status:529]] on Anthropic"
check "[[status:529]] on Anthropic: overloaded_error" 'anthropic_error("overloaded_error")'
FF='{"model":"m","messages":[{"role":"user","content":"flaky [[fail-first:2]]"}]}'
got=""
for _ in 1 2 3; do openai "$FF"; got="$got $CODE"; CALLS=$((CALLS + 1)); done
[ "$got" = " 500 500 200" ] || fail "[[fail-first:2]]: expected 500 500 200, got$got"
ok "[[fail-first:2]]: 500 500 200"
openai '{"model":"gpt-a","messages":[{"role":"user","content":"[[fail-model:gpt-a]]"}]}'
CALLS=$((CALLS + 1))
expect_code 500 "[[fail-model]] on the named model"
check "[[fail-model:gpt-a]] with model gpt-a: 500 server_error" 'openai_error("server_error")'
openai '{"model":"gpt-b","messages":[{"role":"user","content":"[[fail-model:gpt-a]]"}]}'
CALLS=$((CALLS + 1))
expect_code 200 "[[fail-model]] on another model"
ok "[[fail-model:gpt-a]] with model gpt-b: 200"
openai '{"model":"m","messages":[{"role":"user","content":"[[malformed]]"}]}'
CALLS=$((CALLS + 1))
expect_code 200 "[[malformed]]"
check "[[malformed]]: 200 with a body that is not valid JSON" 'assert b is None and raw.startswith("{"), raw'
rc=0
curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $KEY" \
    --data-binary '{"model":"m","messages":[{"role":"user","content":"[[hang]]"}]}' \
    "$URL/v1/chat/completions" || rc=$?
CALLS=$((CALLS + 1))
[ "$rc" = 28 ] || fail "[[hang]]: expected curl to time out (exit 28), got exit $rc"
ok "[[hang]]: no answer within 1 s (curl timed out)"
start=$(date +%s%N)
openai '{"model":"m","messages":[{"role":"user","content":"[[latency:300]]"}]}'
CALLS=$((CALLS + 1))
ms=$((($(date +%s%N) - start) / 1000000))
expect_code 200 "[[latency:300]]"
[ "$ms" -ge 290 ] || fail "[[latency:300]]: answered after $ms ms, expected >= 290"
ok "[[latency:300]]: answered after $ms ms"

# ---- HTTP: 404, 411, keep-alive, pipelining ----
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/nope")
[ "$code" = 404 ] || fail "unknown path: expected 404, got $code"
ok "unknown path: 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H "Authorization: Bearer $KEY" \
    --data-binary '{}' "$URL/v1/chat/completions")
[ "$code" = 411 ] || fail "chunked body: expected 411, got $code"
ok "request without Content-Length: 411"
[ "$(curl -s "$URL/health")" = ok ] || fail "GET /health: expected ok"
ok "GET /health: ok"
before=$(curl -s "$URL/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["connections_total"])')
out=$(curl -s -w ' %{num_connects}\n' -H "Authorization: Bearer $KEY" \
    --data-binary '{"model":"m","messages":[{"role":"user","content":"keep alive"}]}' \
    "$URL/v1/chat/completions" "$URL/v1/chat/completions" "$URL/v1/chat/completions" "$URL/v1/chat/completions")
CALLS=$((CALLS + 4))
after=$(curl -s "$URL/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["connections_total"])')
[ "$(grep -c '"content":"ECHO keep alive"' <<<"$out")" = 4 ] || fail "keep-alive: expected 4 answers, got: $out"
[ $((after - before)) = 2 ] || fail "keep-alive: 4 requests in one curl opened $((after - before - 1)) connections, expected 1"
ok "keep-alive: 4 requests over one connection"
"$PY" - "$(cat "$T/main.port")" "$KEY" <<'PY' || fail "pipelining: two requests in one write, a third split in pieces"
import json, socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def req(text):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(req("pipe one") + req("pipe two"))
third = req("pipe three")
for i in range(0, len(third), 7):
    s.sendall(third[i:i + 7]); time.sleep(0.002)
s.settimeout(5)
data = b""
while data.count(b"ECHO pipe") < 3:
    chunk = s.recv(65536)
    assert chunk, data
    data += chunk
i1, i2, i3 = (data.index(b"ECHO pipe " + w) for w in (b"one", b"two", b"three"))
assert i1 < i2 < i3 and data.count(b"HTTP/1.1 200 OK") == 3, data
PY
CALLS=$((CALLS + 3))
ok "pipelining and partial reads: 3 answers in order on one connection"

# ---- call log ----
"$PY" - "$T/main.calls" "$CALLS" <<'PY' || fail "call log"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
calls = [json.loads(l) for l in lines]
assert len(calls) == int(sys.argv[2]), "expected %s lines, got %d" % (sys.argv[2], len(calls))
keys = {"ts_ms", "api", "model", "job", "key_id", "prompt_hash", "status", "tokens_in", "tokens_out", "latency_ms"}
for c in calls:
    assert set(c) == keys, c
    assert c["api"] in ("openai", "anthropic") and len(c["prompt_hash"]) == 16, c
    assert c["key_id"] is None or len(c["key_id"]) == 8, c
first = calls[0]
assert first["job"] == "job-openai-1" and first["status"] == 200 and first["model"] == "gpt-4o-mini", first
assert (first["tokens_in"], first["tokens_out"]) == (14, 6), first
assert any(c["job"] == "job-anthropic-1" and c["api"] == "anthropic" for c in calls)
assert sum(c["status"] == 0 for c in calls) == 1, "one hang line (status 0)"
assert [c["status"] for c in calls if c["prompt_hash"] == calls[0]["prompt_hash"]] == [200]
PY
if grep -q -e "$KEY" -e SECRET "$T"/*; then fail "the API key appears in a file: $(grep -l -e "$KEY" -e SECRET "$T"/*)"; fi
ok "call log: $CALLS lines, one per call, job header recorded, no API key anywhere"

# ---- rate-limit windows ----
start limited --rpm 180 --window-ms 1000 # 3 a second
got=""
for _ in 1 2 3 4; do openai '{"model":"m","messages":[{"role":"user","content":"rl"}]}'; got="$got $CODE"; done
cp "$T/body" "$T/rl-openai.body"; cp "$T/hdr" "$T/rl-openai.hdr"
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"rl"}]}'
got="$got $CODE"
cp "$T/body" "$T/rl-anthropic.body"; cp "$T/hdr" "$T/rl-anthropic.hdr"
anthropic '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"rl"}]}' other-key
got="$got $CODE"
[ "$got" = " 200 200 200 429 429 200" ] ||
    fail "--rpm 180 (3 per 1 s window): expected 200 200 200 429 (OpenAI), 429 (Anthropic, same key), 200 (other key), got$got"
ok "--rpm 180: 4th and 5th requests of a key in the window are 429; another key has its own window"
cp "$T/rl-openai.body" "$T/body"; cp "$T/rl-openai.hdr" "$T/hdr"
check "--rpm 180: OpenAI 429 rate_limit_exceeded with retry-after" '
openai_error("requests", "rate_limit_exceeded")
assert h["retry-after"] == "1" and 0 < int(h["retry-after-ms"]) <= 1000, h
assert h["x-ratelimit-remaining-requests"] == "0" and h["x-ratelimit-limit-requests"] == "180", h
'
cp "$T/rl-anthropic.body" "$T/body"; cp "$T/rl-anthropic.hdr" "$T/hdr"
check "--rpm 180: Anthropic 429 rate_limit_error with retry-after" '
anthropic_error("rate_limit_error")
assert int(h["retry-after"]) >= 1 and h["anthropic-ratelimit-requests-remaining"] == "0", h
'
sleep 1.1
openai '{"model":"m","messages":[{"role":"user","content":"rl"}]}'
expect_code 200 "--rpm 180: after the window"
ok "--rpm 180 --window-ms 1000: 3 per window, limit stated per minute; 429 within the window, 200 after it"

# ---- latency option ----
start slow --latency-ms 200
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $KEY" \
    --data-binary '{"model":"m","messages":[{"role":"user","content":"slow"}]}' "$URL/v1/chat/completions")
"$PY" -c "import sys; t = float(sys.argv[1]); assert 0.19 <= t < 2, t" "$t" || fail "--latency-ms 200: took ${t}s"
ok "--latency-ms 200: request took ${t}s"

# ---- Azure OpenAI: deployment URLs, api-key, api-version, its errors ----
start azure --rpm 2 --tpm 100000000
AZ="$URL/openai/deployments/gpt4o/chat/completions"
azure() { # body url [key]; status in $CODE
    local key=${3-$KEY} auth=()
    [ -n "$key" ] && auth=(-H "api-key: $key")
    CODE=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' "${auth[@]}" \
        -H 'content-type: application/json' --data-binary "$1" "$2")
}
azure '{"messages":[{"role":"user","content":"hello azure"}],"max_tokens":20}' "$AZ?api-version=2024-10-21"
[ "$CODE" = 200 ] || fail "azure: expected 200, got $CODE: $(cat "$T/body")"
"$PY" - "$T/body" <<'PYEOF' || fail "azure: success body: $(cat "$T/body")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["object"] == "chat.completion" and b["choices"][0]["message"]["content"], b
assert b["usage"]["prompt_tokens"] > 0, b
PYEOF
grep -qi '^apim-request-id: ' "$T/hdr" || fail "azure: no apim-request-id"
grep -qi '^x-ratelimit-remaining-requests: 1' "$T/hdr" || fail "azure: no x-ratelimit-remaining-requests: $(cat "$T/hdr")"
grep -qi '^x-ratelimit-limit-requests' "$T/hdr" && fail "azure: sends a limit header Azure does not send"
azure '{"messages":[{"role":"user","content":"hello"}]}' "$AZ"
[ "$CODE" = 404 ] || fail "azure without api-version: expected 404, got $CODE"
azure '{"messages":[{"role":"user","content":"hello"}]}' "$AZ?api-version=2024-10-21" ""
[ "$CODE" = 401 ] || fail "azure without api-key: expected 401, got $CODE"
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]=="invalid_api_key" and e["type"] is None, e' "$T/body" ||
    fail "azure 401 body: $(cat "$T/body")"
azure '{"messages":[{"role":"user","content":"hello"}]}' "$AZ?api-version=2024-10-21" "" -H "Authorization: Bearer $KEY"
[ "$CODE" = 401 ] || fail "azure with a Bearer key instead of api-key: expected 401, got $CODE"
azure '{"messages":[{"role":"user","content":"third"}],"max_tokens":5}' "$AZ?api-version=2024-10-21"
azure '{"messages":[{"role":"user","content":"fourth"}],"max_tokens":5}' "$AZ?api-version=2024-10-21"
[ "$CODE" = 429 ] || fail "azure over --rpm 2: expected 429, got $CODE"
grep -qi '^retry-after-ms: [0-9]' "$T/hdr" || fail "azure 429: no retry-after-ms"
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]=="rate_limit_exceeded", e' "$T/body" ||
    fail "azure 429 body: $(cat "$T/body")"
curl -s "$URL/stats" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); assert s["by_api"]["azure"] >= 6, s' ||
    fail "azure: /stats does not count azure calls"
ok "azure: deployment URL, api-key, 404 without api-version, Azure error bodies, remaining-only limits, retry-after-ms"

# ---- every provider kind of the product is served ----
# kind-probe walks the product's list of kinds (worker/providers/kinds.c):
# each module builds its own request and reads the fake's answer, so a kind
# the fake cannot stand in for fails here.
SY_KIND_PROBE=${SY_KIND_PROBE:-build/tests/kind-probe}
start kinds --rpm 600000 --tpm 100000000
"$SY_KIND_PROBE" "$URL/v1" "$KEY" >"$T/probe.out" 2>"$T/probe.err" ||
    fail "kind-probe: $(cat "$T/probe.out" "$T/probe.err")"
nkinds=$("${SY_BIN:-build/switchyard}" check --kinds | awk 'NR > 1' | wc -l)
[ "$nkinds" -ge 3 ] && [ "$(grep -c '^[a-z-]* ok HTTP 200 ' "$T/probe.out")" = "$nkinds" ] ||
    fail "kind-probe: expected $nkinds kinds ok: $(cat "$T/probe.out")"
ok "every provider kind ($nkinds) is served by the fake: $(awk '{printf "%s%s", sep, $1; sep=", "}' "$T/probe.out")"

# ---- batch APIs: files, batches, message batches ----
# Partial failures ([[status:500]] lines in the error file), expiry, cancel,
# hostile output lines, the per-custom_id creation count, Anthropic results.
start batch --batch-ms 200 --batch-expire-after 3
start batchh --batch-ms 0 --batch-hostile
URL_B=$URL
URL=$(sed 's/^/http:\/\/127.0.0.1:/' "$T/batch.port")
"$PY" - "$URL" "$URL_B" "$KEY" <<'PYEOF' || fail "batch APIs (see above)"
import json, sys, time, urllib.request, uuid
url, url_h, key = sys.argv[1:4]
def req(base, method, path, body=None, ctype="application/json", hdr=None):
    h = dict(hdr if hdr is not None else {"Authorization": "Bearer " + key})
    if body is not None: h["content-type"] = ctype
    r = urllib.request.Request(base + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r) as resp: return resp.status, resp.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def line(cid, text):
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}})
def upload(base, lines):
    b = uuid.uuid4().hex
    body = ("--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--%s\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
            "Content-Type: application/jsonl\r\n\r\n%s\r\n--%s--\r\n" % (b, b, "\n".join(lines) + "\n", b)).encode()
    st, r = req(base, "POST", "/v1/files", body, "multipart/form-data; boundary=" + b)
    assert st == 200, (st, r)
    return json.loads(r)["id"]
def create(base, fid):
    st, r = req(base, "POST", "/v1/batches", json.dumps({"input_file_id": fid, "endpoint": "/v1/chat/completions",
                "completion_window": "24h", "metadata": {"sy_batch": "b1"}}).encode())
    assert st == 200, (st, r)
    return json.loads(r)
def wait(base, bid, final=("completed", "expired", "failed", "cancelled")):
    for _ in range(100):
        b = json.loads(req(base, "GET", "/v1/batches/" + bid)[1])
        if b["status"] in final: return b
        time.sleep(0.05)
    raise AssertionError("batch never ended: %s" % b)
def content(base, fid):
    st, r = req(base, "GET", "/v1/files/%s/content" % fid)
    assert st == 200, st
    return [l for l in r.decode().split("\n") if l]
# partial failure and expiry: 5 lines, the 2nd fails, lines 4 and 5 expire
b = create(url, upload(url, [line("j%d" % i, "hello %d%s" % (i, " [[status:500]]" if i == 2 else "")) for i in range(1, 6)]))
assert b["status"] == "validating" and b["metadata"] == {"sy_batch": "b1"}, b
b = wait(url, b["id"])
assert b["status"] == "expired" and b["request_counts"] == {"total": 5, "completed": 2, "failed": 3}, b
out = [json.loads(l) for l in content(url, b["output_file_id"])]
err = [json.loads(l) for l in content(url, b["error_file_id"])]
assert sorted(o["custom_id"] for o in out) == ["j1", "j3"], out
assert all(o["response"]["status_code"] == 200 and o["response"]["body"]["choices"][0]["message"]["content"].startswith("ECHO hello") for o in out)
assert {e["custom_id"]: (e["response"] or {}).get("status_code") or e["error"]["code"] for e in err} == \
    {"j2": 500, "j4": "batch_expired", "j5": "batch_expired"}, err
# listing finds the batch by its input file; cancel; invalid input fails the batch
lst = json.loads(req(url, "GET", "/v1/batches?limit=100")[1])["data"]
assert any(x["id"] == b["id"] and x["input_file_id"] == b["input_file_id"] for x in lst)
c = create(url, upload(url, [line("c1", "x")]))
c = json.loads(req(url, "POST", "/v1/batches/%s/cancel" % c["id"], b"")[1])
assert c["status"] == "cancelling", c
c = wait(url, c["id"])
assert c["status"] == "cancelled" and c["output_file_id"] is None, c
f = wait(url, create(url, upload(url, [line("d", "x"), line("d", "y")]))["id"])
assert f["status"] == "failed" and f["errors"]["data"][0]["message"] == "duplicate custom_id", f
assert req(url, "GET", "/v1/batches/batch_nope")[0] == 404
assert req(url, "GET", "/v1/batches", hdr={})[0] == 401
st = json.loads(req(url, "GET", "/batch-stats")[1])
assert st["dup_custom_ids"] == 1 and st["max_per_custom_id"] == 2 and st["batches"] == 3, st
# hostile output: duplicates, an unknown custom_id, a line that is not JSON
h = wait(url_h, create(url_h, upload(url_h, [line("h1", "a")]))["id"])
lines = content(url_h, h["output_file_id"])
assert len(lines) == 4 and lines[0] == lines[1] and "not-in-this-batch" in lines[2] and lines[3] == "this line is not JSON", lines
# Anthropic message batches
ah = {"x-api-key": key, "anthropic-version": "2023-06-01"}
reqs = [{"custom_id": "m%d" % i, "params": {"model": "claude-x", "max_tokens": 100,
         "messages": [{"role": "user", "content": "hi %d%s" % (i, " [[status:400]]" if i == 2 else "")}]}} for i in (1, 2)]
st, r = req(url_h, "POST", "/v1/messages/batches", json.dumps({"requests": reqs}).encode(), hdr=ah)
m = json.loads(r)
assert st == 200 and m["id"].startswith("msgbatch_") and m["processing_status"] == "in_progress", r
m = json.loads(req(url_h, "GET", "/v1/messages/batches/" + m["id"], hdr=ah)[1])
assert m["processing_status"] == "ended" and m["request_counts"]["succeeded"] == 1 and m["request_counts"]["errored"] == 1, m
res = {}
for x in req(url_h, "GET", m["results_url"], hdr=ah)[1].decode().split("\n"):
    if x.startswith("{") and "result" in x: res[json.loads(x)["custom_id"]] = json.loads(x)["result"]
assert res["m1"]["type"] == "succeeded" and res["m1"]["message"]["content"][0]["text"] == "ECHO hi 1", res
assert res["m2"]["type"] == "errored" and res["m2"]["error"]["error"]["type"] == "invalid_request_error", res
bad = {"requests": [{"custom_id": "has space", "params": {}}]}
assert req(url_h, "POST", "/v1/messages/batches", json.dumps(bad).encode(), hdr=ah)[0] == 400
PYEOF
ok "batch APIs: upload, create, poll, partial failure, expiry, cancel, invalid input, hostile output, dup count, message batches"

# ---- exit: every server stops cleanly on SIGTERM ----
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || fail "SIGTERM: expected exit 0, got $rc"
done
PIDS=()
grep -q 'requests=1 200=1 .*cpu_us=' "$T/slow.err" || fail "SIGTERM: no stats line: $(cat "$T/slow.err")"
ok "SIGTERM: exit 0 with a stats line: $(cat "$T/slow.err")"
if grep -l -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T"/*.err; then
    fail "sanitizer report in the files above"
fi
ok "all fake-provider checks passed"
