# Shared helpers for the integration tests (sourced, not run by ctest:
# ctest runs only the *.sh files that do not start with "lib").
# Starts real processes on 127.0.0.1: the embedded broker, the fake
# provider, scheduler and workers; everything is killed on exit.
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
SY_BIN=${SY_BIN:-build/switchyard}
SY_FAKE=${SY_FAKE:-build/fake-provider}
T=$(mktemp -d /tmp/switchyard-it.XXXXXX)
PIDS=()

# Newest first (workers before the broker they commit to), each given 60 s
# (a worker's grace, flush and last commit) to exit before it is killed: a
# worker stopping after its broker was gone could block in its last offset
# commit; that is bounded now, and a hang must fail the test, not time it out.
cleanup() {
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: process $pid did not exit within 60 s of SIGTERM" >&2
            kill -9 "$pid" 2>/dev/null || true
            CLEANUP_FAILED=1
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
    [ -z "${CLEANUP_FAILED:-}" ] || exit 1
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 20 "$f"; }; done >&2; exit 1; }
ok() { echo "ok - $*"; }

wait_file() { # path timeout_s
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
    fail "timed out waiting for $1"
}

start_fake() { # extra args...
    "$SY_FAKE" --port 0 --port-file "$T/fake.port" --call-log "$T/calls.jsonl" "$@" \
        >"$T/fake.log" 2>&1 &
    PIDS+=($!)
    wait_file "$T/fake.port" 10
    FAKE_URL="http://127.0.0.1:$(cat "$T/fake.port")/v1"
    export OPENAI_BASE_URL=$FAKE_URL ANTHROPIC_BASE_URL=$FAKE_URL
    export OPENAI_API_KEY=sk-test-openai-SECRET123 ANTHROPIC_API_KEY=sk-ant-test-SECRET456
}

start_broker() { # pipeline files... (env BROKER_PARTITIONS: per topic, default 6)
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    "$SY_BIN" broker "${args[@]}" --partitions "${BROKER_PARTITIONS:-6}" --brokers-file "$T/brokers" \
        >"$T/broker.log" 2>&1 &
    PIDS+=($!)
    wait_file "$T/brokers" 10
    BROKERS=$(cat "$T/brokers")
    export SWITCHYARD_BROKERS=$BROKERS
}

# echo_jobs N PREFIX > file.jsonl: N jobs of the e2e pipeline's echo task,
# PREFIX0..PREFIX(N-1), word wI and number I (exactly_once.py checks the echo).
echo_jobs() {
    "$PY" -c "
import json, sys
n, prefix = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({'id': '%s%d' % (prefix, i), 'task': 'echo', 'vars': {'word': 'w%d' % i, 'n': i}}))
" "$1" "$2"
}

start_scheduler() { # pipeline files...
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    "$SY_BIN" scheduler "${args[@]}" >"$T/scheduler.log" 2>&1 &
    PIDS+=($!)
}

start_worker() { # name, then worker args
    local name=$1; shift
    "$SY_BIN" worker "$@" >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

# No sanitizer report, no lost data, no secret in any log.
check_logs() {
    if grep -l -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T"/*.log; then
        fail "sanitizer report in the logs above"
    fi
    if grep -l -i -E 'offset out of range|offset reset' "$T"/*.log; then
        fail "the embedded broker dropped data (offset reset)"
    fi
    if grep -l -E 'SECRET123|SECRET456' "$T"/* 2>/dev/null; then
        fail "an API key appears in the files above"
    fi
    ok "logs clean: no sanitizer report, no offset reset, no API key"
}
