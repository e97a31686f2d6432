#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): a three-broker cluster, every
# topic with replication factor 3 and min.insync.replicas 2. In the middle
# of a run the broker that leads the most partitions of the tier and result
# topics is killed with SIGKILL; it is started again later. The scheduler
# and the worker ride through the leader changes: every job gets exactly one
# result, nothing is lost, no call is paid twice.
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
N=${CLUSTER_JOBS:-10000}
KAFKA_NODES=3
TOPICS_ARGS="--replication 3 --config min.insync.replicas=2"

start_fake --latency-ms 50 --jitter-ms 50
start_broker "$P"
grep -q "switchyard.results.echo" "$T/topics.out" || fail "topics: $(cat "$T/topics.out")"
start_scheduler "$P"
SCHED_PID=${PIDS[-1]}
echo_jobs "$N" k- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs to 3 brokers (replication 3, min.insync.replicas 2)"
start_worker worker -p "$P" --max-inflight 256 --state-dir "$T/state"
WORKER_PID=$LAST_PID

busiest=$(kcat -b "$BROKERS" -L -J 2>>"$T/kcat.log" | "${SY_PYTHON:-/usr/bin/python3}" -c '
import collections, json, sys
md = json.load(sys.stdin)
lead = collections.Counter()
for t in md["topics"]:
    if t["topic"] in ("switchyard.tier.echo-tier", "switchyard.results.echo"):
        for p in t["partitions"]:
            assert len(p["replicas"]) == 3, (t["topic"], p)
            lead[p["leader"]] += 1
print(lead.most_common(1)[0][0])') || fail "cannot read the partition leaders"
calls_made() { wc -l <"$T/calls.jsonl"; }
for ((i = 0; i < 1500; i++)); do [ "$(calls_made)" -ge $((N / 3)) ] && break; sleep 0.2; done
"$KAFKA_SH" kill "$busiest" --dir "$T/kafka"
ok "broker $busiest (leads the most tier and result partitions) killed after $(calls_made) calls"
for ((i = 0; i < 1500; i++)); do [ "$(calls_made)" -ge $((N / 2)) ] && break; sleep 0.2; done
# The node starts again (~9 s, a JVM) while the run goes on and its results
# are read: the clients ride through its return too.
"$KAFKA_SH" start --dir "$T/kafka" >>"$T/kafka-start.out" 2>&1 &
RESTART_PID=$!
echo "   broker $busiest starting again after $(calls_made) calls"

check_rode_through "$N" k- "$SCHED_PID" "$WORKER_PID"
wait "$RESTART_PID" || fail "broker $busiest did not start again"
ok "broker $busiest started again"
check_logs
