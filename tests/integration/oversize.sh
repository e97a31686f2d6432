#!/usr/bin/env bash
# A dead letter too large to produce (issue: a refused dead letter froze
# its partition). A 1.5 MB job goes onto the jobs topic (the scheduler
# dead-letters it) and one onto a tier topic (the worker does), each
# followed by 20 good jobs on the same partition; the Kafka clients refuse
# messages over message.max.bytes (1,000,000). And a valid 300 KB job that
# the scheduler cannot route: its client refuses messages over 200,000
# bytes (-X message.max.bytes). Asserts: each of these jobs has
# exactly one dead letter, truncated, with the reason, the original size and
# its 64-bit FNV-1a hash; every good job after it is answered, though the
# worker's window per partition (8) is smaller than what follows; after a
# restart of scheduler and worker, nothing is routed or answered twice.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TIER=switchyard.tier.echo-tier

start_fake --latency-ms 5
start_broker "$P"
sched() {
    "$SY_BIN" scheduler -p "$P" -X message.max.bytes=200000 >"$T/scheduler.log" 2>&1 &
    PIDS+=($!)
    SCHED_PID=$!
}
sched
WARGS=(-p "$P" --max-inflight 16 --max-jobs-per-partition 8 --state-dir "$T/state")
start_worker worker "${WARGS[@]}"

"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
for where in ("jobs", "tier"):
    big = {"id": f"big-{where}", "task": "echo", "vars": {"word": "x" * 1500000, "n": 1}}
    open(f"{t}/big-{where}.json", "w").write(json.dumps(big))
    mid = {"id": "mid-jobs", "task": "echo", "vars": {"word": "y" * 300000, "n": 2}}
    open(f"{t}/mid-jobs.json", "w").write(json.dumps(mid))
    for part, (a, b) in (("1", (0, 20)), ("2", (20, 25))):
        with open(f"{t}/good-{where}-{part}.jsonl", "w") as f:
            for i in range(a, b):
                f.write(json.dumps({"id": f"g-{where}-{i}", "task": "echo",
                                    "vars": {"word": f"w{i}", "n": i}}) + "\n")
PYEOF
kc() { kcat -P -b "$BROKERS" -X message.max.bytes=2000000 "$@" 2>>"$T/kcat.log"; }
kc -t switchyard.jobs -k same-jobs "$T/big-jobs.json"
kc -t switchyard.jobs -k same-jobs "$T/mid-jobs.json"
kc -t switchyard.jobs -k same-jobs -l "$T/good-jobs-1.jsonl"
kc -t "$TIER" -k same-tier "$T/big-tier.json"
kc -t "$TIER" -k same-tier -l "$T/good-tier-1.jsonl"
ok "a 1.5 MB job (and a 300 KB one on the jobs topic) then 20 good ones on one partition of switchyard.jobs, and of $TIER"

"$SY_BIN" results --topic switchyard.results.echo --count 40 --timeout-ms 60000 >"$T/results-1.jsonl" \
    || fail "only $(wc -l <"$T/results-1.jsonl") of 40 results after the big jobs"
ok "the 40 good jobs behind the big ones were answered"

sleep 2 # the commits (every 100 ms) move past everything
kill -TERM "$SCHED_PID" "$LAST_PID"
wait "$SCHED_PID" "$LAST_PID" 2>/dev/null || true
mv "$T/scheduler.log" "$T/scheduler-1.log"
mv "$T/worker.log" "$T/worker-1.log"
sched
start_worker worker "${WARGS[@]}"
kc -t switchyard.jobs -k same-jobs -l "$T/good-jobs-2.jsonl"
kc -t "$TIER" -k same-tier -l "$T/good-tier-2.jsonl"
"$SY_BIN" results --topic switchyard.results.echo --count 50 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 50 results after the restart"
sleep 3
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 2000 >"$T/results.jsonl" || true
"$SY_BIN" results --topic switchyard.dlq --headers --timeout-ms 3000 >"$T/dlq.jsonl" || true

"$PY" - "$T" <<'PYEOF' || fail "oversize checks"
import collections, json, sys
t = sys.argv[1]
load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
res = load(f"{t}/results.jsonl")
per_job = collections.Counter(r["job_id"] for r in res)
want = {f"g-{w}-{i}" for w in ("jobs", "tier") for i in range(25)}
assert set(per_job) == want, sorted(set(per_job) ^ want)
twice = {k: n for k, n in per_job.items() if n != 1}
assert not twice, f"answered more than once after the restart: {twice}"
assert all(r["status"] == "ok" for r in res)

def fnv1a64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h

dlq = load(f"{t}/dlq.jsonl")
by_stage = collections.Counter(d["headers"].get("switchyard.stage") for d in dlq)
assert len(dlq) == 3 and by_stage == {"scheduler": 2, "worker": 1}, [(d["key"], d["headers"]) for d in dlq]
for d in dlq:
    h = dict(d["headers"])
    cls = h["switchyard.error.class"]
    where = "jobs" if h["switchyard.stage"] == "scheduler" else "tier"
    if h["switchyard.error.class"] == "unroutable":
        orig = open(f"{t}/mid-jobs.json", "rb").read()
        assert "could not be routed to switchyard.tier.echo-tier" in h["switchyard.error.message"], h
        assert "too large" in h["switchyard.error.message"], h
        h["switchyard.error.class"], h["switchyard.error.message"] = "invalid_job", "bytes"
    else:
        orig = open(f"{t}/big-{where}.json", "rb").read()
    assert h["switchyard.truncated"] == "1", h
    assert "too large" in h["switchyard.truncated.reason"], h
    assert h["switchyard.error.class"] == "invalid_job" and "bytes" in h["switchyard.error.message"], h
    assert int(h["switchyard.original.value_size"]) == len(orig), h
    assert int(h["switchyard.original.key_size"]) == len(f"same-{where}"), h
    assert h["switchyard.original.value_fnv1a64"] == "%016x" % fnv1a64(orig), h
    assert h["switchyard.source.topic"] == ("switchyard.jobs" if where == "jobs" else "switchyard.tier.echo-tier"), h
    assert d["key"] == f"same-{where}" and d["value"].encode() == orig[:1024], d["value"][:80]
    print(f"ok - {where}: {cls}: truncated dead letter, {len(orig)} bytes, fnv1a64 {h['switchyard.original.value_fnv1a64']}: {h['switchyard.truncated.reason']}")
print(f"ok - {len(res)} results, one per job, across a restart of scheduler and worker")
PYEOF
check_logs
