#!/usr/bin/env bash
# OpenAI Batch API files in and out (tests/pipelines/structured.yaml):
# `submit --openai-batch` takes an input file unchanged (custom_id as the
# idempotency key, body.messages as the job's messages, the task from -T or
# body.model); a file with a bad line submits nothing and names each bad
# line; `results --openai-batch-output --dlq --batch-input` writes one
# output line per custom_id (answers as chat.completion bodies, failures
# and dead letters as error lines), checked line by line by custom_id,
# also after the same file was submitted twice; a line over 1 MiB and a
# file over 50,000 requests are refused before anything is sent.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/structured.yaml
start_fake
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
def req(cid, text, model="gpt-4o-mini", **extra):
    body = {"model": model, "messages": [{"role": "developer", "content": "Be brief."},
                                         {"role": "user", "content": text}], **extra}
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body})
with open(f"{t}/a.jsonl", "w") as f:
    for i in range(20):
        print(req(f"req-{i}", f"question {i}", max_tokens=50, temperature=0.2), file=f)
    print(req("parts", [{"type": "text", "text": "two"}, {"type": "text", "text": "parts"}]), file=f)
    print(req("refused-400", "please fail [[status:400]]"), file=f)
with open(f"{t}/b.jsonl", "w") as f:   # no -T: the task is body.model
    print(req("by-model", "routed by model", model="chat"), file=f)
    print(req("no-task", "nobody does this", model="no-such-task"), file=f)
with open(f"{t}/c.jsonl", "w") as f:   # body.model names the tier's second model: it answers
    print(req("pick-second", "on the second model", model="second"), file=f)
with open(f"{t}/bad.jsonl", "w") as f:
    print(req("bad-ok", "fine on its own"), file=f)
    print(req("bad-ok", "a repeated custom_id"), file=f)
    print('{"custom_id": "bad-url", "method": "POST", "url": "/v1/embeddings", "body": {}}', file=f)
    print('{"custom_id": "bad-json", ', file=f)
PY
if "$SY_BIN" submit --openai-batch "$T/bad.jsonl" -T chat >"$T/bad.out" 2>"$T/bad.err"; then
    fail "a file with bad lines was submitted"
fi
for want in "bad.jsonl:2: custom_id repeats the one of line 1" "bad.jsonl:3: url must be /v1/chat/completions" \
    "bad.jsonl:4: not JSON" "3 bad lines in $T/bad.jsonl; nothing submitted"; do
    grep -qF "$want" "$T/bad.err" || fail "submit of bad.jsonl did not say '$want': $(cat "$T/bad.err")"
done
# sizes are bounded: a line over 1 MiB, a file over 50,000 requests
"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
line = lambda cid, text: json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                                     "body": {"model": "m", "messages": [{"role": "user", "content": text}]}})
with open(f"{t}/long.jsonl", "w") as f:
    print(line("short", "x"), file=f)
    print(line("long", "x" * (1 << 20)), file=f)
with open(f"{t}/many.jsonl", "w") as f:
    for i in range(50001):
        print(line(f"n{i}", "x"), file=f)
PY
"$SY_BIN" submit --openai-batch "$T/long.jsonl" -T chat 2>"$T/long.err" && fail "a line over 1 MiB was taken"
grep -q "long.jsonl:2: line longer than 1048576 bytes" "$T/long.err" || fail "long line: $(cat "$T/long.err")"
"$SY_BIN" submit --openai-batch "$T/many.jsonl" -T chat 2>"$T/many.err" && fail "50,001 requests were taken"
grep -q "many.jsonl:50001: the file is over 50000 requests" "$T/many.err" || fail "many: $(cat "$T/many.err")"
"$SY_BIN" submit --quiet --openai-batch "$T/a.jsonl" -T chat || fail "submit a.jsonl"
"$SY_BIN" submit --quiet --openai-batch "$T/a.jsonl" -T chat || fail "submit a.jsonl again"
"$SY_BIN" submit --quiet --openai-batch - <"$T/b.jsonl" || fail "submit b.jsonl from stdin"
"$SY_BIN" submit --quiet --openai-batch "$T/c.jsonl" -T chat || fail "submit c.jsonl"
"$SY_BIN" results --topic switchyard.results.chat --dlq --openai-batch-output --batch-input "$T/a.jsonl" \
    --timeout-ms 60000 >"$T/a.out" || fail "a.jsonl: $(wc -l <"$T/a.out") lines"
"$SY_BIN" results --topic switchyard.results.chat --dlq --openai-batch-output --batch-input "$T/b.jsonl" \
    --timeout-ms 60000 >"$T/b.out" || fail "b.jsonl: $(wc -l <"$T/b.out") lines"
"$SY_BIN" results --topic switchyard.results.chat --count 46 --timeout-ms 60000 >"$T/raw.jsonl" ||
    fail "expected 46 results (22 twice, by-model and pick-second)"
"$PY" - "$T" <<'PY' || fail "batch output assertions"
import json, sys
t = sys.argv[1]
def lines(name):
    out = {}
    for l in open(f"{t}/{name}"):
        o = json.loads(l)
        assert set(o) == {"id", "custom_id", "response", "error"}, o
        assert o["custom_id"] not in out, ("custom_id twice", o)
        out[o["custom_id"]] = o
    return out
a, b = lines("a.out"), lines("b.out")
inputs = {json.loads(l)["custom_id"]: json.loads(l) for l in open(f"{t}/a.jsonl")}
assert set(a) == set(inputs), set(inputs) ^ set(a)
for cid, o in sorted(a.items()):
    if cid == "refused-400":
        assert o["response"] is None and o["error"]["code"] == "bad_request", o
        continue
    assert o["error"] is None and o["id"].startswith("batch_req_"), o
    r = o["response"]
    assert r["status_code"] == 200 and r["request_id"] == cid, o
    body = r["body"]
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4o-mini", body
    msgs = inputs[cid]["body"]["messages"]
    content = msgs[-1]["content"]
    u = content if isinstance(content, str) else "\n".join(p["text"] for p in content)
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "ECHO " + u, "refusal": None}, (cid, choice)
    assert choice["finish_reason"] == "stop" and choice["index"] == 0, choice
    u = body["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0, u
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u
assert set(b) == {"by-model", "no-task"}, b
assert b["by-model"]["response"]["body"]["choices"][0]["message"]["content"] == "ECHO routed by model", b
assert b["no-task"]["response"] is None and b["no-task"]["error"]["code"] == "unknown_task", b
raw = [json.loads(l) for l in open(f"{t}/raw.jsonl")]
assert not any(r["idempotency_key"].startswith("bad-") for r in raw), "a line of bad.jsonl was submitted"
r0 = [r for r in raw if r["idempotency_key"] == "req-0"]
assert len(r0) == 2 and sorted(r["deduplicated"] for r in r0) == [False, True], r0
assert r0[0]["metadata"]["openai.model"] == "gpt-4o-mini", r0[0]
assert r0[0]["model"] == "first", r0[0]  # gpt-4o-mini is no alias of the tier: its first model
second = [r for r in raw if r["idempotency_key"] == "pick-second"]
assert len(second) == 1 and second[0]["status"] == "ok", second
assert (second[0]["model"], second[0]["model_name"]) == ("second", "gpt-4o"), second[0]
assert second[0]["route"]["reason"].startswith("named by the job (openai.model): second"), second[0]
assert json.loads(r0[0]["metadata"]["openai.params"]) == {"max_tokens": 50, "temperature": 0.2}, r0[0]
print(f"   {len(a)} + {len(b)} output lines, one per custom_id; 'refused-400' and 'no-task' as error lines")
PY
ok "OpenAI batch input submitted unchanged, output lines per custom_id (answers, failures, dead letters)"
check_logs
