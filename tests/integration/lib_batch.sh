# Shared parts of the batch tiers' crash tests (sourced after lib.sh; not
# run by ctest).

# The start of batch_publish_crash.sh and batch_publish_hold.sh: worker-a
# is killed (SWITCHYARD_BATCH_CRASH_AT=before_result) once its batch has
# answered the N jobs and their PUBLISHING records are durable, before
# the first result is produced. Sets P (the pipeline) and args (the
# workers' arguments: the same --state-dir for all).
batch_killed_publishing() { # job id prefix
    P=tests/pipelines/batch.yaml
    start_fake --batch-ms 500
    start_broker "$P"
    start_scheduler "$P"
    word_jobs "$N" "$1" bulk >"$T/jobs.jsonl"
    "$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
    args=(-p "$P" --max-inflight 64 --state-dir "$T/state" -X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
    SWITCHYARD_BATCH_CRASH_AT=before_result start_worker worker-a "${args[@]}"
    crashed worker-a "$LAST_PID" SWITCHYARD_BATCH_CRASH_AT=before_result
    grep -q "it owns its $N job(s)" "$T/worker-a.log" || fail "worker-a's batch did not own its jobs"
    ok "A: killed after its batch's results were staged, before the first was produced"
}

# The end of batch_crash.sh, batch_takeover.sh and the others: the last worker
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
