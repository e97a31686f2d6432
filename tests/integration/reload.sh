#!/usr/bin/env bash
# Pipeline reload (README, Reload) against real processes: jobs flow while
# the pipeline file changes under the scheduler and the worker.
#
#   rename    the echo tier's model changed by an atomic replace (written
#             aside, renamed over) while a batch is in work: every job of it
#             has exactly one result, and the jobs sent after the reload all
#             ran on the new model
#   in place  changed back by a write into the file itself: the next batch
#             runs on the old model again
#   invalid   an edit naming a model that does not exist: rejected, the log
#             names file:line, and jobs keep flowing on the running config
#   SIGHUP    a change the watch cannot see (written through a hard link in
#             another folder) is not picked up until SIGHUP, then it is
source "$(dirname "$0")/lib.sh"
export SWITCHYARD_LOG_FORMAT=text
P=$T/pipeline.yaml

pipeline() { # model of the echo tier -> stdout (m-new is defined only when used: a
             # reload adds a model the worker did not know)
    cat <<YAML
version: 1
providers:
  openai: {kind: openai, base_url: "\${OPENAI_BASE_URL}", api_key_env: OPENAI_API_KEY}
models:
  m-old: {provider: openai, name: old-model, price_per_mtok: {input: 1, output: 1}}
$([ "$1" = m-new ] && echo "  m-new: {provider: openai, name: new-model, price_per_mtok: {input: 1, output: 1}}")
tiers:
  echo-tier:
    models: [$1]
    retry: {attempts_per_model: 2, base_ms: 50, cap_ms: 200, timeout_ms: 5000}
tasks:
  echo:
    tier: echo-tier
    prompt: {id: echo, version: 1, user: "Say {{word}} number {{n}}"}
    max_tokens: 50
    output: {topic: switchyard.results.echo, parse: text, format: json}
YAML
}
pipeline m-old >"$P"

start_fake --latency-ms 30
start_broker "$P"
"$SY_BIN" scheduler -p "$P" --http 127.0.0.1:0 >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
SCHED_PID=$!
start_worker worker -p "$P" --max-inflight 8 --state-dir "$T/state" --http 127.0.0.1:0
WORKER_PID=$LAST_PID

reloads() { # process log -> how many reloads it has made
    grep -c 'pipelines loaded again' "$T/$1.log" || true
}
wait_reloads() { # n: both processes reached n reloads
    for _ in $(seq 100); do
        [ "$(reloads worker)" -ge "$1" ] && [ "$(reloads scheduler)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "expected $1 reload(s): worker $(reloads worker), scheduler $(reloads scheduler)"
}
total=0
submit_batch() { # n prefix
    echo_jobs "$1" "$2" >"$T/$2.jsonl"
    "$SY_BIN" submit --quiet "$T/$2.jsonl" >>"$T/submit.out" 2>&1 || fail "submit $2"
    total=$((total + $1))
}
# every id once (one result, one call); the models of each batch by prefix:
# "prefix:m,n" (each result on one of them) or "prefix=m,n" (on both)
check_results() {
    "$SY_BIN" results --topic switchyard.results.echo --count "$total" --timeout-ms 60000 >"$T/results.jsonl" \
        || fail "only $(wc -l <"$T/results.jsonl") of $total results"
    sleep 1
    "$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
    "$PY" - "$T/results.jsonl" "$total" "$@" <<'PY' || fail "results"
import json, sys, collections, re
rows = [json.loads(l) for l in open(sys.argv[1])]
total = int(sys.argv[2])
ids = collections.Counter(r["job_id"] for r in rows)
dup = [i for i, n in ids.items() if n > 1]
assert not dup, f"duplicated: {dup[:5]}"
assert len(ids) == total, f"{len(ids)} distinct results, {total} jobs"
assert all(r["status"] == "ok" for r in rows), [r for r in rows if r["status"] != "ok"][:2]
for spec in sys.argv[3:]:  # prefix:models (each one of them) or prefix=models (all of them)
    prefix, sep, allowed = re.split("([:=])", spec)
    got = collections.Counter(r["model"] for r in rows if re.fullmatch(prefix + r"\d+", r["job_id"]))
    assert got and set(got) <= set(allowed.split(",")), f"{prefix}: {dict(got)}, allowed {allowed}"
    assert sep == ":" or set(got) == set(allowed.split(",")), f"{prefix}: {dict(got)}, expected all of {allowed}"
    print(f"{prefix}: {dict(got)}")
calls = collections.Counter(json.loads(l)["job"] for l in open(sys.argv[1].replace("results.jsonl", "calls.jsonl")))
assert sum(calls.values()) == total and max(calls.values()) == 1, f"{sum(calls.values())} calls for {total} jobs"
PY
}

# rename: while batch a is in work (200 jobs, 8 at a time, 30 ms each)
submit_batch 200 a
"$SY_BIN" results --topic switchyard.results.echo --count 20 --timeout-ms 60000 >/dev/null || fail "batch a does not flow"
pipeline m-new >"$T/.pipeline.yaml.new"
mv "$T/.pipeline.yaml.new" "$P"
wait_reloads 1
submit_batch 50 b
check_results "a=m-old,m-new" "b:m-new"
a_models=$("$PY" -c "import json,sys; print(sorted({json.loads(l)['model'] for l in open(sys.argv[1]) if json.loads(l)['job_id'].startswith('a')}))" "$T/results.jsonl")
ok "atomic rename: reloaded while jobs flowed (batch a ran on $a_models), none lost or twice; batch b all on m-new"

# in place
pipeline m-old >"$P"
wait_reloads 2
submit_batch 50 c
check_results "a=m-old,m-new" "b:m-new" "c:m-old"
ok "in-place write: reloaded; batch c all on m-old"

# invalid: line 9 names a model that does not exist
pipeline no-such-model >"$P"
for _ in $(seq 100); do grep -q 'reload.*rejected' "$T/worker.log" && grep -q 'reload.*rejected' "$T/scheduler.log" && break; sleep 0.1; done
grep -q "reload: $P:9:[0-9]*: .*no-such-model" "$T/worker.log" || fail "the worker's log does not name $P:9"
grep -q "reload: $P:9:[0-9]*: .*no-such-model" "$T/scheduler.log" || fail "the scheduler's log does not name $P:9"
submit_batch 50 d
check_results "a=m-old,m-new" "b:m-new" "c:m-old" "d:m-old"
[ "$(reloads worker)" = 2 ] || fail "a reload was made of the invalid file"
ok "invalid edit: rejected with file:line in both logs; batch d flowed on the running config (m-old)"

# SIGHUP: a valid file again, written through a hard link the watch does not see
mkdir "$T/elsewhere"
ln "$P" "$T/elsewhere/link.yaml"
pipeline m-new >"$T/elsewhere/link.yaml"
cmp -s "$P" "$T/elsewhere/link.yaml" || fail "the hard link is not the same file"
sleep 1
[ "$(reloads worker)" = 2 ] || fail "the watch saw the write through the link (test premise)"
kill -HUP "$WORKER_PID" "$SCHED_PID"
wait_reloads 3
grep -q 'reload (SIGHUP)' "$T/worker.log" || fail "no SIGHUP reload in the worker's log"
submit_batch 50 e
check_results "a=m-old,m-new" "b:m-new" "c:m-old" "d:m-old" "e:m-new"
ok "SIGHUP: reloaded; batch e all on m-new"

# the reloads, counted in /metrics: 3 made, at least 1 rejected (the invalid
# edit; a write seen in two steps may be rejected twice)
port=$(grep -o 'http: serving.*port [0-9]*' "$T/worker.log" | grep -o '[0-9]*$')
curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics.txt" || fail "GET /metrics"
port=$(grep -o 'http: serving.*port [0-9]*' "$T/scheduler.log" | grep -o '[0-9]*$')
curl -sf "http://127.0.0.1:$port/metrics" >"$T/sched-metrics.txt" || fail "GET the scheduler's /metrics"
grep -q '^switchyard_reloads_total{result="ok"} 3$' "$T/sched-metrics.txt" \
    || { grep reloads "$T/sched-metrics.txt"; fail "the scheduler's switchyard_reloads_total"; }
grep -q '^switchyard_reloads_total{result="ok"} 3$' "$T/metrics.txt" \
    && grep -Eq '^switchyard_reloads_total\{result="failed"\} [1-9]' "$T/metrics.txt" \
    || { grep reloads "$T/metrics.txt"; fail "switchyard_reloads_total"; }
grep -q '^switchyard_jobs_total{.*model="m-new".*} ' "$T/metrics.txt" && grep -q '^switchyard_jobs_total{.*model="m-old".*} ' "$T/metrics.txt" \
    || fail "jobs by model in /metrics: both m-old and m-new expected"
ok "/metrics: $(grep '^switchyard_reloads_total' "$T/metrics.txt" | tr '\n' ' ')and jobs counted under both models"

kill -TERM "$WORKER_PID" "$SCHED_PID"
wait "$WORKER_PID" || fail "the worker did not stop cleanly"
wait "$SCHED_PID" || fail "the scheduler did not stop cleanly"
check_logs
