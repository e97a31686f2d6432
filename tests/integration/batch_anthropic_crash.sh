#!/usr/bin/env bash
# An Anthropic message-batch tier's worker killed between create and record
# (SWITCHYARD_BATCH_CRASH_AT=after_create): the batch exists at the
# provider, the store has only the record written before the create (its
# intent: time, job count, custom_ids), and message batches carry no
# metadata (docs/durability.md, "Batch tiers"). Before the restart four
# more message batches are created at the provider: one of 40 requests
# with other custom_ids (a candidate by time and count, not ours), then
# three of one request (other counts: no candidates). The listing answers
# 2 batches per page (--list-page 2), so the worker's batch is on its
# third page.
#   A  killed right after the create of its batch of 40 jobs
#   B  reads every page of the listing back to the intent's time, polls
#      both candidates, keeps the jobs Kafka brings back (their offsets were
#      not committed) waiting, and when both have ended answers them from
#      the one whose results carry their custom_ids; the other's lines are
#      ignored
#   C  40 more jobs; killed after their intent is recorded and before the
#      create (SWITCHYARD_BATCH_CRASH_AT=before_create); one more message
#      batch of 40 other requests is created at the provider
#   D  three candidates of 40 requests in the intent's window (A's batch,
#      the two others), none of which answers its custom_ids: once all have
#      ended, the jobs go into a new batch, sent once
# Every job has one result, and the fake provider saw each custom_id in
# exactly one created batch: the jobs were not sent (paid) twice.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/batch.yaml
NA=40 # one message batch (max_jobs 40)

start_fake --batch-ms 800 --list-page 2
start_broker "$P"
start_scheduler "$P"
word_jobs "$NA" a claude-bulk >"$T/claude-a.jsonl"
word_jobs "$NA" b claude-bulk >"$T/claude-b.jsonl"
args=(-p "$P" --max-inflight 64 --state-dir "$T/state" -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)

other() { # custom_id prefix, count: a message batch that is not the worker's
    "$PY" -c "
import json, sys
p = {'model': 'claude-3-5-haiku-latest', 'max_tokens': 5, 'messages': [{'role': 'user', 'content': 'hi'}]}
print(json.dumps({'requests': [{'custom_id': '$1%d' % i, 'params': p} for i in range($2)]}))" |
        curl -sf -X POST -H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" \
            -H "Content-Type: application/json" --data-binary @- "$FAKE_URL/messages/batches" >/dev/null ||
        fail "cannot create another message batch"
}
answered() { # worker name, pid, results expected
    "$SY_BIN" results --topic switchyard.results.claude --count "$3" --timeout-ms 30000 >"$T/claude-results.jsonl" ||
        fail "only $(wc -l <"$T/claude-results.jsonl") of $3 results"
    sleep 1 # a second answer would come now
    kill -TERM "$2"; wait "$2" 2>/dev/null || true
}
check_once() { # job prefixes, lines of the other batches: one result each, each custom_id sent once
    "$SY_BIN" results --topic switchyard.results.claude --timeout-ms 2000 >"$T/claude-results.jsonl" || true
    curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
    "$PY" - "$T" "$NA" "$1" "$2" <<'EOF' || fail "a job lost, answered twice or sent twice"
import collections, json, sys
t, na, prefixes, other = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
res = [json.loads(line) for line in open(f"{t}/claude-results.jsonl")]
count = collections.Counter(r["job_id"] for r in res)
want = {f"{p}-{i}" for p in prefixes for i in range(na)}
assert set(count) == want, f"lost jobs: {len(want - set(count))}"
assert max(count.values()) == 1, [k for k, c in count.items() if c > 1][:5]
assert all(r["status"] == "ok" and r["batch_id"].startswith("msgbatch_") for r in res)
st = json.load(open(f"{t}/batch-stats.json"))
assert st["lines"] == na * len(prefixes) + other and st["dup_custom_ids"] == 0 and st["max_per_custom_id"] == 1, st
print(f"ok - {len(want)} jobs, one result each, each sent in exactly one batch ({st['batches']} batches created)")
EOF
}

SWITCHYARD_BATCH_CRASH_AT=after_create start_worker worker-a "${args[@]}"
"$SY_BIN" submit --quiet "$T/claude-a.jsonl" >/dev/null || fail "submit"
crashed worker-a "$LAST_PID" SWITCHYARD_BATCH_CRASH_AT=after_create
grep -q "msgbatch_.* 40 job(s) created" "$T/worker-a.log" || fail "worker-a created no message batch"
ok "A: killed between the create of its message batch and its record"
other zz 40
for i in 1 2 3; do other "one$i-" 1; done
ok "4 other message batches created after it (one a candidate by time and count)"

start_worker worker-b "${args[@]}"
answered worker-b "$LAST_PID" "$NA"
check_once a 43
grep -q "recorded before its create: 2 candidate(s) in the listing" "$T/worker-b.log" ||
    fail "worker-b did not find the 2 candidates in the listing's pages"
grep -q "answer the $NA job(s) recorded before its create: ours" "$T/worker-b.log" ||
    fail "worker-b did not confirm its batch by its results"
ok "B: found its batch on the listing's third page among 2 candidates, answered each job once"

SWITCHYARD_BATCH_CRASH_AT=before_create start_worker worker-c "${args[@]}"
"$SY_BIN" submit --quiet "$T/claude-b.jsonl" >/dev/null || fail "submit (b)"
crashed worker-c "$LAST_PID" SWITCHYARD_BATCH_CRASH_AT=before_create
other yy 40
ok "C: killed after its intent was recorded, before the create; another batch of 40 created"

start_worker worker-d "${args[@]}"
answered worker-d "$LAST_PID" $((2 * NA))
check_once ab 83
grep -q "recorded before its create: 3 candidate(s) in the listing" "$T/worker-d.log" ||
    fail "worker-d did not poll the 3 candidates"
grep -q "none of 3 candidate batch(es) carried the $NA job(s)" "$T/worker-d.log" ||
    fail "worker-d did not find that no candidate was its batch"
ok "D: none of 3 candidates was its batch; its jobs went into a new batch, each answered once"
check_logs
