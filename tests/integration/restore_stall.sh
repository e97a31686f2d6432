#!/usr/bin/env bash
# Calls in flight keep completing while a worker restores a long changelog.
#
# The embedded broker answers every request 150 ms late (--rtt-ms), as a
# loaded cluster would: a changelog restore then takes seconds. Two
# workers answer FILL jobs (fast provider), which leaves two changelog
# records per job. Then the provider turns slow (9-13 s a call) and both
# workers have calls in flight when worker-b2 stops: worker-a2 is assigned
# worker-b2's partitions and reads their changelog partitions from the
# start before taking their jobs, while its calls are out. (The embedded
# broker takes worker-a2's own partitions away too, some seconds later, and
# assigns all of them again a few seconds after that: the calls outlast it;
# all four workers use lib.sh's KILL_GROUP_OPTS, 3 s sessions, to shorten
# the group's waits;
# --revoke-grace-ms 0: the revoke does not wait for them, and as each
# partition comes back to worker-a2 their redeliveries wait for their first
# copy.)
# Asserts:
#   - every call the provider answered during worker-a2's restore was taken
#     in by the worker within BOUND_MS of the answer (one loop turn: it
#     waits 100 ms at most, and its group commit fsyncs; the rest is slack
#     for a loaded machine). Before the
#     restore was loop work it polled Kafka inside the rebalance callback,
#     and nothing was taken in until it ended (seconds here);
#   - no job lost, none answered twice, no call repeated.
source "$(dirname "$0")/lib.sh"
# e2e.yaml with calls allowed 30 s: they outlast the rebalance (below)
P=$T/pipeline.yaml
sed 's/timeout_ms: 5000/timeout_ms: 30000/' tests/pipelines/e2e.yaml >"$P"
FILL=${RESTORE_FILL:-4000}
BUSY=${RESTORE_BUSY:-200}
BOUND_MS=${RESTORE_BOUND_MS:-1000}

jobs() { # from count
    "$PY" -c "
import json, sys
a, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(a, a + n):
    print(json.dumps({'id': 't-%d' % i, 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))
" "$1" "$2"
}
restores() { grep -c "changelog: restored" "$1" 2>/dev/null || true; }
wait_restores() { # log count
    for _ in $(seq 1200); do [ "$(restores "$1")" -ge "$2" ] && return; sleep 0.1; done
    fail "fewer than $2 restores in $1"
}

start_fake --latency-ms 20
FAKE=${PIDS[-1]}
BROKER_ARGS="--rtt-ms ${RESTORE_RTT_MS:-150}" start_broker "$P"
start_scheduler "$P"
start_worker worker-a -p "$P" --tiers echo-tier --max-inflight 1000 --state-dir "$T/state-a" "${KILL_GROUP_OPTS[@]}"
A=$LAST_PID
start_worker worker-b -p "$P" --tiers echo-tier --max-inflight 1000 --state-dir "$T/state-b" "${KILL_GROUP_OPTS[@]}"
B=$LAST_PID
wait_restores "$T/worker-a.log" 1
wait_restores "$T/worker-b.log" 1
jobs 0 "$FILL" | "$SY_BIN" submit --quiet - >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count "$FILL" --timeout-ms 300000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $FILL results"
kill -TERM "$A" "$B"
wait "$A" "$B" || fail "a worker did not stop cleanly"
ok "$FILL jobs answered: $((2 * FILL)) changelog records"

kill -TERM "$FAKE"; wait "$FAKE" 2>/dev/null || true
rm -f "$T/fake.port"
start_fake --latency-ms 9000 --jitter-ms 4000 # appends to the same call log
start_worker worker-a2 -p "$P" --tiers echo-tier --max-inflight 64 --revoke-grace-ms 0 --state-dir "$T/state-a" "${KILL_GROUP_OPTS[@]}"
A=$LAST_PID
wait_restores "$T/worker-a2.log" 1
start_worker worker-b2 -p "$P" --tiers echo-tier --max-inflight 64 --revoke-grace-ms 0 --state-dir "$T/state-b" "${KILL_GROUP_OPTS[@]}"
B=$LAST_PID
wait_restores "$T/worker-b2.log" 1
sleep 2
jobs "$FILL" "$BUSY" | "$SY_BIN" submit --quiet - >/dev/null || fail "submit"
sleep 5 # both have calls out
first=$(restores "$T/worker-a2.log")
kill -TERM "$B"
wait "$B" || fail "worker-b2 did not stop cleanly"
wait_restores "$T/worker-a2.log" $((first + 1))
grep "changelog: restored" "$T/worker-a2.log" | tail -n 1 | sed 's/.*changelog: /   worker-a2: /'

"$SY_BIN" results --topic switchyard.results.echo --count $((FILL + BUSY)) --timeout-ms 300000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $((FILL + BUSY)) results"
sleep 3 # a duplicate would arrive now
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true

# Each call the provider answered during a restore of worker-a2 (after the
# busy jobs went in): how long until the worker took the answer in (its
# result's finished_ms against the provider's call-log time).
"$PY" - "$T/worker-a2.log" "$T/calls.jsonl" "$T/results.jsonl" "$first" "$BOUND_MS" <<'PY' ||
import datetime, json, re, sys
log, calls, results, first, bound = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def ms(line):  # a JSON log line (stderr not a terminal) or a text one
    stamp = json.loads(line)["time"] if line.startswith("{") else line.split()[0]
    t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
windows = []
for line in [l for l in open(log) if "changelog: restored" in l][first:]:
    took = int(re.search(r" in (\d+) ms", line)[1])
    windows.append((ms(line) - took, ms(line), took))
done = {}
for l in open(results):
    r = json.loads(l)
    done[r["job_id"]] = r["finished_ms"]
lags = []
for l in open(calls):
    c = json.loads(l)
    if c["status"] == 200 and c["job"] in done and any(a <= c["ts_ms"] <= b for a, b, _ in windows):
        lags.append(done[c["job"]] - c["ts_ms"])
print(f"   restores {[w[2] for w in windows]} ms; {len(lags)} calls answered during them; "
      f"longest until taken in {max(lags, default=0)} ms (bound {bound} ms)")
assert len(lags) >= 5, "too few calls answered during the restores to show anything"
assert max(lags) <= bound, f"an answer waited {max(lags)} ms while the changelog was restored"
PY
    fail "answers waited for the restore"
ok "answers kept being taken in while the changelog was restored"

: >"$T/maybe-twice.txt" # no worker died: no call may be repeated
"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" $((FILL + BUSY)) t- \
    || fail "exactly-once assertions"
ok "exactly one result per job, none lost, no call twice"
check_logs
