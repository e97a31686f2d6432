#!/usr/bin/env bash
# `switchyard dlq list|show|requeue` (cli/dlq.c) against a running pipeline.
#   5 jobs answered while the provider is fine, then the provider fails
#   every call (500): 12 jobs dead-letter with class `server_error`. Two letters
#   are written by hand: one for a job that had in fact succeeded (ok-0),
#   and a hostile one (ESC and CR in its key, reason and job id, class
#   invalid_job). Asserts: list shows the 12 + 1 `server_error` letters with
#   attempts and models; show prints the hostile letter escaped (no raw
#   control byte reaches the terminal); after the fault is fixed, requeue
#   --class server_error produces 13 letters, every failed job then has exactly
#   one ok result, ok-0 is answered from the store (deduplicated, no
#   second call), the hostile letter stays where it is; a dry run and
#   list end by themselves at the end of the topic.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/ops.yaml

start_fake --latency-ms 2
FAKE_PID=${PIDS[-1]}
PORT=$(cat "$T/fake.port")
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
mk() { "$PY" -c "
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({'id': '%s%d' % (sys.argv[2], i), 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))" "$@"; }
mk 5 ok- >"$T/ok.jsonl"
"$SY_BIN" submit --quiet "$T/ok.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results -t switchyard.results.echo --count 5 --timeout-ms 60000 >/dev/null || fail "5 ok results"
ok "5 jobs answered"

kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true
"$SY_FAKE" --port "$PORT" --error-rate 1 --call-log "$T/calls-broken.jsonl" >"$T/fake-broken.log" 2>&1 &
PIDS+=($!)
BROKEN_PID=$!
sleep 0.5
mk 12 bad- >"$T/bad.jsonl"
"$SY_BIN" submit --quiet "$T/bad.jsonl" >/dev/null || fail "submit"
# A letter of a job that had succeeded, and a hostile one, as another writer could leave them.
printf '{"id":"ok-0","task":"echo","vars":{"word":"w0","n":0}}' |
    kcat -P -b "$BROKERS" -t switchyard.dlq -k ok-0 -H switchyard.error.class=server_error \
        -H switchyard.stage=worker -H switchyard.attempts=4 2>>"$T/kcat.log"
printf '{"id":"evil\\u001b[2J\\r","task":"echo","vars":{"word":"x","n":1}}' |
    kcat -P -b "$BROKERS" -t switchyard.dlq -k "$(printf 'evil\033[2J')" -H switchyard.error.class=invalid_job \
        -H "switchyard.error.message=$(printf 'boom\033[31m\rred')" 2>>"$T/kcat.log"

for _ in $(seq 300); do
    n=$("$SY_BIN" dlq list --class server_error --format json 2>/dev/null | wc -l)
    [ "$n" -ge 13 ] && break
    sleep 0.2
done
"$SY_BIN" dlq list >"$T/list.txt" || fail "dlq list"
"$SY_BIN" dlq list --format json >"$T/list.jsonl" || fail "dlq list --format json"
cat "$T/list.txt" | head -5
"$PY" - "$T/list.jsonl" <<'PYEOF' || fail "dlq list content"
import collections, json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
by = collections.Counter(l["class"] for l in ls)
bad = [l for l in ls if (l["job_id"] or "").startswith("bad-")]
assert by["server_error"] == 13 and by["invalid_job"] == 1 and len(ls) == 14, by
assert sorted(l["job_id"] for l in bad) == sorted("bad-%d" % i for i in range(12)), bad
for l in bad:
    assert l["class"] == "server_error" and l["attempts"] == 4, l
    assert set(l["models"].split(",")) == {"small-openai", "small-anthropic"}, l
print("   list: 12 bad-* letters of class server_error, 4 attempts on both models; 1 by hand; 1 hostile")
PYEOF
grep -q "^14 letter(s)" "$T/list.txt" || fail "list table: $(tail -1 "$T/list.txt")"
ok "dlq list: every letter with its class, attempts and models"

"$SY_BIN" dlq show 'evil' >"$T/show.txt" 2>&1 && fail "show by a job id with control characters should not match 'evil'"
coord=$(grep -a 'invalid_job' "$T/list.txt" | awk '{print $2}')
"$SY_BIN" dlq show "$coord" >"$T/show.txt" || fail "dlq show $coord"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/show.txt" "$T/list.txt"; then
    fail "a raw control byte reached the terminal"
fi
grep -qF 'boom\x1b[31m\x0dred' "$T/show.txt" || fail "the hostile reason is not shown escaped: $(cat -v "$T/show.txt")"
grep -qF 'evil\x1b[2J' "$T/show.txt" || fail "the hostile key is not shown escaped"
"$SY_BIN" dlq show --format json "$coord" >"$T/show.json" || fail "show json"
"$PY" -c "import json,sys; l=json.load(open(sys.argv[1])); assert l['key']=='evil\x1b[2J' and l['message']=='boom\x1b[31m\rred' and l['job_id'] is None, l" "$T/show.json" \
    || fail "show --format json"
ok "dlq show: the hostile letter whole, escaped (text) and exact (JSON)"

"$SY_BIN" dlq requeue --class server_error --dry-run >"$T/dry.txt" || fail "dry run"
grep -q "would requeue 13 letter" "$T/dry.txt" || fail "dry run: $(tail -1 "$T/dry.txt")"
kill "$BROKEN_PID"; wait "$BROKEN_PID" 2>/dev/null || true
"$SY_FAKE" --port "$PORT" --latency-ms 2 --call-log "$T/calls-fixed.jsonl" >"$T/fake-fixed.log" 2>&1 &
PIDS+=($!)
sleep 0.5
"$SY_BIN" dlq requeue --class server_error >"$T/requeue.txt" || fail "requeue: $(cat "$T/requeue.txt")"
grep -q "^requeued 13 letter(s) to switchyard.jobs" "$T/requeue.txt" || fail "requeue: $(cat "$T/requeue.txt")"
ok "fault fixed; $(cat "$T/requeue.txt")"

# 5 + 12 failed + 12 ok + 1 deduplicated results.
"$SY_BIN" results -t switchyard.results.echo --count 30 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 30 results"
sleep 1
"$SY_BIN" results -t switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
"$PY" - "$T/results.jsonl" "$T/calls-fixed.jsonl" <<'PYEOF' || fail "results after requeue"
import collections, json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
ok = collections.Counter(r["job_id"] for r in rs if r["status"] == "ok" and not r.get("deduplicated"))
dedup = [r["job_id"] for r in rs if r.get("deduplicated")]
calls = collections.Counter(json.loads(l)["job"] for l in open(sys.argv[2]))
assert len(rs) == 30, len(rs)
for i in range(12): assert ok["bad-%d" % i] == 1, ("bad-%d" % i, ok)
for i in range(5): assert ok["ok-%d" % i] == 1, ("ok-%d" % i, ok)
assert dedup == ["ok-0"], dedup
assert sum(calls.values()) == 12 and "ok-0" not in calls, calls
print("   30 results: every bad-* once ok after the requeue; ok-0 deduplicated; 12 calls after the fix")
PYEOF
ok "requeued jobs all complete, no duplicate, the succeeded job not paid twice"
check_logs
