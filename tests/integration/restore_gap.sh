#!/usr/bin/env bash
# A worker killed while the acknowledgements of some of its results are
# not yet recorded anywhere, and a new worker without its --state-dir
# takes over. Two results R1 and R2 of different input partitions land in
# one output partition, R1 first (here the jobs of two tiers write one
# output topic; an output topic with another partition count than its
# tier's does the same). R1's acknowledgement is lost with the worker, its
# input offset not committed; R2's is noted, and the changelog records
# made after it (their progress marks) carry the writer's note of that
# output partition above R1. The hook SWITCHYARD_CRASH_AT=published_gap
# makes this happen: it keeps R1's acknowledgement back, and kills the
# worker once a changelog record made after R2's note is acknowledged.
# The new worker restores R1 as PUBLISHING and looks for it on the output
# partition; it must look from before R1 (the notes R1's own record
# carries), not after the latest note, or it publishes R1 a second time
# when Kafka redelivers its job. Checks one result per job, and no call
# made again for a job whose success was stored.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/two_tiers_one_output.yaml
N=300

start_fake --latency-ms 20 --jitter-ms 20
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" g- | "$PY" -c "
import json, sys
for i, l in enumerate(sys.stdin):
    j = json.loads(l)
    j['task'] = 'echo2' if i % 2 else 'echo'
    print(json.dumps(j))" >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"

SWITCHYARD_CRASH_AT=published_gap start_worker worker-a -p "$P" --max-inflight 16 \
    --state-dir "$T/state-a" "${KILL_GROUP_OPTS[@]}"
A=$LAST_PID
crashed worker-a "$A" "published_gap: later changelog records carry a note above it" 600
victim=$(sed -n "s/.*no PUBLISHED mirror for key '\([^']*\)'.*/\1/p" "$T/worker-a.log")
ok "A: killed with the acknowledgement of $victim lost and later notes of its output partition on the changelog"

"$SY_BIN" state --state-dir "$T/state-a" --unfinished 2>/dev/null >"$T/unfinished-a.txt"
awk '$1 == "in_flight" || $1 == "publishing" {print $2}' "$T/unfinished-a.txt" >"$T/maybe-twice.txt"
start_worker worker-c -p "$P" --max-inflight 16 --state-dir "$T/state-c" "${KILL_GROUP_OPTS[@]}"
"$SY_BIN" results --topic switchyard.results.echo --count "$N" --timeout-ms 120000 >/dev/null ||
    fail "fewer than $N results"
sleep 3 # a duplicate would arrive now
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
grep -h "changelog: restored" "$T/worker-c.log" | sed 's/^/   worker-c: /'
echo "   results for $victim: $(grep -c "\"job_id\":\"$victim\"" "$T/results.jsonl")"
"$PY" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" g- ||
    fail "exactly-once assertions"
ok "C (empty state dir): one result per job; $victim found on the output topic, not published again"
# A sync job's PUBLISHED state is not mirrored (its PUBLISHING record's
# progress mark stands for it): about one changelog record a job, where
# mirroring both states made two.
records=0
for tier in echo-tier echo2-tier; do
    n=$(kcat -C -b "$BROKERS" -t "switchyard.tier.$tier.changelog" -e -q -f 'r\n' 2>>"$T/kcat.log" | wc -l)
    records=$((records + n))
done
echo "   changelog records: $records for $N jobs"
[ "$records" -ge "$N" ] && [ "$records" -le $((N * 8 / 5)) ] ||
    fail "$records changelog records for $N jobs (one a job, and the few the restore found, expected)"
ok "about one changelog record a job ($records for $N)"
check_logs
