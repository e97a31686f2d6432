#!/usr/bin/env bash
# A batch tier's worker killed at each point of a batch's submission, and
# restarted each time (tests/pipelines/batch.yaml, 100 jobs per batch):
#   A  SIGKILL between upload and create (SWITCHYARD_BATCH_CRASH_AT=after_upload):
#      the file is at the provider, no batch is
#   B  SIGKILL right after create, before anything else
#      (SWITCHYARD_BATCH_CRASH_AT=after_create)
#   then two OpenAI batches of another client are created, and the
#   listing answers one batch per page (--list-page 1): B's is on its third
#   C  finds B's batch by listing (its record has the file, not the batch
#      id) on the listing's third page, records its id, and is killed
#      (kill -9) while its batches are polled
#   D  finds the batches in its store and runs them to the end; then 80
#      jobs of an Anthropic message-batch tier come, D records their two
#      batches, which then own the jobs (their input offsets are
#      committed), and D is killed while the batches are still running
#   E  consumes nothing (every offset is committed), rebuilds the 80 jobs
#      from the batch records, polls the message batches (which no listing
#      finds) and answers them
# Then every job has exactly one result (none lost, none answered twice),
# and the fake provider saw every custom_id in exactly one created batch
# (none submitted twice): each restart found the batches created before
# and polled them instead of sending their jobs again (worker/batchio.c,
# the batch records of worker/batchrec.h).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_batch.sh"
P=tests/pipelines/batch.yaml
N=300
NA=80 # Anthropic message batches, 40 per batch

start_fake --batch-ms 1500 --list-page 1
start_broker "$P"
start_scheduler "$P"
word_jobs "$N" c bulk >"$T/jobs.jsonl"
word_jobs "$NA" a claude-bulk >"$T/claude.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
# a short session: each killed worker's partitions go to the next one sooner
args=(-p "$P" --max-inflight 64 --state-dir "$T/state" -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)

SWITCHYARD_BATCH_CRASH_AT=after_upload start_worker worker-a "${args[@]}"
crashed worker-a "$LAST_PID" SWITCHYARD_BATCH_CRASH_AT=after_upload
ok "A: killed between upload and create"
SWITCHYARD_BATCH_CRASH_AT=after_create start_worker worker-b "${args[@]}"
crashed worker-b "$LAST_PID" SWITCHYARD_BATCH_CRASH_AT=after_create
ok "B: killed right after create"
for i in 1 2; do # another client's batches (one line each), newer than B's
    echo '{"custom_id":"other-'$i'","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}' >"$T/other.jsonl"
    fid=$(curl -sf -H "Authorization: Bearer $OPENAI_API_KEY" -F purpose=batch -F "file=@$T/other.jsonl" "$FAKE_URL/files" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "upload of another batch"
    curl -sf -H "Authorization: Bearer $OPENAI_API_KEY" -H "Content-Type: application/json" \
        -d "{\"input_file_id\":\"$fid\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" \
        "$FAKE_URL/batches" >/dev/null || fail "create of another batch"
done
start_worker worker-c "${args[@]}"
for _ in $(seq 300); do grep -q "found by listing after a restart" "$T/worker-c.log" && break; sleep 0.1; done
grep -q "found by listing after a restart" "$T/worker-c.log" || fail "worker-c did not find B's batch"
for _ in $(seq 100); do [ "$(grep -c "job(s) created" "$T/worker-c.log")" -ge 1 ] && break; sleep 0.1; done
sleep 0.3 # polling
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
ok "C: found B's batch by listing (page 3), killed while polling"
start_worker worker-d "${args[@]}"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
grep -q "found in the store after a restart" "$T/worker-d.log" || fail "worker-d did not poll the recorded batches"
ok "D: polled the recorded batches, $N results"
"$SY_BIN" submit --quiet "$T/claude.jsonl" >/dev/null || fail "submit (claude)"
owned() { grep -c "msgbatch_.*it owns its" "$T/worker-d.log"; }
for _ in $(seq 200); do [ "$(owned)" -ge 2 ] && break; sleep 0.1; done
[ "$(owned)" -ge 2 ] || fail "worker-d recorded no message batches"
sleep 0.4 # the offsets' commit (every 100 ms); the batches run 1.5 s
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
ok "D: killed while its 2 recorded message batches run"
start_worker worker-e "${args[@]}"
E=$LAST_PID
"$SY_BIN" results --topic switchyard.results.claude --count "$NA" --timeout-ms 30000 >"$T/claude-results.jsonl" ||
    fail "only $(wc -l <"$T/claude-results.jsonl") of $NA Anthropic results"
grep -q "$NA job(s) rebuilt from batch records" "$T/worker-e.log" || fail "worker-e rebuilt no jobs"
[ "$(grep -c "msgbatch_.*found in the store after a restart" "$T/worker-e.log")" = 2 ] ||
    fail "worker-e did not poll the 2 recorded message batches"
batch_stop_and_check worker-e "$E" c "results after the crashes" 2
ok "E: consumed nothing (the offsets were committed while the batches ran), rebuilt $NA jobs, polled their batches"
check_logs
