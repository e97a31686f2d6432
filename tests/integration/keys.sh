#!/usr/bin/env bash
# API keys never kept: five providers with keys of five shapes (OpenAI
# project key, 40 hex digits, base64 with + / =, Azure-like 32 hex,
# Anthropic), random for each run. The fake provider's [[echo-key]] marker
# repeats the key it received (whole, as "Bearer KEY" and "x-api-key: KEY",
# and masked as its first 6 and last 4 bytes) in a 200 answer and in a 401
# message, and in the error code of a batch line; [[echo-key:create]] in a
# batch's input makes the batch create answer 400 with a message that
# repeats it (whole), spans two lines and runs past 200 bytes: the worker
# logs that message, scrubbed, escaped and cut to 200 bytes. Neither the key nor any 8 bytes of it nor its masked form may be
# found in any log, result, dead letter, changelog record, the LMDB
# store's files, or the /metrics and /readyz pages of the scheduler and the
# worker; the worker runs without core dumps. The search itself is checked
# first on a file where a key is planted.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/keys.yaml
start_fake
eval "$("$PY" - <<'PY'
import base64, secrets
b64 = base64.b64encode(secrets.token_bytes(28)).decode().rstrip("=")
keys = {
    "KEYS_OPENAI": "sk-proj-" + secrets.token_urlsafe(36),
    "KEYS_HEX40": secrets.token_hex(20),
    "KEYS_BASE64": b64[:12] + "+" + b64[12:24] + "/" + b64[24:] + "==",
    "KEYS_AZURE": secrets.token_hex(16),
    "KEYS_ANTHROPIC": "sk-ant-api03-" + secrets.token_urlsafe(40) + "-AA",
}
for k, v in keys.items(): print(f"export {k}='{v}'")
PY
)"
start_broker "$P"
"$SY_BIN" scheduler -p "$P" --http 127.0.0.1:0 >"$T/scheduler.log" 2>&1 &
PIDS+=($!)
start_worker worker -p "$P" --max-inflight 16 --state-dir "$T/state" --http 127.0.0.1:0
WORKER=$LAST_PID
for ((i = 0; i < 100; i++)); do grep -q "started:" "$T/worker.log" && break; sleep 0.1; done
grep -q -E '^Max core file size +0 +0 ' "/proc/$WORKER/limits" || fail "the worker may write core dumps"
ok "the worker runs with core dumps off"

PROVIDERS="openai hex40 base64 azure anthropic"
submit() { # status
    for p in $PROVIDERS; do
        echo "{\"id\":\"$1-$p\",\"task\":\"k-$p\",\"vars\":{\"text\":\"[[echo-key:$1]] tell me\"}}"
    done >"$T/jobs-$1.jsonl"
    "$SY_BIN" submit --quiet "$T/jobs-$1.jsonl" >/dev/null || fail "submit $1"
}
# The answers first: a 401 cools its provider's account down.
submit 200
for p in $PROVIDERS; do
    "$SY_BIN" results --topic "switchyard.results.k-$p" --count 1 --timeout-ms 60000 >/dev/null \
        || fail "no answer on k-$p"
done
submit 401
for p in $PROVIDERS; do
    "$SY_BIN" results --topic "switchyard.results.k-$p" --headers --count 2 --timeout-ms 60000 \
        >"$T/results-$p.jsonl" || fail "only $(wc -l <"$T/results-$p.jsonl") of 2 results on k-$p"
done
"$SY_BIN" results --topic switchyard.dlq --headers --count 5 --timeout-ms 60000 >"$T/dlq.jsonl" \
    || fail "only $(wc -l <"$T/dlq.jsonl") of 5 dead letters"
# A batch line's error code that repeats the key (no response: the worker
# writes the code into the job's error message itself).
echo '{"id":"batch-code","task":"k-batch","vars":{"text":"[[echo-key:code]] tell me"}}' >"$T/jobs-batch.jsonl"
"$SY_BIN" submit --quiet "$T/jobs-batch.jsonl" >/dev/null || fail "submit batch"
"$SY_BIN" results --topic switchyard.results.k-batch --count 1 --timeout-ms 60000 >"$T/results-batch.jsonl" ||
    fail "no result on k-batch"
grep -q '"status":"failed".*no answer for this job (\[redacted\])' "$T/results-batch.jsonl" ||
    fail "k-batch: $(cut -c1-400 "$T/results-batch.jsonl")"
# A batch create refused with a message that repeats the key: the log says why.
echo '{"id":"batch-create","task":"k-batch","vars":{"text":"[[echo-key:create]] tell me"}}' >"$T/jobs-create.jsonl"
"$SY_BIN" submit --quiet "$T/jobs-create.jsonl" >/dev/null || fail "submit batch-create"
for ((i = 0; i < 300; i++)); do grep -q "create failed" "$T/worker.log" && break; sleep 0.1; done
"$PY" - "$T/worker.log" <<'PY' || fail "the log of a refused batch create: $(grep 'create failed' "$T/worker.log" | cut -c1-600)"
import json, sys
msgs = [json.loads(l)["msg"] for l in open(sys.argv[1]) if "create failed" in l]
assert len(msgs) == 1, msgs
m = msgs[0]
why = m[m.index("create failed (") + len("create failed ("):-1]
assert why.startswith("HTTP 400 invalid_request_error: batch refused for key [redacted]:\nsecond line padding."), m
assert "END-OF-REFUSAL" not in m and len(why) == 200, (len(why), m)
print("ok - log: " + json.dumps(m[:120])[1:-1] + "...")
PY
"$SY_BIN" results --topic switchyard.results.k-batch --count 2 --timeout-ms 60000 >"$T/results-batch.jsonl" ||
    fail "no result of batch-create on k-batch"
for p in $PROVIDERS; do
    kcat -C -b "$BROKERS" -t "switchyard.tier.t-$p.changelog" -e -q -f '%k\t%s\n' \
        >"$T/changelog-$p.bin" 2>>"$T/kcat.log" || fail "cannot read the changelog of t-$p"
done
# The pages, as a scraper would see them after the run.
sleep 1.2 # one publication of the page after the last result
for who in worker scheduler; do
    port=$(grep -o 'http: serving.*port [0-9]*' "$T/$who.log" | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] || fail "no http port in $who.log"
    for page in metrics readyz; do
        curl -s "http://127.0.0.1:$port/$page" >"$T/page-$who-$page.txt" || fail "GET /$page of the $who"
    done
done
grep -q '^switchyard_jobs_total{task="k-openai"' "$T/page-worker-metrics.txt" || fail "the worker's /metrics has no jobs"
grep -q '^switchyard_jobs_routed_total{task="k-openai"' "$T/page-scheduler-metrics.txt" || fail "the scheduler's /metrics has no jobs"
kill -TERM "$WORKER"
wait "$WORKER" 2>/dev/null || true
"$PY" - "$T" $PROVIDERS <<'PY' || fail "key assertions"
import glob, json, os, sys
t, providers = sys.argv[1], sys.argv[2:]
env = {"openai": "KEYS_OPENAI", "hex40": "KEYS_HEX40", "base64": "KEYS_BASE64",
       "azure": "KEYS_AZURE", "anthropic": "KEYS_ANTHROPIC"}
# What the echo did get through, scrubbed: the answers and the 401s.
for p in providers:
    res = {r["value"]["job_id"]: r["value"] for r in map(json.loads, open(f"{t}/results-{p}.jsonl"))}
    ok, bad = res[f"200-{p}"], res[f"401-{p}"]
    assert ok["status"] == "ok" and ok["output"].startswith("ECHO Incorrect API key provided: [redacted]"), ok
    assert bad["status"] == "failed" and bad["error"]["class"] == "auth_error", bad
    assert "[redacted]" in bad["error"]["message"], bad
dlq = [json.loads(l) for l in open(f"{t}/dlq.jsonl")]
assert all("[redacted]" in d["headers"]["switchyard.error.message"] for d in dlq), dlq
# Every file of the run: logs, results, dead letters, changelogs, the store.
files = [f for f in glob.glob(f"{t}/**", recursive=True) if os.path.isfile(f)]
assert any(f.endswith("data.mdb") for f in files), files
assert sum(1 for f in files if "/page-" in f) == 4, files
def search(files):
    found = []
    for p in providers:
        key = os.environ[env[p]].encode()
        pieces = {key[i:i + 8] for i in range(len(key) - 7)}
        pieces |= {key[:6] + b"***", b"***" + key[-4:]}
        for f in files:
            data = open(f, "rb").read()
            found += [(p, f, piece) for piece in pieces if piece in data]
    return found
# The search finds a key where one is: planted in a copy of the worker's log.
planted = f"{t}/planted.txt"
with open(planted, "wb") as out:
    out.write(open(f"{t}/worker.log", "rb").read() + b'{"msg":"Bearer ' + os.environ["KEYS_HEX40"].encode() + b'"}\n')
assert any(p == "hex40" for p, _, _ in search([planted])), "the search misses a planted key"
os.unlink(planted)
found = search(files)
for p, f, piece in found[:20]:
    print(f"key of {p}: {piece!r} in {f}")
assert not found, f"{len(found)} pieces of keys found"
print(f"{len(files)} files searched for 5 keys: none found")
PY
ok "no key, whole or in pieces, in logs, results, dead letters, changelogs, the store or the /metrics and /readyz pages (and the search finds a planted one)"
check_logs
