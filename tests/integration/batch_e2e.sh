#!/usr/bin/env bash
# A batch tier end to end (tests/pipelines/batch.yaml): jobs of a tier with
# mode: batch go to the fake provider's OpenAI Batch API (files, batches,
# polls, output and error files), never as single calls; each job gets
# exactly one result, carrying its batch_id, at half the synchronous cost of
# the same job; a line that failed (500) is retried in a later batch; a 400
# line fails its job; the provider's hostile output (repeated lines, unknown
# custom_ids, lines that are not JSON) is ignored. The same for a tier on
# Anthropic's message batches (custom_ids that Anthropic would refuse are
# hashed, results matched back). A tier with batch.retry: sync retries a
# failed line as an ordinary call, and sends a job whose line is over the
# tier's max_bytes as one (built whole: a batch job's request is built
# without headers).
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/batch.yaml

start_fake --batch-ms 300 --batch-hostile
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 64 --state-dir "$T/state"

N=250
"$PY" - "$T" "$N" <<'PY'
import json, sys
t, n = sys.argv[1], int(sys.argv[2])
with open(f"{t}/bulk.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"b-{i}", "task": "bulk", "vars": {"word": f"w{i}"}}) + "\n")
    f.write(json.dumps({"id": "b-retry", "task": "bulk", "vars": {"word": "again [[fail-first:1]]"}}) + "\n")
    f.write(json.dumps({"id": "b-bad", "task": "bulk", "vars": {"word": "bad [[status:400]]"}}) + "\n")
    for i in range(60):
        f.write(json.dumps({"id": f"a-{i}" if i % 2 else f"a/ #{i}", "task": "claude-bulk", "vars": {"word": f"w{i}"}}) + "\n")
    f.write(json.dumps({"id": "a-bad", "task": "claude-bulk", "vars": {"word": "bad [[status:400]]"}}) + "\n")
    f.write(json.dumps({"id": "sr-1", "task": "bulk-sr", "vars": {"word": "sync again [[fail-first:1]]"}}) + "\n")
    for i in (2, 3):
        f.write(json.dumps({"id": f"sr-{i}", "task": "bulk-sr", "vars": {"word": f"w{i}"}}) + "\n")
    f.write(json.dumps({"id": "sr-big", "task": "bulk-sr", "vars": {"word": "x" * 5000}}) + "\n")
with open(f"{t}/now.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": f"n-{i}", "task": "now", "vars": {"word": f"w{i}"}}) + "\n")
    for i in range(5):
        f.write(json.dumps({"id": f"an-{i}", "task": "claude-now", "vars": {"word": f"w{i}"}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/bulk.jsonl" >"$T/submit.out" 2>&1 || fail "submit failed: $(cat "$T/submit.out")"
"$SY_BIN" submit --quiet "$T/now.jsonl" >>"$T/submit.out" 2>&1 || fail "submit failed: $(cat "$T/submit.out")"
"$SY_BIN" results --topic switchyard.results.bulk --count $((N + 2)) --timeout-ms 60000 >"$T/bulk.out" ||
    fail "expected $((N + 2)) bulk results, got $(wc -l <"$T/bulk.out")"
"$SY_BIN" results --topic switchyard.results.now --count 20 --timeout-ms 30000 >"$T/now.out" ||
    fail "expected 20 synchronous results, got $(wc -l <"$T/now.out")"
"$SY_BIN" results --topic switchyard.results.claude --count 61 --timeout-ms 30000 >"$T/claude.out" ||
    fail "expected 61 Anthropic batch results, got $(wc -l <"$T/claude.out")"
"$SY_BIN" results --topic switchyard.results.bulk-sr --count 4 --timeout-ms 30000 >"$T/bulk-sr.out" ||
    fail "expected 4 bulk-sr results, got $(wc -l <"$T/bulk-sr.out")"
"$SY_BIN" results --topic switchyard.results.claude-now --count 5 --timeout-ms 30000 >"$T/claude-now.out" ||
    fail "expected 5 Anthropic results, got $(wc -l <"$T/claude-now.out")"
sleep 1 # a second copy of any result would be out by now
"$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 3000 >"$T/bulk.out" || true
curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"

"$PY" - "$T" "$N" <<'PY' || fail "batch results (see above)"
import collections, json, sys
t, n = sys.argv[1], int(sys.argv[2])
bulk = [json.loads(l) for l in open(f"{t}/bulk.out")]
now = {r["job_id"]: r for r in map(json.loads, open(f"{t}/now.out"))}
count = collections.Counter(r["job_id"] for r in bulk)
twice = [k for k, c in count.items() if c > 1]
assert not twice, f"answered twice: {twice[:5]}"
want = {f"b-{i}" for i in range(n)} | {"b-retry", "b-bad"}
assert set(count) == want, f"missing {sorted(want - set(count))[:5]}"
by = {r["job_id"]: r for r in bulk}
for i in range(n):
    r = by[f"b-{i}"]
    assert r["status"] == "ok" and r["output"] == f"ECHO Say w{i}", r
    assert r["batch_id"].startswith("batch_"), r
    if i < 20: # the same job on the synchronous tier: half the cost
        s = now[f"n-{i}"]
        assert "batch_id" not in s and s["tokens"] == r["tokens"], (s, r)
        assert abs(r["cost_usd"] - s["cost_usd"] / 2) < 1e-12, (r["cost_usd"], s["cost_usd"])
batches = {r["batch_id"] for r in bulk if "batch_id" in r}
assert len(batches) >= 3, batches  # 100 jobs at most per batch
retry = by["b-retry"]
assert retry["status"] == "ok" and retry["attempts"] == 2, retry
assert [a["http_status"] for a in retry["attempt_history"]] == [500, 200], retry
bad = by["b-bad"]
assert bad["status"] == "failed" and bad["error"]["class"] == "bad_request", bad
stats = json.load(open(f"{t}/batch-stats.json"))
# every job sent once, but the one whose line failed and went into a later batch
assert stats["lines"] == n + 3 + 61 + 3 and stats["dup_custom_ids"] == 1 and stats["max_per_custom_id"] == 2, stats
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
assert len(calls) == 27 and all(c["job"].startswith(("n-", "an-", "sr-1", "sr-big")) for c in calls), "single calls for batch jobs"
# retry: sync: the failed line's job answered by an ordinary call
sr = {r["job_id"]: r for r in map(json.loads, open(f"{t}/bulk-sr.out"))}
assert len(sr) == 4 and all(r["status"] == "ok" for r in sr.values()), sr
assert "batch_id" not in sr["sr-big"] and sr["sr-big"]["attempts"] == 1, sr["sr-big"]  # over max_bytes: a call of its own
assert [a["http_status"] for a in sr["sr-1"]["attempt_history"]] == [500, 200] and "batch_id" not in sr["sr-1"], sr["sr-1"]
assert sr["sr-2"]["batch_id"].startswith("batch_"), sr["sr-2"]
# Anthropic's message batches
claude = [json.loads(l) for l in open(f"{t}/claude.out")]
cnow = {r["job_id"]: r for r in map(json.loads, open(f"{t}/claude-now.out"))}
cc = collections.Counter(r["job_id"] for r in claude)
assert max(cc.values()) == 1 and len(cc) == 61, cc
cby = {r["job_id"]: r for r in claude}
for i in range(60):
    r = cby[f"a-{i}" if i % 2 else f"a/ #{i}"]
    assert r["status"] == "ok" and r["output"] == f"ECHO Say w{i}" and r["batch_id"].startswith("msgbatch_"), r
    if i < 5:
        s = cnow[f"an-{i}"]
        assert s["tokens"] == r["tokens"] and abs(r["cost_usd"] - s["cost_usd"] / 2) < 1e-12, (s, r)
assert cby["a-bad"]["status"] == "failed" and cby["a-bad"]["error"]["class"] == "bad_request", cby["a-bad"]
assert len({r["batch_id"] for r in claude}) >= 2
sync_cost = sum(now[f"n-{i}"]["cost_usd"] for i in range(20))
batch_cost = sum(by[f"b-{i}"]["cost_usd"] for i in range(20))
print(f"ok - {n + 2} batch jobs in {len(batches)} batches, one result each; "
      f"cost of 20 jobs: batch {batch_cost:.8f} USD = {batch_cost / sync_cost:.0%} of sync {sync_cost:.8f}")
PY
grep -q "ignored .* line(s) of unknown jobs, .* repeated, .* unreadable" "$T/worker.log" ||
    fail "the worker did not say it ignored the hostile output lines"
ok "hostile output lines (repeated, unknown custom_id, not JSON) ignored and counted"
check_logs
