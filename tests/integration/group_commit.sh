#!/usr/bin/env bash
# The group commit's interval (--commit-interval-ms, docs/durability.md
# "When the group commit runs"): with 250 ms, 1,500 jobs at 60 calls in
# flight against a 5 ms provider are all answered exactly once, and the
# store commits at most once per 250 ms of the worker's life (plus the
# start-up and stop commits). With 0 every loop turn commits: the same
# bound fails there (10 calls in flight: a few jobs a turn), so it is
# not void.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=1500
start_fake --latency-ms 5
start_broker "$P"
start_scheduler "$P"

run_with() { # interval in-flight name prefix jobs [results so far]: the jobs through a worker, then its stop; sets commits, secs
    local iv=$1 inflight=$2 name=$3 prefix=$4 n=$5 t0
    echo_jobs "$n" "$prefix" >"$T/$name-jobs.jsonl"
    "$SY_BIN" submit --quiet "$T/$name-jobs.jsonl" >/dev/null || fail "submit"
    t0=$(date +%s%N)
    start_worker "$name" -p "$P" --max-inflight "$inflight" --commit-interval-ms "$iv" --state-dir "$T/state"
    "$SY_BIN" results --topic switchyard.results.echo --count $(( n + ${6:-0} )) --timeout-ms 120000 >"$T/$name-results.jsonl" \
        || fail "$name: only $(wc -l <"$T/$name-results.jsonl") results"
    kill -TERM "$LAST_PID"; wait "$LAST_PID" || fail "$name: the worker did not stop cleanly"
    secs=$(( ($(date +%s%N) - t0) / 1000000000 + 1 ))
    commits=$(grep -o 'group commits [0-9]*' "$T/$name.log" | tail -1 | awk '{print $3}')
    [ -n "$commits" ] || fail "$name: no group commit count in its statistics line"
}

run_with 250 60 slow s "$N"
bound=$(( secs * 4 + 10 ))
[ "$commits" -le "$bound" ] || fail "--commit-interval-ms 250: $commits group commits in $secs s (at most $bound)"
: >"$T/maybe-twice.txt"
"$PY" tests/integration/exactly_once.py "$T/slow-results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" s \
    || fail "exactly-once assertions"
ok "--commit-interval-ms 250: $N jobs answered once each, $commits group commits in $secs s (bound $bound)"

# The next jobs, the same group and store: the output topic holds both runs.
# A third as many: at a few jobs a turn, they still make several times the
# bound's commits.
run_with 0 10 every e $((N / 3)) "$N"
[ "$commits" -gt "$(( secs * 4 + 10 ))" ] || fail "--commit-interval-ms 0: only $commits group commits in $secs s: the bound above tells nothing"
ok "--commit-interval-ms 0: $commits group commits in $secs s"
check_logs
