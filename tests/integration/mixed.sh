#!/usr/bin/env bash
# The mixed pipeline users read (pipelines/mixed.yaml, with the providers
# and models of pipelines/support-tickets.yaml) against the fake provider,
# which serves all three of its providers: triage on Anthropic
# synchronously, backfill on OpenAI's Batch API, tag on an
# OpenAI-compatible server. Each task's results name the right model,
# provider and tier and cost more than 0; backfill's carry their batch_id;
# and backfill's cost for the same jobs sent also to backfill-now (the same
# model on a synchronous tier) is at most 55% of the synchronous cost,
# checked both against backfill-now's results and against the price table
# of the pipeline files applied to the jobs' tokens. `switchyard report --by
# task,tier` gives each task's cost as the sum of its results'.
source "$(dirname "$0")/lib.sh"
P=(pipelines/support-tickets.yaml pipelines/mixed.yaml)
export BATCH_WAIT_MS=300 BATCH_POLL_MS=100

start_fake --batch-ms 300
export COMPAT_BASE_URL=$FAKE_URL VLLM_API_KEY=sk-test-vllm-SECRET789
start_broker "${P[@]}"
start_scheduler "${P[@]}"
start_worker worker -p "${P[0]}" -p "${P[1]}" --max-inflight 64 --state-dir "$T/state"

N=40
"$PY" - "$T" "$N" <<'PY'
import json, sys
t, n = sys.argv[1], int(sys.argv[2])
with open(f"{t}/jobs.jsonl", "w") as f:
    for i in range(n):
        text = f"ticket {i}: " + "the printer is on fire " * (i % 5 + 1)
        for task in ("backfill", "backfill-now"):
            f.write(json.dumps({"id": f"{task}-{i}", "task": task, "vars": {"text": text}}) + "\n")
        if i < 10:
            for task in ("triage", "tag"):
                f.write(json.dumps({"id": f"{task}-{i}", "task": task, "vars": {"text": text}}) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >"$T/submit.out" 2>&1 || fail "submit failed: $(cat "$T/submit.out")"
for t in backfill:$N backfill-now:$N triage:10 tag:10; do
    "$SY_BIN" results --topic "switchyard.results.${t%%:*}" --count "${t##*:}" --timeout-ms 60000 >"$T/${t%%:*}.out" ||
        fail "expected ${t##*:} results of ${t%%:*}, got $(wc -l <"$T/${t%%:*}.out")"
done
"$SY_BIN" report -t switchyard.results.triage -t switchyard.results.backfill -t switchyard.results.backfill-now \
    -t switchyard.results.tag --by task,tier --format json >"$T/report.json" || fail "report failed"
"$SY_BIN" report -t switchyard.results.triage -t switchyard.results.backfill -t switchyard.results.backfill-now \
    -t switchyard.results.tag --by task,tier >"$T/report.txt" || fail "report table failed"
cat "$T/report.txt"

"$PY" - "$T" "$N" "${P[@]}" <<'PY' || fail "mixed pipeline results (see above)"
import json, sys, yaml
t, n = sys.argv[1], int(sys.argv[2])
prices = {k: m["price_per_mtok"] for f in sys.argv[3:] for k, m in yaml.safe_load(open(f))["models"].items()}
res = {task: {r["job_id"]: r for r in map(json.loads, open(f"{t}/{task}.out"))}
       for task in ("triage", "backfill", "backfill-now", "tag")}
want = {"triage": ("claude-haiku", "anthropic", "claude-3-5-haiku-latest", "interactive", 10),
        "backfill": ("gpt-4o-mini", "openai", "gpt-4o-mini", "overnight", n),
        "backfill-now": ("gpt-4o-mini", "openai", "gpt-4o-mini", "overnight-now", n),
        "tag": ("llama-8b", "local-vllm", "meta-llama/Llama-3.1-8B-Instruct", "self-hosted", 10)}
for task, (model, provider, name, tier, count) in want.items():
    rs = res[task]
    assert len(rs) == count, (task, len(rs))
    for r in rs.values():
        assert r["status"] == "ok" and r["task"] == task, r
        assert (r["model"], r["provider"], r["model_name"], r["tier"]) == (model, provider, name, tier), r
        assert r["cost_usd"] > 0, r
        assert ("batch_id" in r) == (task == "backfill"), r
        if task == "backfill":
            assert r["batch_id"].startswith("batch_"), r
def sync_price(r):  # the synchronous price of r's tokens, from the pipeline's table
    p = prices[r["model"]]
    return (r["tokens"]["in"] * p["input"] + r["tokens"]["out"] * p["output"]) / 1e6
batch = sync = table = 0.0
for i in range(n):
    b, s = res["backfill"][f"backfill-{i}"], res["backfill-now"][f"backfill-now-{i}"]
    assert b["tokens"] == s["tokens"], (b, s)  # the same job on both tiers
    assert abs(s["cost_usd"] - sync_price(s)) < 1e-12, (s, sync_price(s))
    batch += b["cost_usd"]; sync += s["cost_usd"]; table += sync_price(b)
assert batch <= 0.55 * sync and batch <= 0.55 * table, (batch, sync, table)
rep = json.load(open(f"{t}/report.json"))
got = {(g["values"]["task"], g["values"]["tier"]): g for g in rep["groups"]}
for task, (_, _, _, tier, count) in want.items():
    g = got[(task, tier)]
    assert g["jobs"] == g["ok"] == count, g
    assert abs(g["cost_usd"] - sum(r["cost_usd"] for r in res[task].values())) < 1e-9, (g, task)
print(f"ok - {n} jobs: batch {batch:.8f} USD = {batch / sync:.0%} of sync {sync:.8f} "
      f"(price table: {batch / table:.0%}); every task's model, provider, tier and cost right, report agrees")
PY
check_logs
