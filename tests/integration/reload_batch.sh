#!/usr/bin/env bash
# A batch tier across a pipeline reload (worker/reload.h, wreload_hold_tier),
# on Anthropic's message batches (which a restart finds by their records
# only, so a new owner makes the batch when the changelog brings it):
# a batch keeps pointers into the config generation of its tier and model,
# and can outlive its jobs' runs (a batch found again after a restart is
# kept a while after its answers, for its jobs still to come), so it holds
# that generation itself.
#   1  worker-a sends a batch of 40 jobs, which then owns them; killed
#   2  worker-b (a state of its own) reloads a first time (price 2), then
#      gets the partitions and the batch from the changelog: the jobs are
#      rebuilt and the batch polled under the reloaded config; while the
#      batch runs, the price changes again (1000) and worker-b reloads
#   3  the 40 results come at the price they started under (the batch
#      price of 2), the batch stays kept without any run (its retired
#      config held by it alone), a job of a synchronous task is answered,
#      and worker-b stops cleanly: with the hold gone that config would be
#      freed when that job's run starts, and the batch's tier read from
#      freed memory at the stop (the ASan build reports it)
source "$(dirname "$0")/lib.sh"
export SWITCHYARD_LOG_FORMAT=text
P=$T/pipeline.yaml
N=40
pipeline() { # price of the model's input and output per Mtok
    cat <<YAML
version: 1
providers:
  anthropic: {kind: anthropic, base_url: "\${ANTHROPIC_BASE_URL}", api_key_env: ANTHROPIC_API_KEY}
models:
  haiku: {provider: anthropic, name: claude-3-5-haiku-latest, price_per_mtok: {input: $1, output: $1}}
tiers:
  bulk-tier:
    models: [haiku]
    mode: batch
    batch: {max_jobs: 100, max_wait_ms: 300, poll_ms: 100, poll_max_ms: 400}
  sync-tier:
    models: [haiku]
tasks:
  bulk:
    tier: bulk-tier
    prompt: {id: bulk, version: 1, user: "Say {{word}}"}
    max_tokens: 100
    output: {topic: switchyard.results.bulk, parse: text, format: json}
  now:
    tier: sync-tier
    prompt: {id: bulk, version: 1, user: "Say {{word}}"}
    max_tokens: 100
    output: {topic: switchyard.results.now, parse: text, format: json}
YAML
}
pipeline 1 >"$P"
start_fake --batch-ms 2500
start_broker "$P"
start_scheduler "$P"
word_jobs "$N" r bulk >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
args=(-p "$P" --max-inflight 64 -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)

start_worker worker-a "${args[@]}" --state-dir "$T/state-a"
for _ in $(seq 200); do grep -q "it owns its $N job(s)" "$T/worker-a.log" && break; sleep 0.1; done
grep -q "it owns its $N job(s)" "$T/worker-a.log" || fail "worker-a recorded no batch of $N jobs"
sleep 0.4 # the offsets' commit (every 100 ms)
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
ok "1: a batch of $N jobs sent and recorded; worker-a killed"

# worker-b, with a state of its own, gets the batch by the changelog once
# worker-a's session ends; before that, a first reload makes the current
# generation one that a reload loaded (owned: freed whole when let go).
start_worker worker-b "${args[@]}" --state-dir "$T/state-b" --no-watch
B=$LAST_PID
reloads() { grep -c "reload (SIGHUP): pipelines loaded again" "$T/worker-b.log" || true; }
for _ in $(seq 100); do grep -q "started:" "$T/worker-b.log" && break; sleep 0.1; done
pipeline 2 >"$P" && kill -HUP "$B"
for _ in $(seq 100); do [ "$(reloads)" -ge 1 ] && break; sleep 0.1; done
[ "$(reloads)" -ge 1 ] || fail "worker-b did not reload"
grep -q "rebalance: assigned [1-9]" "$T/worker-b.log" && fail "worker-b had its partitions before the first reload"
for _ in $(seq 200); do grep -q "$N job(s) rebuilt from batch records" "$T/worker-b.log" && break; sleep 0.1; done
grep -q "$N job(s) rebuilt from batch records" "$T/worker-b.log" || fail "worker-b rebuilt no jobs"
pipeline 1000 >"$P" && kill -HUP "$B" # the price changes again while the batch runs
for _ in $(seq 100); do [ "$(reloads)" -ge 2 ] && break; sleep 0.1; done
[ "$(reloads)" -ge 2 ] || fail "worker-b did not reload a second time"
"$SY_BIN" results --topic switchyard.results.bulk --count "$N" --timeout-ms 30000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of $N results"
"$PY" - "$T/results.jsonl" "$N" <<'PY' || fail "results across the reload"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len({r["job_id"] for r in rs}) == int(sys.argv[2]), len(rs)
for r in rs:
    assert r["status"] == "ok" and r.get("batch_id"), r
    # the batch price of the config the jobs were rebuilt under: half of 2
    # USD per Mtok, in and out (not of the 1000 loaded while they ran)
    want = (r["tokens"]["in"] + r["tokens"]["out"]) * 1.0 / 1e6
    assert abs(r["cost_usd"] - want) < 1e-12, (r["cost_usd"], want, r)
print(f"ok - 2: reloaded before and while the batch ran; its {len(rs)} results at the price they started under")
PY
# The batch is kept (found again after a restart), with no run left; a
# job of another task starts a run (a retired generation no one holds is
# freed then) and is answered.
echo '{"id": "n-0", "task": "now", "vars": {"word": "w"}}' >"$T/now.jsonl"
"$SY_BIN" submit --quiet "$T/now.jsonl" >/dev/null || fail "submit (now)"
"$SY_BIN" results --topic switchyard.results.now --count 1 --timeout-ms 20000 >"$T/now.out" || fail "no answer to the sync job"
# Stop
# once the group has given worker-b its partitions (worker-a's session
# ends first): a consumer closed before its first assignment trips
# librdkafka's cooperative-sticky assignor (an assertion fixed upstream in
# 2.3.0), which is not what this test is about.
for _ in $(seq 150); do grep -q "rebalance: assigned [1-9]" "$T/worker-b.log" && break; sleep 0.1; done
grep -q "rebalance: assigned [1-9]" "$T/worker-b.log" || fail "worker-b got no partition"
sleep 0.5
kill -TERM "$B"
wait "$B" || fail "worker-b did not stop cleanly: $(tail -5 "$T/worker-b.log")"
ok "3: worker-b stopped cleanly with the batch of a retired config still kept"
check_logs
