#!/usr/bin/env bash
# Embedding tasks end to end (tests/pipelines/embeddings.yaml): 301 jobs of
# an OpenAI embedding task and 60 of an Azure one through the scheduler and
# a worker against the fake provider (--seed 7 --rate-limit-rate 0.1: its
# second request is answered 429, retried).
#
#   vectors    each ok result's `embedding` is the fake's deterministic
#              vector of its own input (tools/fake-provider/embed.c), 16
#              long as the task asks (8, the fake's own, for Azure's)
#   sharing    the jobs went out in far fewer requests than jobs, none with
#              more than the provider's max_inputs_per_request (64), nor
#              more than fit the default --max-answer-bytes (Azure's: 42)
#   429        a request answered 429 was retried: every job still ok
#   index      a job whose vector comes back under a wrong index
#              ([[bad-index]]) fails alone, dead-lettered as malformed; the
#              jobs that shared its requests are ok
#   400        a request refused whole ([[status:400]] in one input) goes
#              again in halves until that job fails alone (bad_request);
#              the others of its request are ok
#   empty      a job whose input renders empty fails at once (render_error),
#              never sent
#   usage      the results' tokens.in sum to the prompt_tokens of the
#              answered requests exactly
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/embeddings.yaml

start_fake --latency-ms 5 --seed 7 --rate-limit-rate 0.1
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state"

"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(f"{t}/jobs.jsonl", "w") as f:
    for i in range(300):
        text = f"document {i}: " + "words " * (i % 7)
        if i == 150:
            text += "[[bad-index]]"
        if i == 200:
            text += "[[status:400]]"
        f.write(json.dumps({"id": f"v-{i}", "task": "vec", "vars": {"text": text}}) + "\n")
    f.write(json.dumps({"id": "v-empty", "task": "vec", "vars": {"text": ""}}) + "\n")
    for i in range(60):
        f.write(json.dumps({"id": f"a-{i}", "task": "vec-azure", "vars": {"text": f"azure {i}"}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >"$T/submit.out" 2>&1 || fail "submit"
"$SY_BIN" results --topic switchyard.results.vec --count 301 --timeout-ms 60000 >"$T/vec.jsonl" \
    || fail "expected 301 vec results, got $(wc -l <"$T/vec.jsonl")"
"$SY_BIN" results --topic switchyard.results.vec-azure --count 60 --timeout-ms 30000 >"$T/az.jsonl" \
    || fail "expected 60 vec-azure results, got $(wc -l <"$T/az.jsonl")"
"$SY_BIN" results --topic switchyard.dlq --headers --count 3 --timeout-ms 30000 >"$T/dlq.jsonl" \
    || fail "expected the dead letters of the bad-index and the 400 jobs"

"$PY" - "$T" <<'PY' || fail "embedding results"
import json, struct, sys
t = sys.argv[1]
def fnv(b):
    h = 1469598103934665603
    for c in b:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]
def expected(text, dims):
    return [f32(((fnv(f"{text}:{j}".encode()) % 2001) - 1000) / 1024) for j in range(dims)]
jobs = {}
for line in open(f"{t}/jobs.jsonl"):
    j = json.loads(line)
    jobs[j["id"]] = j["vars"]["text"]
bad = []
tokens = 0
for name, prefix, dims in (("vec", "", 16), ("az", "doc: ", 8)):
    for line in open(f"{t}/{name}.jsonl"):
        r = json.loads(line)
        tokens += r["tokens"]["in"]
        failing = {"v-150": "malformed_response", "v-200": "bad_request", "v-empty": "render_error"}
        if r["job_id"] in failing:
            if r["status"] != "failed" or r["error"]["class"] != failing[r["job_id"]]:
                bad.append(f"{r['job_id']}: {r['status']} {r.get('error')}")
            continue
        if r["status"] != "ok":
            bad.append(f"{r['job_id']}: {r['status']} {r.get('error')}")
            continue
        want = expected(prefix + jobs[r["job_id"]], dims)
        got = [f32(x) for x in r.get("embedding", [])]
        if got != want:
            bad.append(f"{r['job_id']}: vector {got[:3]}... is not the fake's {want[:3]}...")
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
answered = sum(c["tokens_in"] for c in calls if c["status"] == 200)
if tokens != answered:
    bad.append(f"results' tokens.in sum to {tokens}, the answered requests' prompt_tokens to {answered}")
print(f"{len(calls)} requests, {sum(c['status'] == 429 for c in calls)} answered 429, tokens {tokens}")
if bad:
    print("\n".join(bad[:20]))
    sys.exit(1)
PY
ok "every vector is the fake's for its own input; the bad-index and the 400 jobs alone failed; tokens.in sum exactly"

grep -q '"key":"v-150","headers":{"switchyard.error.class":"malformed_response"' "$T/dlq.jsonl" &&
    grep -q '"key":"v-200","headers":{"switchyard.error.class":"bad_request"' "$T/dlq.jsonl" ||
    fail "dead letters are not the bad-index job's malformed_response and the 400 job's bad_request: $(cat "$T/dlq.jsonl")"
n=$(wc -l <"$T/calls.jsonl")
n429=$(grep -c '"status":429' "$T/calls.jsonl" || true)
[ "$n" -le 60 ] || fail "$n requests for 361 jobs: not shared"
[ "$n429" -ge 1 ] || fail "no request was answered 429 (the fake's --seed 7 should give one)"
most=$("$PY" -c 'import json,sys; print(max(json.loads(l).get("inputs", 0) for l in open(sys.argv[1])))' "$T/calls.jsonl")
[ "$most" -le 64 ] || fail "a request carried $most inputs, over max_inputs_per_request 64"
# Azure's vectors are of unknown length: at most 42 fit the default 4 MiB answer (4 MiB / (3072 × 32 + 256), embeddings.h)
most_az=$("$PY" -c 'import json,sys; print(max(json.loads(l).get("inputs", 0) for l in open(sys.argv[1]) if json.loads(l)["api"] == "azure"))' "$T/calls.jsonl")
[ "$most_az" -le 42 ] || fail "an Azure request carried $most_az inputs: its answer may pass --max-answer-bytes"
ok "361 jobs in $n requests (at most $most inputs each; $n429 answered 429 and retried)"
check_logs
