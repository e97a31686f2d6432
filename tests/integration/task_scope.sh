#!/usr/bin/env bash
# An idempotency key is scoped to its task. Jobs of three tasks share keys:
# echo and long-echo (same tier, same output topic: one worker partition,
# one changelog) and label (another tier). Each gets its own provider call,
# output and metadata, whether the other task's job is still in flight or
# long answered; a later job of the same task with the key is still
# answered from the store, deduplicated.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
start_fake --latency-ms 300
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 16 --state-dir "$T/state"
job() { # id task key team
    echo "{\"id\":\"$1\",\"task\":\"$2\",\"idempotency_key\":\"$3\",\"metadata\":{\"team\":\"$4\"},\"vars\":{\"word\":\"w-$1\",\"n\":7,\"text\":\"t-$1\"}}"
}
submit() { "$SY_BIN" submit --quiet "$T/$1.jsonl" >/dev/null || fail "submit $1"; }
wait_results() { # topic count
    "$SY_BIN" results --topic "$1" --count "$2" --timeout-ms 60000 >/dev/null \
        || fail "fewer than $2 results on $1"
}
# Concurrent: the three jobs of key k1 are in work together.
{ job c-echo echo k1 a; job c-long long-echo k1 b; job c-label label k1 c; } >"$T/concurrent.jsonl"
submit concurrent
wait_results switchyard.results.echo 2
wait_results switchyard.results.label 1
# One after the other: each task's job of key k2 comes after the other's answer.
n_echo=2
for spec in "s-echo echo" "s-long long-echo" "s-label label"; do
    set -- $spec
    job "$1" "$2" k2 "team-$1" >"$T/$1.jsonl"
    submit "$1"
    if [ "$2" = label ]; then wait_results switchyard.results.label 2
    else n_echo=$((n_echo + 1)); wait_results switchyard.results.echo $n_echo; fi
done
# Same task, same key, another job: deduplicated.
{ job d-echo echo k2 z; job d-long long-echo k1 y; } >"$T/dup.jsonl"
submit dup
"$SY_BIN" results --topic switchyard.results.echo --count 6 --timeout-ms 60000 >"$T/echo.jsonl" \
    || fail "only $(wc -l <"$T/echo.jsonl") of 6 echo results"
"$SY_BIN" results --topic switchyard.results.label --count 2 --timeout-ms 60000 >"$T/label.jsonl" \
    || fail "only $(wc -l <"$T/label.jsonl") of 2 label results"
sleep 1
"$PY" - "$T" <<'PY' || fail "task scope assertions"
import collections, json, sys
t = sys.argv[1]
res = {}
for f in ("echo", "label"):
    for l in open(f"{t}/{f}.jsonl"):
        r = json.loads(l)
        assert r["job_id"] not in res, f"two results for {r['job_id']}"
        res[r["job_id"]] = r
calls = collections.Counter(json.loads(l)["job"] for l in open(f"{t}/calls.jsonl"))
print(f"results {len(res)}; provider calls per key {dict(calls)}")
task_of = {"echo": "echo", "long": "long-echo", "label": "label"}
for jid, r in sorted(res.items()):
    kind, own = jid.split("-")[1], jid[0] != "d"
    print(f"   {jid:8} {r['task']:9} dedup={r['deduplicated']!s:5} team={r['metadata'].get('team')} {r['output'][:40]!r}")
    assert r["status"] == "ok", r
    assert r["task"] == task_of[kind], r
    if kind == "echo": want = f"ECHO Say w-{jid} number 7"
    elif kind == "long": want = f"ECHO w-{jid}"
    else: want = None
    if own:
        assert r["deduplicated"] is False, r
        assert r["metadata"] == {"team": {"c-echo": "a", "c-long": "b", "c-label": "c"}.get(jid, f"team-{jid}")}, r
        if want: assert r["output"] == want, r
        else: assert r["output_json"]["echo"].startswith(f"Ticket 7: t-{jid}"), r
# Same task, same key: the stored answer of that task's first job.
assert res["d-echo"]["deduplicated"] and res["d-echo"]["output"] == res["s-echo"]["output"], res["d-echo"]
assert res["d-long"]["deduplicated"] and res["d-long"]["output"] == res["c-long"]["output"], res["d-long"]
assert calls["k1"] == 3 and calls["k2"] == 3, calls
PY
ok "an idempotency key is per task: 3 tasks, 3 calls and 3 answers per key; same-task duplicates deduplicated"
check_logs
