#!/usr/bin/env bash
# A dead-letter topic that never takes a message: the embedded broker answers
# its metadata with TOPIC_AUTHORIZATION_FAILED (librdkafka 2.0 then holds the
# messages until message.timeout.ms, 2 s here, and fails them as timed out).
# Three poison messages on a tier topic (the worker dead-letters them) and on
# the jobs topic (the scheduler does), each followed by 20 good jobs on the
# same partition, with a worker window of 8 jobs per partition. Asserts: a
# failed dead letter is produced again at most 3 times (SY_PRODUCE_RETRIES),
# then truncated, then given up; the loss is logged once per process; the
# offsets are released: every good job behind the poison is answered.
# (Before: every failed delivery was produced again, forever, and the
# partitions froze behind the poison.)
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TIER=switchyard.tier.echo-tier

start_fake --latency-ms 5
"$SY_BIN" broker -p "$P" --partitions 6 --deny-topic switchyard.dlq --brokers-file "$T/brokers" \
    >"$T/broker.log" 2>&1 &
PIDS+=($!)
wait_file "$T/brokers" 10
BROKERS=$(cat "$T/brokers")
export SWITCHYARD_BROKERS=$BROKERS
"$SY_BIN" scheduler -p "$P" -X message.timeout.ms=2000 >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
start_worker worker -p "$P" -X message.timeout.ms=2000 --max-inflight 16 --max-jobs-per-partition 8 --state-dir "$T/state"

"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
for where in ("jobs", "tier"):
    with open(f"{t}/good-{where}.jsonl", "w") as f:
        for i in range(20):
            f.write(json.dumps({"id": f"g-{where}-{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i}}) + "\n")
PYEOF
kc() { kcat -P -b "$BROKERS" "$@" 2>>"$T/kcat.log"; }
for n in 1 2 3; do echo '{"id": "bad", "task": "echo", "vars": {' | kc -t switchyard.jobs -k same-jobs; done
kc -t switchyard.jobs -k same-jobs -l "$T/good-jobs.jsonl"
for n in 1 2 3; do printf '\xc1\x00\xff' | kc -t "$TIER" -k same-tier; done
kc -t "$TIER" -k same-tier -l "$T/good-tier.jsonl"
ok "3 poison messages then 20 good jobs on one partition of switchyard.jobs, and of $TIER"

"$SY_BIN" results --topic switchyard.results.echo --count 40 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 40 results behind the poison"
sleep 2
for p in scheduler worker; do
    n=$(grep -c "dead letters to switchyard.dlq cannot be produced" "$T/$p.log" || true)
    [ "$n" = 1 ] || fail "$p: the lost dead letters were logged $n times (want once)"
    again=$(grep -c "producing again" "$T/$p.log" || true)
    [ "$again" -le 9 ] || fail "$p: failed dead letters were produced again $again times (3 at most each)"
    echo "   $p: $again dead letter(s) produced again, then truncated, then given up"
done
ok "40 good jobs answered; each process logged the unwritable dead-letter topic once"
grep -h "dead letters to switchyard.dlq cannot be produced" "$T/scheduler.log" | cut -c1-220
check_logs
