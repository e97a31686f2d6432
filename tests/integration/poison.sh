#!/usr/bin/env bash
# Poison messages of every kind, written with kcat straight onto a tier
# topic (the worker decodes them; the scheduler never saw them) and onto the
# jobs topic (the scheduler catches them), between good jobs, and a good job
# whose 1.2 MB result the Kafka client refuses. Asserts: each
# poison reaches the dead-letter topic once, with its original key and value,
# the error class and a message that says what is wrong, the stage and the
# source topic; every good job around them succeeds; the worker and the
# scheduler keep running.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
TIER=switchyard.tier.echo-tier

start_fake --latency-ms 5
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 32 --state-dir "$T/state"

mkdir -p "$T/poison"
"$PY" - "$T/poison" <<'PY'
import json, os, sys
d = sys.argv[1]
def put(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
put("bad-msgpack", b"\xc1\x00\xff")                       # 0xc1 is never used in msgpack
put("truncated-msgpack", b"\x83\xa2id\xa3p-2\xa4ta")      # a map of 3 cut short
put("huge-msgpack", b"\xdf\xff\xff\xff\xff\xa1a")        # declares 4 billion entries
put("bad-json", '{"id": "p-4", "task": "echo", "vars": {')
put("json-array", "[1, 2, 3]")
put("missing-id", '{"task": "echo", "vars": {"word": "a", "n": 1}}')
put("missing-task", '{"id": "p-7", "vars": {"word": "a", "n": 1}}')
put("wrong-type-vars", '{"id": "p-8", "task": "echo", "vars": "not a map"}')
put("wrong-type-id", '{"id": 123, "task": "echo", "vars": {"word": "a", "n": 1}}')
put("oversize", json.dumps({"id": "p-10", "task": "echo", "vars": {"word": "x" * 600000, "n": 1}}))
put("unknown-task", '{"id": "p-11", "task": "translate", "vars": {}}')
put("deep-json", "[" * 100000 + "]" * 100000)
put("bad-utf8", b'{"id": "p-13", "task": "echo", "vars": {"word": "\xff\xfe", "n": 1}}')
put("missing-var", '{"id": "p-15", "task": "echo", "vars": {"word": "only"}}')
# a good job whose answer (1.2 MB) makes a result the Kafka client refuses
put("huge-result", '{"id": "p-16", "task": "long-echo", "vars": {"word": "[[size:1200000]]"}}')
with open(os.path.join(d, "..", "good.jsonl"), "w") as f:
    for i in range(100):
        f.write(json.dumps({"id": f"g-{i}", "task": "echo", "vars": {"word": f"w{i}", "n": i}}) + "\n")
PY

kc() { kcat -P -b "$BROKERS" "$@" 2>>"$T/kcat.log"; }
head -n 50 "$T/good.jsonl" | kc -t "$TIER" -l /dev/stdin
for f in "$T"/poison/*; do kc -t "$TIER" -k "$(basename "$f")" "$f"; done
for name in bad-msgpack oversize unknown-task; do   # the scheduler's turn
    kc -t switchyard.jobs -k "sched-$name" "$T/poison/$name"
done
tail -n 50 "$T/good.jsonl" | kc -t "$TIER" -l /dev/stdin
ok "sent 100 good jobs, 15 poison messages to $TIER and 3 to switchyard.jobs"

"$SY_BIN" results --topic switchyard.results.echo --count 101 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "expected 100 good results + 1 failed (missing var), got $(wc -l <"$T/results.jsonl")"
"$SY_BIN" results --topic switchyard.dlq --headers --count 18 --timeout-ms 60000 >"$T/dlq.jsonl" \
    || fail "expected 18 dead letters, got $(wc -l <"$T/dlq.jsonl")"
sleep 2
"$SY_BIN" results --topic switchyard.dlq --headers --timeout-ms 2000 >"$T/dlq.jsonl" || true
kcat -C -b "$BROKERS" -t switchyard.dlq -e -q -f '%k %S\n' >"$T/dlq-sizes.txt" 2>>"$T/kcat.log"

"$PY" - "$T" <<'PY' || fail "poison checks"
import json, os, sys
t = sys.argv[1]
load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
res = {r["job_id"]: r for r in load(f"{t}/results.jsonl")}
for i in range(100):
    assert res[f"g-{i}"]["status"] == "ok" and res[f"g-{i}"]["output"] == f"ECHO Say w{i} number {i}", res.get(f"g-{i}")
dlq = {}
for d in load(f"{t}/dlq.jsonl"):
    assert d["key"] not in dlq, f"two dead letters for {d['key']}"
    dlq[d["key"]] = d["headers"]
want = {  # key: (class, words the message must contain)
    "bad-msgpack": ("invalid_job", "msgpack"), "truncated-msgpack": ("invalid_job", "msgpack"),
    "huge-msgpack": ("invalid_job", "msgpack"), "bad-json": ("invalid_job", "JSON"),
    "json-array": ("invalid_job", "object"), "missing-id": ("invalid_job", "id"),
    "missing-task": ("invalid_job", "task"), "wrong-type-vars": ("invalid_job", "vars"),
    "wrong-type-id": ("invalid_job", "id"), "oversize": ("invalid_job", "bytes"),
    "unknown-task": ("unknown_task", "translate"), "deep-json": ("invalid_job", "JSON"),
    "bad-utf8": ("invalid_job", "JSON"),
    "missing-var": ("render_error", "'n'"),
    "huge-result": ("result_unpublishable", "bytes"),
}
for key, (cls, words) in want.items():
    h = dlq[key]
    assert h["switchyard.error.class"] == cls, (key, h)
    assert words in h["switchyard.error.message"], (key, h["switchyard.error.message"])
    assert h["switchyard.stage"] == "worker" and h["switchyard.source.topic"] == "switchyard.tier.echo-tier", (key, h)
    assert "switchyard.source.partition" in h and "switchyard.source.offset" in h, (key, h)
for key in ("sched-bad-msgpack", "sched-oversize", "sched-unknown-task"):
    h = dlq[key]
    assert h["switchyard.stage"] == "scheduler" and h["switchyard.source.topic"] == "switchyard.jobs", (key, h)
assert len(dlq) == 18, sorted(dlq)
assert "p-16" not in res, res.get("p-16")
sizes = dict(l.split() for l in open(f"{t}/dlq-sizes.txt") if l.strip())
for key in want:
    assert int(sizes[key]) == os.path.getsize(f"{t}/poison/{key}"), (key, sizes[key])
assert res["p-15"]["status"] == "failed" and res["p-15"]["error"]["class"] == "render_error"
print("ok - 18 dead letters with class, reason, stage and source; original values kept byte for byte")
for key in sorted(want): print(f"     {key:18} {dlq[key]['switchyard.error.class']:14} {dlq[key]['switchyard.error.message'][:70]}")
PY
kill -0 "$LAST_PID" || fail "the worker died"
ok "100 good jobs succeeded around the poison; worker still running"
check_logs
