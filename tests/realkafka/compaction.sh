#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): the changelog is really compacted,
# and a partition that moves to another worker after compaction is restored
# from it correctly.
#   1. worker A answers N jobs (keys key-0..); each key has two changelog
#      records (PUBLISHING, PUBLISHED): A runs with --transactions, where
#      both states are mirrored (without it a sync job has one record, its
#      PUBLISHING record with a progress mark: nothing to compact). With
#      small segments (segment.ms) and an eager cleaner, the broker
#      compacts them: the changelog ends up with about one record per key
#      (checked by reading it whole).
#   2. A stops; worker B, with an empty store, takes every partition and
#      restores it from the compacted changelog. The same N keys are submitted
#      again with new job ids: B answers them all from the restored state
#      (deduplicated, the first answer's output), without one provider call.
# 0 lost, 0 duplicated: every job id has exactly one result.
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
N=${COMPACT_JOBS:-2000}
CL=switchyard.tier.echo-tier.changelog
KAFKA_CONFIG="log.cleaner.backoff.ms=500 log.cleaner.min.compaction.lag.ms=0"
TOPICS_ARGS="--config $CL:segment.ms=1000 --config $CL:min.cleanable.dirty.ratio=0.01 --config $CL:delete.retention.ms=1000"

start_fake --latency-ms 20 --jitter-ms 20
start_broker "$P"
grep -q "^$CL .* yes " "$T/topics.out" || fail "$CL not listed as compacted: $(cat "$T/topics.out")"
start_scheduler "$P"
keyed_jobs() { # round count offset
    "${SY_PYTHON:-/usr/bin/python3}" -c "
import json, sys
r, n, o = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(o, o + n):
    print(json.dumps({'id': '%s-%d' % (r, i), 'idempotency_key': 'key-%d' % i, 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))
" "$@"
}
keyed_jobs r1 "$N" 0 >"$T/r1.jsonl"
"$SY_BIN" submit --quiet "$T/r1.jsonl" >/dev/null || fail "submit r1"
start_worker a -p "$P" --max-inflight 256 --state-dir "$T/state-a" --transactions
A=$LAST_PID
"$SY_BIN" results --topic switchyard.results.echo --count "$N" --timeout-ms 240000 >"$T/res1.jsonl" \
    || fail "round 1: only $(wc -l <"$T/res1.jsonl") of $N results"
ok "round 1: $N results"

# Segments roll on the next append after segment.ms: a few more keys, in
# waves, so that every changelog partition gets a new active segment and
# the cleaner may compact the closed ones.
count_changelog() { kcat -C -b "$BROKERS" -t "$CL" -e -q -f '%k\n' 2>>"$T/kcat.log" | grep -c . || true; }
written=$((2 * N)) fills=0
compacted=0
for wave in 1 2 3 4 5 6 7 8 9 10 11 12; do
    sleep 2
    keyed_jobs fill$wave 30 $((N + 30 * wave)) >"$T/fill.jsonl"
    "$SY_BIN" submit --quiet "$T/fill.jsonl" >/dev/null || fail "submit filler"
    written=$((written + 60)) fills=$((fills + 30))
    n=$(count_changelog)
    echo "   after wave $wave: $n changelog record(s) of $written written"
    if [ "$n" -gt 0 ] && [ "$n" -le $((N + N / 4 + 30 * wave * 2)) ]; then compacted=1; break; fi
done
[ $compacted = 1 ] || fail "the changelog was not compacted: $n records of $written written"
ok "changelog compacted: $n records left of $written written ($((N)) keys of round 1)"

kill -TERM "$A"; wait "$A" || fail "worker a did not stop cleanly"
calls_before=$(wc -l <"$T/calls.jsonl")
start_worker b -p "$P" --max-inflight 256 --state-dir "$T/state-b"
keyed_jobs r2 "$N" 0 >"$T/r2.jsonl"
"$SY_BIN" submit --quiet "$T/r2.jsonl" >/dev/null || fail "submit r2"
"$SY_BIN" results --topic switchyard.results.echo --count $((2 * N + fills)) --timeout-ms 240000 \
    >"$T/results.jsonl" || fail "only $(wc -l <"$T/results.jsonl") results"
sleep 3
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 5000 >"$T/results.jsonl" || true
grep -h "changelog: restored" "$T/b.log" | head -n 3
"${SY_PYTHON:-/usr/bin/python3}" - "$T" "$N" "$calls_before" <<'PY' || fail "restore after compaction assertions"
import collections, json, sys
t, n, calls_before = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res = [json.loads(l) for l in open(f"{t}/results.jsonl") if l.strip()]
per_id = collections.Counter(r["job_id"] for r in res)
dups = [k for k, c in per_id.items() if c > 1]
by_id = {r["job_id"]: r for r in res}
lost = [f"{r}-{i}" for r in ("r1", "r2") for i in range(n) if f"{r}-{i}" not in by_id]
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
again = [c["job"] for c in calls[calls_before:] if c["job"] in {f"key-{i}" for i in range(n)}]
dedup = sum(1 for i in range(n) if by_id.get(f"r2-{i}", {}).get("deduplicated"))
print(f"results {len(res)}; lost {len(lost)}; duplicated {len(dups)}; round 2 deduplicated {dedup} of {n}; "
      f"provider calls for round-1 keys after the move {len(again)}")
assert not lost, lost[:10]
assert not dups, dups[:10]
assert not again, again[:10]
for i in range(n):
    a, b = by_id[f"r1-{i}"], by_id[f"r2-{i}"]
    assert a["output"] == b["output"] == f"ECHO Say w{i} number {i}", (a, b)
    assert b["deduplicated"], b
PY
ok "after compaction, worker b restored every partition: 0 lost, 0 duplicated, no call paid again"
check_logs
