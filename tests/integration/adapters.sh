#!/usr/bin/env bash
# The adapters through the worker, over HTTP against the fake provider:
# a task on each provider kind (openai with json_schema, seed, top_p and
# stop; anthropic; azure-openai at its deployment URL with its api-key;
# openai-compatible with drop_params / rename_params). Usage with cached
# tokens ([[cached:N]]) is priced apart (cached_input), on OpenAI and on
# Anthropic; an answer without usage ([[no-usage]]) is estimated, marked
# tokens.estimated and priced, never a silent 0.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/adapters.yaml
start_fake
export AZURE_OPENAI_ENDPOINT=${FAKE_URL%/v1} AZURE_OPENAI_API_KEY=azure-test-key-SECRET
"$SY_BIN" check "$P" >"$T/check.log" 2>&1 || fail "check: $(cat "$T/check.log")"
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --state-dir "$T/state"
"$PY" - >"$T/jobs.jsonl" <<'PY'
import json
jobs = [("j-openai", "on-openai", "printer jams"),
        ("j-openai-cached", "on-openai", "printer jams again [[cached:8]]"),
        ("j-anthropic", "on-anthropic", "hello there"),
        ("j-anthropic-cached", "on-anthropic", "hello again [[cached:6]]"),
        ("j-azure", "on-azure", "hello azure"),
        ("j-local", "on-local", "hello local"),
        ("j-local-nousage", "on-local", "a server that reports no usage [[no-usage]]"),
        ("j-azure-nousage", "on-azure", "azure without usage [[no-usage]]")]
for i, task, text in jobs:
    print(json.dumps({"id": i, "task": task, "vars": {"text": text}}))
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.adapters --count 8 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 8 results"
"$PY" - "$T" <<'PY' || fail "adapter assertions"
import json, sys
t = sys.argv[1]
res = {json.loads(l)["job_id"]: json.loads(l) for l in open(f"{t}/results.jsonl")}
calls = [json.loads(l) for l in open(f"{t}/calls.jsonl")]
price = {"gpt": (2, 8, 0.5, 2), "claude": (1, 5, 0.1, 1.25), "azure-gpt": (2.5, 10, 2.5, 2.5),
         "local-llm": (0.2, 0.2, 0.2, 0.2)}
for jid, r in sorted(res.items()):
    tok = r["tokens"]
    print(f"   {jid:20} {r['status']} {r['model']:10} tokens {tok} cost {r['cost_usd']:.8f}")
    assert r["status"] == "ok", r
    pin, pout, pcached, pwrite = price[r["model"]]
    cached, written = tok.get("cached_in", 0), tok.get("cache_write_in", 0)
    want = ((tok["in"] - cached - written) * pin + cached * pcached + written * pwrite + tok["out"] * pout) / 1e6
    assert tok["in"] > 0 and tok["out"] > 0 and r["cost_usd"] > 0, r
    assert abs(r["cost_usd"] - want) < 1e-12, (want, r)
    assert tok.get("estimated", False) == ("nousage" in jid), r
assert res["j-openai"]["output_json"]["label"], res["j-openai"]
assert res["j-openai-cached"]["tokens"]["cached_in"] == 8, res["j-openai-cached"]
assert res["j-anthropic-cached"]["tokens"]["cached_in"] == 6, res["j-anthropic-cached"]
assert "cached_in" not in res["j-openai"]["tokens"], res["j-openai"]
# cached tokens cost less than the same count uncached
r = res["j-openai-cached"]
assert r["cost_usd"] < (r["tokens"]["in"] * 2 + r["tokens"]["out"] * 8) / 1e6, r
assert res["j-azure"]["provider"] == "azure" and res["j-azure"]["model_name"] == "gpt4o-deploy", res["j-azure"]
apis = sorted({c["api"] for c in calls})
assert apis == ["anthropic", "azure", "openai"], apis
assert sum(c["api"] == "azure" for c in calls) == 2, calls
PY
ok "4 kinds through the worker: azure at its deployment URL, cached tokens priced apart, answers without usage estimated and priced"
check_logs
