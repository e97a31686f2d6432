#!/usr/bin/env bash
# An Anthropic message-batch tier's worker killed between create and record
# (SWITCHYARD_BATCH_CRASH_AT=after_create), and its partitions taken over
# by new workers WITHOUT its --state-dir: the intent written before the
# create (time, job count, custom_ids) reaches them only as its changelog
# copies, one per partition, each with that partition's share of the
# custom_ids and the batch's whole job count (docs/durability.md, "Batch
# tiers"). The jobs' offsets were not committed: Kafka brings them back.
#   A  killed right after the create of its batch of 40 jobs (6 partitions)
#   B  an empty --state-dir, alone in the group: restores the 6 shares,
#      groups them into one intent of 40 jobs, lists the message batches,
#      polls A's batch (the only one of 40 requests), keeps the jobs Kafka
#      brings back waiting and answers them from it (without this it sent
#      them in a new batch: each custom_id twice at the provider)
#   A2 the same with 40 more jobs, after B stopped
#   C, D  two new workers with empty state dirs, started together: each
#      restores the shares of its partitions (C all of them until D joins)
#      and answers its share's jobs from A2's batch, judged by the share's
#      custom_ids against the batch's 40 requests
#   E  a new worker with an empty state dir, alone: the shares B, C and D
#      resolved got their tombstones once their jobs' results were out, so
#      E restores no intent and lists nothing (before, it restored both
#      intents' 12 shares, listed, and polled the two batches to their end)
# Every job has one result, and the fake provider saw each custom_id in
# exactly one created batch (batch_once.py).
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/batch.yaml
NA=40 # one message batch (max_jobs 40)

start_fake --batch-ms 1500
start_broker "$P"
start_scheduler "$P"
word_jobs "$NA" a claude-bulk >"$T/claude-a.jsonl"
word_jobs "$NA" b claude-bulk >"$T/claude-b.jsonl"
args=(-p "$P" --tiers claude-bulk-tier --max-inflight 64 -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)

crash_after_create() { # name jobs-file: a worker killed right after its create
    SWITCHYARD_BATCH_CRASH_AT=after_create start_worker "$1" "${args[@]}" --state-dir "$T/state-$1"
    local pid=$LAST_PID
    "$SY_BIN" submit --quiet "$2" >/dev/null || fail "submit $2"
    crashed "$1" "$pid" SWITCHYARD_BATCH_CRASH_AT=after_create
    grep -q "msgbatch_.* $NA job(s) created" "$T/$1.log" || fail "$1 created no message batch"
}
results() { # count: wait for that many results on the tier's topic
    "$SY_BIN" results --topic switchyard.results.claude --count "$1" --timeout-ms 60000 >"$T/claude-results.jsonl" ||
        fail "only $(wc -l <"$T/claude-results.jsonl") of $1 results"
    sleep 1 # a second answer would come now
}
check_once() { # prefixes
    "$SY_BIN" results --topic switchyard.results.claude --timeout-ms 2000 >"$T/claude-results.jsonl" || true
    curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
    "$PY" tests/integration/batch_once.py "$T" x 0 "$1" "$NA" || fail "a job lost, answered twice or sent twice"
}

crash_after_create worker-a "$T/claude-a.jsonl"
ok "A: killed between the create of its message batch and its record"

start_worker worker-b "${args[@]}" --state-dir "$T/state-b"
B=$LAST_PID
results "$NA"
kill -TERM "$B"; wait "$B" 2>/dev/null || true
check_once a
grep -q "recorded before its create by another worker, $NA of them in the partitions restored here" \
    "$T/worker-b.log" || fail "worker-b did not take the intent's shares from the changelog"
grep -q "answer the $NA job(s) recorded before its create: ours" "$T/worker-b.log" ||
    fail "worker-b did not confirm A's batch by its results"
ok "B (empty state dir): the intent's 6 shares restored as one, A's batch found, each job answered once"

crash_after_create worker-a2 "$T/claude-b.jsonl"
ok "A2: killed between create and record"
start_worker worker-c "${args[@]}" --state-dir "$T/state-c"
C=$LAST_PID
start_worker worker-d "${args[@]}" --state-dir "$T/state-d"
D=$LAST_PID
results $((2 * NA))
kill -TERM "$C" "$D"; wait "$C" "$D" 2>/dev/null || true
check_once a,b
cat "$T/worker-c.log" "$T/worker-d.log" >"$T/cd.txt"
grep -q "job(s) recorded before its create: ours" "$T/cd.txt" || fail "C and D did not confirm A2's batch"
ok "C and D: each answered its partitions' jobs from A2's batch, each once"

start_worker worker-e "${args[@]}" --state-dir "$T/state-e"
E=$LAST_PID
for _ in $(seq 300); do grep -q "changelog: restored .* for 6 partition" "$T/worker-e.log" && break; sleep 0.05; done
grep -q "changelog: restored .* for 6 partition" "$T/worker-e.log" || fail "worker-e restored no partitions"
sleep 0.5
kill -TERM "$E"; wait "$E" 2>/dev/null || true
grep -o "changelog: [0-9]* batch record(s) restored[^\"]*" "$T/worker-e.log" || true
n=$(grep -c "recorded before its create by another worker" "$T/worker-e.log" || true)
[ "$n" = 0 ] || fail "worker-e restored $n intent(s) resolved before (their shares got no tombstone)"
ok "E (empty state dir): the resolved intents' shares are gone from the changelog: no intent restored, no listing"
check_logs
