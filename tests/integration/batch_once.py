"""Checks of the batch tiers' crash tests (batch_crash.sh, batch_takeover.sh):
every job of each results file has exactly one result, ok and carried by a
batch of the right kind, and the fake provider's /batch-stats saw every
custom_id in exactly one created batch.

usage: batch_once.py DIR OPENAI_PREFIX N ANTHROPIC_PREFIXES NA [OTHER_LINES] [read-once]
(ANTHROPIC_PREFIXES: one or more, comma-separated, NA jobs each; DIR holds results.jsonl, claude-results.jsonl unless NA is 0, and
batch-stats.json; OTHER_LINES: lines of batches other clients created,
default 0; read-once: each batch's output was also downloaded once,
batch_handover.sh)"""
import collections
import json
import sys

t, pre, n, apre, na = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rest = sys.argv[6:]
read_once = "read-once" in rest
other = next((int(a) for a in rest if a != "read-once"), 0)
apres = apre.split(",")
for name, ps, want, bid in (("results", [pre], n, "batch_"), ("claude-results", apres, na, "msgbatch_")):
    if want == 0:
        continue
    res = [json.loads(line) for line in open(f"{t}/{name}.jsonl")]
    count = collections.Counter(r["job_id"] for r in res)
    assert set(count) == {f"{p}-{i}" for p in ps for i in range(want)}, f"lost jobs ({name}): {want * len(ps) - len(count)}"
    assert max(count.values()) == 1, [k for k, c in count.items() if c > 1][:5]
    assert all(r["status"] == "ok" and r["batch_id"].startswith(bid) for r in res), name
st = json.load(open(f"{t}/batch-stats.json"))
assert st["lines"] == n + na * len(apres) + other and st["dup_custom_ids"] == 0 and st["max_per_custom_id"] == 1, st
assert not read_once or st["max_output_downloads"] == 1, st
print(f"ok - {n} + {na * len(apres)} jobs, one result each, each submitted in exactly one batch ({st['batches']} batches created)")
