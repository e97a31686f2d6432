#!/usr/bin/env bash
# The prompt registry (pipelines/README.md, Prompt registry) against real
# processes: a task names prompts/echo.yaml, version 1, with version 2
# rolled out to 30% of the jobs.
#
#   check     `switchyard check` passes; a rollout version that uses a
#             variable the current one does not is an error at file:line
#   prompts   `switchyard prompts` lists the id, versions and the task
#   rollout   300 jobs: both versions in the results, version 2 for 30%
#             within tolerance, each result's text from its own version
#   pin       jobs with metadata prompt_version=2 all run version 2; a pin
#             that is no version is dead-lettered with the reason
#   reload    an edit of the prompt file (version 1's text) is picked up by
#             the running worker: later jobs run the new text; an invalid
#             edit is rejected at its file:line and the prompts in force stay
source "$(dirname "$0")/lib.sh"
export SWITCHYARD_LOG_FORMAT=text
P=$T/pipeline.yaml
mkdir "$T/prompts"
cat >"$P" <<'YAML'
version: 1
providers:
  openai: {kind: openai, base_url: "${OPENAI_BASE_URL}", api_key_env: OPENAI_API_KEY}
models:
  m: {provider: openai, name: gpt-4o-mini, price_per_mtok: {input: 1, output: 1}}
tiers:
  echo-tier:
    models: [m]
    retry: {attempts_per_model: 2, base_ms: 50, cap_ms: 200, timeout_ms: 5000}
tasks:
  echo:
    tier: echo-tier
    prompt: {ref: echo, version: 1, rollout: {2: 30%}}
    max_tokens: 50
    output: {topic: switchyard.results.echo, parse: text, format: json}
YAML
prompt_file() { # text of version 1
    cat <<YAML
versions:
  1: {user: "$1 {{word}} {{n}}"}
  2: {system: "Be brief.", user: "two {{word}} {{n}}"}
YAML
}
prompt_file one >"$T/prompts/echo.yaml"

start_fake
OPENAI_API_KEY=x "$SY_BIN" check "$P" >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "check"; }
mkdir "$T/badvars" && cp "$P" "$T/badvars/pipeline.yaml"
printf 'versions:\n  1: {user: "one {{word}} {{n}}"}\n  2: {user: "two {{word}} {{extra}}"}\n' >"$T/badvars/prompts-echo.yaml"
mkdir "$T/badvars/prompts" && mv "$T/badvars/prompts-echo.yaml" "$T/badvars/prompts/echo.yaml"
if OPENAI_API_KEY=x "$SY_BIN" check "$T/badvars/pipeline.yaml" >"$T/badvars.out" 2>&1; then fail "check passed a rollout using {{extra}}"; fi
grep -q "prompts/echo.yaml:3:.*version 2 of prompt 'echo' uses {{extra}}" "$T/badvars.out" || { cat "$T/badvars.out"; fail "check's message"; }
ok "check: the registry's pipeline passes; a rollout version using {{extra}} fails at prompts/echo.yaml:3"

"$SY_BIN" prompts -p "$P" >"$T/prompts.out" || fail "switchyard prompts"
grep -q "^echo  (.*prompts/echo.yaml)" "$T/prompts.out" && grep -q "versions: 1 2 (system+user)" "$T/prompts.out" \
    && grep -q "task echo: version 1, rollout version 2 to 30.00% of jobs" "$T/prompts.out" \
    || { cat "$T/prompts.out"; fail "prompts listing"; }
ok "prompts: $(tr '\n' ' ' <"$T/prompts.out")"

start_broker "$P"
start_scheduler "$P"
SCHED_PID=${PIDS[-1]}
start_worker worker -p "$P" --max-inflight 32 --state-dir "$T/state"
WORKER_PID=$LAST_PID

"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(f"{t}/a.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"id": f"a{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i}}) + "\n")
with open(f"{t}/pin.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": f"p{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i},
                            "metadata": {"prompt_version": "2"}}) + "\n")
    f.write(json.dumps({"id": "bad-pin", "task": "echo", "vars": {"word": "w", "n": 0},
                        "metadata": {"prompt_version": "9"}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/a.jsonl" >>"$T/submit.out" 2>&1 || fail "submit"
"$SY_BIN" submit --quiet "$T/pin.jsonl" >>"$T/submit.out" 2>&1 || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count 321 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 321 results"
"$SY_BIN" results --topic switchyard.dlq --headers --count 1 --timeout-ms 30000 >"$T/dlq.jsonl" || fail "no dead letter for the bad pin"
"$PY" - "$T/results.jsonl" "$T/dlq.jsonl" <<'PY' || fail "rollout and pin"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len({r["job_id"] for r in rows}) == 321, "duplicates"
bad = [r for r in rows if r["job_id"] == "bad-pin"]
assert len(bad) == 1 and bad[0]["status"] == "failed", bad
rows = [r for r in rows if r["job_id"] != "bad-pin"]
text = {1: "one", 2: "two"}
for r in rows:
    v = r["prompt"]["version"]
    assert r["prompt"]["id"] == "echo", r
    assert r["output"].startswith(f"ECHO {text[v]} "), (v, r["output"])
a = collections.Counter(r["prompt"]["version"] for r in rows if r["job_id"].startswith("a"))
# 30% of 300 = 90, sd ~7.9: 4 sd either side
assert set(a) == {1, 2} and 58 <= a[2] <= 122, a
pins = collections.Counter(r["prompt"]["version"] for r in rows if r["job_id"].startswith("p"))
assert pins == {2: 20}, pins
dl = json.loads(open(sys.argv[2]).readline())
assert "bad-pin" in json.dumps(dl) and "is not a version of prompt 'echo'" in json.dumps(dl), dl
print(f"rollout: {dict(a)}; pinned: {dict(pins)}")
PY
ok "rollout: both versions, version 2 for 30% within tolerance, each text from its version; pins hold; a bad pin dead-lettered"

# reload: version 1's text edited in place
prompt_file uno >"$T/prompts/echo.yaml"
for _ in $(seq 100); do grep -q 'pipelines loaded again' "$T/worker.log" && break; sleep 0.1; done
grep -q 'pipelines loaded again' "$T/worker.log" || fail "the worker did not reload the prompt file"
"$PY" -c "
import json
for i in range(40): print(json.dumps({'id': f'r{i}', 'task': 'echo', 'vars': {'word': f'w{i}', 'n': i}}))
" >"$T/r.jsonl"
"$SY_BIN" submit --quiet "$T/r.jsonl" >>"$T/submit.out" 2>&1 || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count 361 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 361 results"
"$PY" - "$T/results.jsonl" <<'PY' || fail "after the prompt file's reload"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["job_id"].startswith("r")]
got = collections.Counter((r["prompt"]["version"], r["output"].split()[1]) for r in rows)
assert got[(1, "uno")] > 0 and got[(1, "one")] == 0, got
print(dict(got))
PY
ok "prompt file edited: reloaded, version 1 jobs now run the new text"

# an invalid edit of the prompt file: rejected at its file:line, the running
# prompts stay (version 1 still "uno")
printf 'versions:\n  1: {user: "broken {{word"}\n  2: {user: "two {{word}} {{n}}"}\n' >"$T/prompts/echo.yaml"
for _ in $(seq 100); do grep -q 'reload.*rejected' "$T/worker.log" && break; sleep 0.1; done
grep -q "reload: $T/prompts/echo.yaml:2:[0-9]*: bad template in user of version 1" "$T/worker.log" \
    || fail "the worker's log does not name prompts/echo.yaml:2"
"$PY" -c "
import json
for i in range(20): print(json.dumps({'id': f's{i}', 'task': 'echo', 'vars': {'word': f'w{i}', 'n': i}, 'metadata': {'prompt_version': '1'}}))
" >"$T/s.jsonl"
"$SY_BIN" submit --quiet "$T/s.jsonl" >>"$T/submit.out" 2>&1 || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count 381 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 381 results"
"$PY" - "$T/results.jsonl" <<'PY' || fail "after the rejected prompt file"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["job_id"].startswith("s")]
assert len(rows) == 20 and all(r["status"] == "ok" and r["output"].startswith("ECHO uno ") for r in rows), rows[:2]
PY
ok "invalid prompt file: rejected at prompts/echo.yaml:2, jobs keep running the prompts in force"

kill -TERM "$WORKER_PID" "$SCHED_PID"
wait "$WORKER_PID" || fail "the worker did not stop cleanly"
wait "$SCHED_PID" || fail "the scheduler did not stop cleanly"
check_logs
