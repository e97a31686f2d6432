#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): a result larger than the result
# topic's max.message.bytes (20,000 here; the client's own limit is 1 MB, so
# only the broker can refuse it) ends as a result_unpublishable dead letter,
# and the partition keeps moving: the jobs after it, on the same single
# partition, all get their results. Compression is off so that the 100 KB
# answer stays 100 KB on the wire.
# The broker refuses a whole batch over the limit (and librdkafka fails every
# message in it), so a worker whose producer batches more than the result
# topic takes refuses to start, naming the topic and the fix; the test then
# follows that fix (-X batch.size).
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
N=${LARGE_JOBS:-200}
TOPICS_ARGS="--config switchyard.results.echo:max.message.bytes=20000"
BROKER_PARTITIONS=1

start_fake --latency-ms 20 --jitter-ms 20
start_broker "$P"
start_scheduler "$P"
start_worker refused -p "$P" --max-inflight 64 --state-dir "$T/state0"
rc=0; wait "$LAST_PID" || rc=$?
[ "$rc" = 1 ] || fail "a worker batching more than max.message.bytes started (rc $rc)"
grep -q "topic switchyard.results.echo takes messages of 20000 bytes at most.*fix: -X batch.size=" "$T/refused.log" \
    || fail "no clear error at start: $(tail -n 3 "$T/refused.log")"
ok "a worker with batch.size above the result topic's max.message.bytes refuses to start, naming the fix"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state" -X compression.codec=none -X batch.size=16384
{
    echo_jobs "$N" s-
    echo '{"id": "x-big", "task": "long-echo", "vars": {"word": "[[size:100000]]"}}'
    echo_jobs "$N" t-
} >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $((2 * N)) small jobs and one whose answer is 100 KB, on one partition"
"$SY_BIN" results --topic switchyard.dlq --headers --count 1 --timeout-ms 120000 >"$T/dlq.jsonl" \
    || fail "no dead letter for the job whose result is too large"
grep -q '"switchyard.error.class":"result_unpublishable"' "$T/dlq.jsonl" || fail "dead letter: $(head -c 600 "$T/dlq.jsonl")"
grep -q 'x-big' "$T/dlq.jsonl" || fail "the dead letter is not x-big's: $(head -c 600 "$T/dlq.jsonl")"
ok "the 100 KB result was refused by the broker and dead-lettered (result_unpublishable)"
"$SY_BIN" results --topic switchyard.results.echo --count $((2 * N)) --timeout-ms 120000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $((2 * N)) small results"
sleep 2
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 3000 >"$T/results.jsonl" || true
"$SY_BIN" results --topic switchyard.dlq --headers --timeout-ms 3000 >"$T/dlq.jsonl" || true
"${SY_PYTHON:-/usr/bin/python3}" - "$T" "$N" <<'PY' || fail "too-large assertions"
import collections, json, sys
t, n = sys.argv[1], int(sys.argv[2])
res = collections.Counter(json.loads(l)["job_id"] for l in open(f"{t}/results.jsonl") if l.strip())
want = {f"{p}{i}" for p in ("s-", "t-") for i in range(n)}
dlq = [l for l in open(f"{t}/dlq.jsonl") if l.strip()]
print(f"results {sum(res.values())} for {len(res)} jobs; dead letters {len(dlq)}")
assert set(res) == want, sorted(want - set(res))[:10]
assert max(res.values()) == 1
assert len(dlq) == 1, dlq[:3]
PY
ok "the partition kept moving: all $((2 * N)) small jobs answered once, one dead letter"
check_logs
