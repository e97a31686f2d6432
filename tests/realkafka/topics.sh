#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): `switchyard topics` against a
# broker with topic auto-creation off (scripts/kafka.sh's default).
#   1. nothing created: every topic is reported missing, exit 1;
#   2. the echo tier's changelog made wrong first (3 partitions, not
#      compacted; via a pipeline whose tier topic has that name), the rest
#      by `topics --create --partitions 6`: the partition mismatch and the
#      missing compaction are errors naming the topic and the fix, from
#      `topics` and at worker start (exit 1); the scheduler, which does not
#      use changelogs, starts;
#   3. on a fresh node, `topics --create` makes everything right: exit 0,
#      changelogs compacted with their tier's partition count, and every
#      partition served by its leader when it returns.
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
CL=switchyard.tier.echo-tier.changelog
export OPENAI_BASE_URL=http://127.0.0.1:9/v1 ANTHROPIC_BASE_URL=http://127.0.0.1:9/v1
export OPENAI_API_KEY=sk-test-openai-SECRET123 ANTHROPIC_API_KEY=sk-ant-test-SECRET456

"$KAFKA_SH" start --dir "$T/kafka" --brokers-file "$T/brokers" >"$T/kafka-start.out" 2>&1 \
    || { cat "$T/kafka-start.out" >&2; fail "real Kafka did not start"; }
export SWITCHYARD_BROKERS; SWITCHYARD_BROKERS=$(cat "$T/brokers")

rc=0; "$SY_BIN" topics -p "$P" >"$T/t1.out" 2>"$T/t1.err" || rc=$?
[ "$rc" = 1 ] || fail "topics with nothing created: exit $rc"
grep -q "^error: topic switchyard.jobs (jobs) does not exist and the broker does not auto-create topics; fix: switchyard topics --create" "$T/t1.err" \
    || fail "no missing-topic error: $(head -n 3 "$T/t1.err")"
[ "$(grep -c 'does not exist' "$T/t1.err")" = 8 ] || fail "expected 8 missing topics: $(cat "$T/t1.err")"
grep -q "^$CL .*missing" "$T/t1.out" || fail "table: $(cat "$T/t1.out")"
ok "nothing created: the 8 topics reported missing, exit 1"

sed -e "s/^  echo-tier:$/  echo-tier:\n    topic: $CL/" "$P" >"$T/wrong.yaml"
grep -q "topic: $CL" "$T/wrong.yaml" || fail "could not write the wrong pipeline"
"$SY_BIN" topics -p "$T/wrong.yaml" --create --partitions 3 >"$T/t2.out" 2>"$T/t2.err" || true
"$SY_BIN" topics -p "$P" --create --partitions 6 >"$T/t3.out" 2>"$T/t3.err" && fail "topics accepted a wrong changelog"
grep -q "^error: topic $CL has 3 partition(s) but its tier topic switchyard.tier.echo-tier has 6.*fix:" "$T/t3.err" \
    || fail "no partition-count error: $(cat "$T/t3.err")"
grep -q "^error: topic $CL (changelog) is not compacted.*fix: .*cleanup.policy=compact" "$T/t3.err" \
    || fail "no compaction error: $(cat "$T/t3.err")"
ok "a changelog with 3 partitions and no compaction: two errors naming it and the fix"

rc=0; "$SY_BIN" worker -p "$P" --state-dir "$T/state" >"$T/worker.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "the worker started on a wrong changelog (rc $rc)"
grep -q "topic $CL has 3 partition(s)" "$T/worker.log" || fail "worker: $(tail -n 3 "$T/worker.log")"
grep -q "topic $CL (changelog) is not compacted" "$T/worker.log" || fail "worker: $(tail -n 3 "$T/worker.log")"
start_scheduler "$P"
for ((i = 0; i < 300; i++)); do grep -q "rebalance: assigned" "$T/scheduler.log" && break; sleep 0.1; done
grep -q "rebalance: assigned" "$T/scheduler.log" || fail "the scheduler did not start: $(tail -n 3 "$T/scheduler.log")"
ok "the worker refuses to start on it (exit 1, same errors); the scheduler starts"
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" || fail "the scheduler did not stop cleanly"
"$KAFKA_SH" stop --now --dir "$T/kafka" >/dev/null 2>&1
rm -rf "$T/kafka"

start_real_kafka "$P" # fresh node, topics --create
# ... which returns only once every partition is served by its leader (a
# producer starting in the gap can lose its first batch: kafka_admin.h).
q=(); for t in $(awk 'NR > 1 {print $1}' "$T/topics.out"); do for p in 0 1 2 3 4 5; do q+=(-t "$t:$p:-1"); done; done
[ "${#q[@]}" = 96 ] || fail "expected 8 topics of 6 partitions: $(cat "$T/topics.out")"
kcat -Q -b "$BROKERS" "${q[@]}" >"$T/q.out" 2>&1 || fail "kcat -Q: $(tail -n 3 "$T/q.out")"
[ "$(grep -c 'offset 0$' "$T/q.out")" = 48 ] || fail "not every partition served right after topics --create: $(grep -v 'offset 0$' "$T/q.out" | head -n 3)"
ok "right after topics --create, all 48 partitions answer ListOffsets"
grep -q "^$CL  *changelog  *6  yes " "$T/topics.out" || fail "table: $(cat "$T/topics.out")"
rc=0; "$SY_BIN" topics -p "$P" >"$T/t4.out" 2>"$T/t4.err" || rc=$?
[ "$rc" = 0 ] || fail "topics after --create: exit $rc: $(cat "$T/t4.err")"
ok "on a fresh node topics --create makes them right: changelogs compacted, 6 partitions like their tiers"
check_logs
