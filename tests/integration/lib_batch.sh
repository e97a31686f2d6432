# Shared end of the batch tiers' crash tests (sourced after lib.sh by
# batch_crash.sh and batch_takeover.sh; not run by ctest): the last worker
# is stopped and must have consumed nothing (the batches owned their jobs,
# whose offsets were committed); then every job has exactly one result and
# the fake provider saw each custom_id in exactly one created batch
# (batch_once.py).
batch_stop_and_check() { # worker-name pid openai-prefix why [lines of other clients' batches]
    local name=$1 pid=$2 prefix=$3 why=$4 other=${5:-0}
    sleep 1 # a second answer would come now
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    grep -q '"held 0, in flight 0, consumed 0,' "$T/$name.log" ||
        fail "$name consumed jobs again: $(grep -o 'consumed [0-9]*' "$T/$name.log" | tail -1)"
    "$SY_BIN" results --topic switchyard.results.bulk --timeout-ms 3000 >"$T/results.jsonl" || true
    "$SY_BIN" results --topic switchyard.results.claude --timeout-ms 2000 >"$T/claude-results.jsonl" || true
    curl -sf "${FAKE_URL%/v1}/batch-stats" >"$T/batch-stats.json" || fail "no /batch-stats"
    "$PY" tests/integration/batch_once.py "$T" "$prefix" "$N" a "$NA" "$other" || fail "$why"
}
