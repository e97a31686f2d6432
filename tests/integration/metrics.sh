#!/usr/bin/env bash
# Metrics and health (README, Metrics and health): a scheduler and a worker
# with --http under a small load. The worker's /metrics, scraped with curl,
# must agree with the results and dead letters consumed: jobs by status,
# tokens, cost by model and by team (with the team label capped at 50
# values, the rest under "other"), histogram counts; every sample has its
# HELP and TYPE; hostile metadata is escaped. /healthz and /readyz answer.
# The scheduler binds a non-loopback address: every path but /healthz then
# needs the bearer token, and without the token such a bind is refused.
# Every log line is a JSON object (stderr is a file).
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TOKEN="tok-$RANDOM$RANDOM-metrics"

start_fake --latency-ms 5
start_broker "$P"

# A non-loopback bind without the token: refused at once, nothing started.
rc=0
env -u SWITCHYARD_HTTP_TOKEN "$SY_BIN" worker -p "$P" --http 0.0.0.0:0 --state-dir "$T/nostate" \
    >"$T/refused.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q SWITCHYARD_HTTP_TOKEN "$T/refused.out" ||
    fail "a worker bound to 0.0.0.0 without a token: exit $rc, $(cat "$T/refused.out")"
ok "--http 0.0.0.0 without \$SWITCHYARD_HTTP_TOKEN is refused (exit 2)"

SWITCHYARD_HTTP_TOKEN=$TOKEN "$SY_BIN" scheduler -p "$P" --http 0.0.0.0:0 >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
start_worker worker -p "$P" --max-inflight 32 --state-dir "$T/state" --http 127.0.0.1:0
WPORT=$(http_port_of "$T/worker.log")
SPORT=$(http_port_of "$T/scheduler.log")
W=http://127.0.0.1:$WPORT

# 160 echo jobs: 100 distinct teams (over the cap of 50), a workflow value
# with a quote, a backslash and a newline; 4 failing with a 400, 3 retried
# once, 2 missing a variable (failed result and dead letter); 2 poison
# messages the scheduler dead-letters.
"$PY" - "$T" <<'PY'
import json, sys
with open(f"{sys.argv[1]}/jobs.jsonl", "w") as f:
    for i in range(160):
        word, n = f"w{i}", i
        if i < 4: word = "[[status:400]]"
        elif i < 7: word = "[[fail-first:1]]"
        md = {"team": f"team-{i % 100}", "workflow": 'wf "q" \\ \n end' if i % 2 else "plain"}
        job = {"id": f"m-{i}", "task": "echo", "vars": {"word": word, "n": n}, "metadata": md}
        if 7 <= i < 9: del job["vars"]["n"]
        f.write(json.dumps(job) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
printf 'not a job' | kcat -P -b "$BROKERS" -t switchyard.jobs -k poison-1 2>>"$T/kcat.log"
printf '{"id":"x","task":"nope","vars":{}}' | kcat -P -b "$BROKERS" -t switchyard.jobs -k poison-2 2>>"$T/kcat.log"
"$SY_BIN" results --topic switchyard.results.echo --count 160 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 160 results"
"$SY_BIN" results --topic switchyard.dlq --headers --count 8 --timeout-ms 30000 >"$T/dlq.jsonl" ||
    fail "only $(wc -l <"$T/dlq.jsonl") of 8 dead letters"
ok "160 results and 8 dead letters consumed"

# The page is published once a second: wait until it has every result.
for ((i = 0; i < 100; i++)); do
    curl -sf "$W/metrics" >"$T/metrics.txt" || fail "GET /metrics"
    n=$(awk '/^switchyard_jobs_total\{task="echo"/ {s += $2} END {print s + 0}' "$T/metrics.txt")
    [ "$n" = 160 ] && break
    sleep 0.2
done
[ "$n" = 160 ] || fail "switchyard_jobs_total of echo: $n, not 160"
"$PY" - "$T" <<'PY' || fail "metrics against the results"
import json, re, sys
t = sys.argv[1]
results = [json.loads(l) for l in open(f"{t}/results.jsonl")]
dlq = [json.loads(l) for l in open(f"{t}/dlq.jsonl")]
page = open(f"{t}/metrics.txt").read()

# the format: HELP and TYPE before every family's samples; labels parse
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{' + LABEL + r'(?:,' + LABEL + r')*\})? (\S+)$')
helped, typed, samples = set(), {}, []
for line in page.splitlines():
    if line.startswith("# HELP "): helped.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(); typed[name] = kind; continue
    m = SAMPLE.match(line)
    assert m, f"not a sample line: {line!r}"
    name = m.group(1)
    fam = name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and typed.get(name[: -len(suf)]) == "histogram": fam = name[: -len(suf)]
    assert fam in helped and fam in typed, f"{name}: no HELP/TYPE before it"
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    samples.append((name, labels, float(m.group(3))))

def total(name, **want):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in want.items()))

for status in ("ok", "failed"):
    want = sum(1 for r in results if r["status"] == status)
    got = total("switchyard_jobs_total", task="echo", status=status)
    assert got == want, (status, got, want)
for d in ("in", "out"):
    want = sum(r["tokens"][d] for r in results if r.get("tokens"))
    got = total("switchyard_tokens_total", direction=d)
    assert got == want, (d, got, want)
cost = sum(r.get("cost_usd", 0) for r in results)
assert abs(total("switchyard_cost_usd_total") - cost) < 1e-9, (total("switchyard_cost_usd_total"), cost)
assert abs(total("switchyard_cost_usd_by_tag_total", tag="team") - cost) < 1e-9
assert cost > 0 and abs(total("switchyard_cost_usd_by_task_total", task="echo") - cost) < 1e-9, total("switchyard_cost_usd_by_task_total")
teams = {l["value"] for n, l, v in samples if n == "switchyard_jobs_by_tag_total" and l["tag"] == "team"}
assert len(teams) == 51 and "other" in teams, (len(teams), sorted(teams)[:5])
assert total("switchyard_jobs_by_tag_total", tag="team") == 160
# teams team-0..team-99, two jobs each for 0..59: the first 50 seen keep their label
assert total("switchyard_jobs_by_tag_total", tag="team", value="other") >= 50
wf = {l["value"] for n, l, v in samples if n == "switchyard_jobs_by_tag_total" and l["tag"] == "workflow"}
assert 'wf \\"q\\" \\\\ \\n end' in wf, wf   # escaped on the page, one line
assert total("switchyard_end_to_end_seconds_count", task="echo") == 160
called = sum(1 for r in results if r.get("attempts", 0) > 0)
assert total("switchyard_provider_call_seconds_count") >= called
assert total("switchyard_provider_errors_total", **{"class": "bad_request"}) >= 4
assert total("switchyard_retries_total") >= 3
worker_dl = sum(1 for d in dlq if d["key"] not in ("poison-1", "poison-2"))
assert total("switchyard_dead_letters_total") == worker_dl, (total("switchyard_dead_letters_total"), worker_dl)
for name in ("switchyard_calls_in_flight", "switchyard_store_bytes", "switchyard_partitions_assigned"):
    assert any(n == name for n, _, _ in samples), name
assert total("switchyard_store_bytes") > 0
assert total("switchyard_pacing_headroom_ratio", account="openai") > 0
assert any(n == "switchyard_breaker_state" and l == {"tier": "echo-tier", "model": "small-openai"} for n, l, v in samples)
print(f"ok - /metrics agrees with {len(results)} results and {worker_dl} worker dead letters "
      f"({len(samples)} samples, every one with HELP and TYPE)")
PY

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$W/healthz")" = 200 ] || fail "worker /healthz"
curl -s "$W/readyz" >"$T/readyz.txt"
[ "$(code "$W/readyz")" = 200 ] || fail "worker /readyz: $(cat "$T/readyz.txt")"
ok "worker: /healthz 200, /readyz 200 ($(cat "$T/readyz.txt"))"

S=http://127.0.0.1:$SPORT
[ "$(code "$S/healthz")" = 200 ] || fail "scheduler /healthz without a token"
[ "$(code "$S/metrics")" = 401 ] || fail "scheduler /metrics without a token: $(code "$S/metrics")"
[ "$(code "$S/readyz")" = 401 ] || fail "scheduler /readyz without a token"
[ "$(code -H "Authorization: Bearer ${TOKEN}x" "$S/metrics")" = 401 ] || fail "a wrong token was let in"
[ "$(code -H "Authorization: Bearer ${TOKEN%?}" "$S/metrics")" = 401 ] || fail "a token prefix was let in"
[ "$(code -H "Authorization: Bearer $TOKEN" "$S/readyz")" = 200 ] || fail "scheduler /readyz with the token"
for ((i = 0; i < 50; i++)); do
    curl -s -H "Authorization: Bearer $TOKEN" "$S/metrics" >"$T/sched-metrics.txt"
    routed=$(awk '/^switchyard_jobs_routed_total\{task="echo"/ {s += $2} END {print s + 0}' "$T/sched-metrics.txt")
    [ "$routed" = 160 ] && break
    sleep 0.2
done
[ "$routed" = 160 ] || fail "scheduler routed echo: $routed, not 160"
grep -q '^switchyard_dead_letters_total{class="invalid_job"} 1$' "$T/sched-metrics.txt" &&
    grep -q '^switchyard_dead_letters_total{class="unknown_task"} 1$' "$T/sched-metrics.txt" ||
    fail "scheduler dead letters: $(grep dead_letters "$T/sched-metrics.txt")"
ok "scheduler on 0.0.0.0: /healthz open, /metrics and /readyz need the bearer token; 160 routed, 2 dead letters"

"$PY" - "$T/worker.log" "$T/scheduler.log" <<'PY' || fail "log lines"
import json, sys
for f in sys.argv[1:]:
    n = 0
    for line in open(f, encoding="utf-8"):
        o = json.loads(line)
        assert {"time", "level", "component", "msg"} <= o.keys(), o
        n += 1
    assert n > 0, f
print("ok - every log line of the worker and the scheduler is a JSON object")
PY
check_logs

# Kafka gone: the worker's /readyz turns 503 and says why; /healthz stays 200.
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
    [ "$(code "$W/readyz")" = 503 ] && break
    sleep 0.2
done
curl -s "$W/readyz" >"$T/readyz-down.txt"
grep -q "Kafka unreachable" "$T/readyz-down.txt" || fail "worker /readyz with the broker gone: $(cat "$T/readyz-down.txt")"
[ "$(code "$W/healthz")" = 200 ] || fail "worker /healthz with the broker gone"
# ... and answers at once: from the last check (made on a thread of its
# own), never a 2 s metadata request on the HTTP thread.
for ((i = 0; i < 5; i++)); do
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$W/readyz")
    [ "${t% *}" = 503 ] && "$PY" -c "import sys; sys.exit(float(sys.argv[1]) >= 0.2)" "${t#* }" ||
        fail "worker /readyz with the broker gone: $t (code, seconds)"
    sleep 0.3
done
ok "broker killed: /readyz 503 ($(cat "$T/readyz-down.txt")) in under 200 ms, /healthz 200"
