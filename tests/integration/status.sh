#!/usr/bin/env bash
# switchyard status (README, Status): a scheduler and a worker with --http
# under a small load. `status --once` shows a positive throughput while
# jobs flow, and, once they are done, the same numbers as the /metrics
# pages (results by status, in flight, waiting, dead letters, breakers,
# pacing headroom), without terminal control codes; the scheduler is read
# with the bearer token; an unreachable URL is shown DOWN (exit 1).
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TOKEN="tok-$RANDOM$RANDOM-status"

start_fake --latency-ms 40
start_broker "$P"
SWITCHYARD_HTTP_TOKEN=$TOKEN "$SY_BIN" scheduler -p "$P" --http 0.0.0.0:0 >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
start_worker worker -p "$P" --max-inflight 4 --state-dir "$T/state" --http 127.0.0.1:0
W=http://127.0.0.1:$(http_port_of "$T/worker.log")
S=http://127.0.0.1:$(http_port_of "$T/scheduler.log")

# 300 jobs, 4 at a time at 40 ms each: some seconds of flow; 3 fail (400)
"$PY" - "$T" <<'PY'
import json, sys
with open(f"{sys.argv[1]}/jobs.jsonl", "w") as f:
    for i in range(300):
        word = "[[status:400]]" if i < 3 else f"w{i}"
        f.write(json.dumps({"id": f"s-{i}", "task": "echo", "vars": {"word": word, "n": i}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
wait_metrics_results "$W" 20 >/dev/null
"$SY_BIN" status --once --interval 1 --url "$W" >"$T/flowing.txt" || fail "status --once: $(cat "$T/flowing.txt")"
rate=$(grep -o 'results .* per s [0-9.]*' "$T/flowing.txt" | grep -o '[0-9.]*$')
total=$(grep -o 'results *[0-9]*' "$T/flowing.txt" | grep -o '[0-9]*$')
awk -v r="$rate" 'BEGIN {exit !(r > 0)}' || fail "no throughput while jobs flow: $(cat "$T/flowing.txt")"
ok "while 300 jobs flow: $total results, $rate per s"

"$SY_BIN" results --topic switchyard.results.echo --count 300 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 300 results"
n=$(wait_metrics_results "$W" 300)
[ "$n" = 300 ] || fail "/metrics counts $n results, not 300"
SWITCHYARD_HTTP_TOKEN=$TOKEN "$SY_BIN" status --once --interval 0.5 --url "$W" --url "$S/" >"$T/done.txt" ||
    fail "status --once: $(cat "$T/done.txt")"
curl -sf "$W/metrics" >"$T/metrics.txt"
curl -sf -H "Authorization: Bearer $TOKEN" "$S/metrics" >"$T/sched.txt"
"$PY" - "$T" <<'PY' || fail "status against /metrics: $(cat "$T/done.txt")"
import re, sys
t = sys.argv[1]
frame = open(f"{t}/done.txt", encoding="utf-8").read()
assert "\x1b" not in frame, "a control code in --once output"
sys.path.insert(0, "tests/integration")
from promtext import total as scraped
total = lambda page, name, **want: scraped(f"{t}/{page}", name, **want)
W = lambda name, **k: total("metrics.txt", name, **k)
want = ("results     %d (ok %d, failed %d)   per s 0.0" %
        (W("switchyard_jobs_total"), W("switchyard_jobs_total", status="ok"), W("switchyard_jobs_total", status="failed")))
assert want in frame, want
assert W("switchyard_jobs_total", status="failed") == 3
want = "in flight   %d   held %d   waiting: slot %d, pacing %d, retry %d" % (
    W("switchyard_calls_in_flight"), W("switchyard_jobs_held"), W("switchyard_jobs_waiting", on="slot"),
    W("switchyard_jobs_waiting", on="pacing"), W("switchyard_jobs_waiting", on="retry"))
assert want in frame, want
assert "dead letters %d " % W("switchyard_dead_letters_total") in frame
for model in ("small-openai",):
    row = re.search(r"^  %s +(\d+) +([\d.]+) +(\d+)" % model, frame, re.M)
    assert row and int(row.group(1)) == W("switchyard_jobs_total", model=model), (model, row and row.group(0))
assert re.search(r"^  echo-tier +small-openai +closed$", frame, re.M), "breaker row"
head = W("switchyard_pacing_headroom_ratio", account="openai")
assert re.search(r"^  openai +%d%%$" % round(head * 100), frame, re.M), ("headroom", head)
routed = total("sched.txt", "switchyard_jobs_routed_total")
assert routed == 300 and "(scheduler)" in frame and "routed      300   per s 0.0" in frame, routed
print("ok - status --once agrees with both /metrics pages (worker and, with the token, scheduler)")
PY
"$PY" - "$T" <<'PY' || fail "the Grafana dashboard against real /metrics pages"
import sys
sys.path.insert(0, "tests/integration")
from dashboard_metrics import families, queried
t = sys.argv[1]
real = families(open(f"{t}/metrics.txt").read()) | families(open(f"{t}/sched.txt").read())
missing = {n: p for n, p in queried().items() if n not in real}
assert not missing, f"the dashboard queries metrics no page has: {missing}"
print("ok - every metric the Grafana dashboard queries is on the worker's or the scheduler's page")
PY

rc=0
"$SY_BIN" status --once --interval 0.1 --url "$W" --url "http://127.0.0.1:1" >"$T/down.txt" || rc=$?
[ "$rc" = 1 ] && grep -q '^== http://127.0.0.1:1/metrics  DOWN: ' "$T/down.txt" && grep -q '(worker)' "$T/down.txt" ||
    fail "an unreachable URL: exit $rc, $(cat "$T/down.txt")"
rc=0
"$SY_BIN" status --once --interval 0.1 --url "$S" >"$T/noauth.txt" || rc=$?
[ "$rc" = 1 ] && grep -q 'DOWN: HTTP 401' "$T/noauth.txt" || fail "no token: $(cat "$T/noauth.txt")"
ok "an unreachable URL and a missing token are shown DOWN (exit 1), the others still drawn"
check_logs
