# Shared helpers for the integration tests (sourced, not run by ctest:
# ctest runs only the *.sh files that do not start with "lib").
# Starts real processes on 127.0.0.1: the embedded broker (or, with
# SY_KAFKA=real, a fresh real Kafka node of scripts/kafka.sh in the test's
# own folder, with the topics made by `switchyard topics --create`), the fake
# provider, scheduler and workers; everything is killed on exit.
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
SY_BIN=${SY_BIN:-build/switchyard}
SY_FAKE=${SY_FAKE:-build/fake-provider}
T=$(mktemp -d /tmp/switchyard-it.XXXXXX)
PIDS=()

SY_SRC=${SY_SRC:-.}
KAFKA_SH="$SY_SRC/scripts/kafka.sh"

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
    if [ -d "$T/kafka" ]; then "$KAFKA_SH" stop --now --dir "$T/kafka" >/dev/null 2>&1 || true; fi
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

start_broker() { # pipeline files... (env BROKER_PARTITIONS: per topic, default 6; BROKER_ARGS: more options)
    if [ "${SY_KAFKA:-embedded}" = real ]; then start_real_kafka "$@"; return; fi
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    "$SY_BIN" broker "${args[@]}" --partitions "${BROKER_PARTITIONS:-6}" --brokers-file "$T/brokers" ${BROKER_ARGS:-} \
        >"$T/broker.log" 2>&1 &
    PIDS+=($!)
    BROKER_PID=$!
    wait_file "$T/brokers" 10
    BROKERS=$(cat "$T/brokers")
    export SWITCHYARD_BROKERS=$BROKERS
}

# For the tests that kill a group member (crash, scheduler_crash, ...), a
# client option given to the workers and schedulers they start: a member
# killed with SIGKILL leaves its group at its session timeout, and its
# partitions move only then (on the embedded broker a join also waits the
# session timeout less 1 s for the members to rejoin); 3 s instead of the
# product's 6 s shortens the wait each kill costs. start_real_kafka's nodes
# allow it (group.min.session.timeout.ms). Give it to every member of the
# group or to none: on the embedded broker, a member joining with 3 s a group
# whose earlier member had 6 s got no partitions (shutdown.sh, tried).
KILL_GROUP_OPTS=(-X session.timeout.ms=3000)

# A real Kafka for this test alone (scripts/kafka.sh, own folder and ports;
# env KAFKA_NODES 1 or 3, KAFKA_CONFIG: broker settings "k=v k=v"), then
# its topics. BROKER_PID: the (first) node's JVM.
is_real_kafka() { [ "${SY_KAFKA:-embedded}" = real ]; }
start_real_kafka() { # pipeline files...
    local args=() kv cfg=()
    for p in "$@"; do args+=(-p "$p"); done
    cfg+=(--config group.min.session.timeout.ms=3000) # KILL_GROUP_OPTS
    for kv in ${KAFKA_CONFIG:-}; do cfg+=(--config "$kv"); done
    "$KAFKA_SH" start --nodes "${KAFKA_NODES:-1}" --dir "$T/kafka" --brokers-file "$T/brokers" \
        "${cfg[@]+"${cfg[@]}"}" >"$T/kafka-start.out" 2>&1 || { cat "$T/kafka-start.out" >&2; fail "real Kafka did not start"; }
    BROKERS=$(cat "$T/brokers")
    export SWITCHYARD_BROKERS=$BROKERS
    BROKER_PID=$(cat "$T/kafka/node-1/pid")
    "$SY_BIN" topics "${args[@]}" --create --partitions "${BROKER_PARTITIONS:-6}" ${TOPICS_ARGS:-} \
        >"$T/topics.out" 2>"$T/topics.err" || { cat "$T/topics.out" "$T/topics.err" >&2; fail "switchyard topics --create"; }
    ok "real Kafka: $(grep -o 'Kafka [0-9.]* ready.*' "$T/kafka-start.out")"
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

# word_jobs N PREFIX TASK > file.jsonl: N jobs of TASK, PREFIX-0..PREFIX-(N-1),
# each with the variable word wI (the batch tests' pipelines).
word_jobs() {
    "$PY" -c "
import json, sys
n, prefix, task = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print(json.dumps({'id': '%s-%d' % (prefix, i), 'task': task, 'vars': {'word': 'w%d' % i}}))
" "$1" "$2" "$3"
}

# partition_jobs N FIRST PART > file.jsonl: N jobs of the batch pipeline's
# bulk task, m-FIRST..m-(FIRST+N-1), whose keys (kPART-I, also the word) go
# to partition PART of a 2-partition topic: the producer's default
# partitioner is crc32(key) % 2.
partition_jobs() {
    "$PY" -c "
import json, sys, zlib
n, first, part = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
i = k = 0
while k < n:
    key = 'k%d-%d' % (part, i)
    i += 1
    if zlib.crc32(key.encode()) % 2 == part:
        print(json.dumps({'id': 'm-%d' % (first + k), 'idempotency_key': key, 'task': 'bulk', 'vars': {'word': key}}))
        k += 1
" "$1" "$2" "$3"
}

# bulk_batches_of N: the batch pipeline with bulk-tier's batches of N jobs
# at most (not 100), written to $T/pipeline.yaml; P names it.
bulk_batches_of() {
    P="$T/pipeline.yaml"
    sed -e "/^  bulk-tier:/,/retry:/s/batch: {max_jobs: 100, max_wait_ms: 300,/batch: {max_jobs: $1, max_wait_ms: 300,/" \
        tests/pipelines/batch.yaml >"$P"
    grep -q "max_jobs: $1, max_wait_ms: 300" "$P" || fail "pipeline not made"
}

# crashed NAME PID MARK [TENTHS=300]: worker NAME (PID) killed itself at a
# test crash point: it is gone within TENTHS tenths of a second and its log
# holds MARK (the hook's line), else it died elsewhere.
crashed() {
    for _ in $(seq "${4:-300}"); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$2" 2>/dev/null || fail "$1 did not reach its crash point"
    wait "$2" 2>/dev/null || true
    grep -q -- "$3" "$T/$1.log" || fail "$1 died elsewhere"
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

# After a broker failure (tests/realkafka): the same scheduler and worker
# finish the run; every echo job PREFIX0..N-1 has exactly one result and,
# since no worker died, no call was made twice; both then stop cleanly.
check_rode_through() { # N PREFIX scheduler_pid worker_pid
    local n=$1 prefix=$2 sched=$3 worker=$4
    "$SY_BIN" results --topic switchyard.results.echo --count "$n" --timeout-ms 400000 >"$T/results.jsonl" \
        || fail "only $(wc -l <"$T/results.jsonl") of $n results"
    sleep 3
    "$SY_BIN" results --topic switchyard.results.echo --timeout-ms 5000 >"$T/results.jsonl" || true
    kill -0 "$sched" && kill -0 "$worker" || fail "the scheduler or the worker died with the broker"
    : >"$T/maybe-twice.txt"
    "${SY_PYTHON:-/usr/bin/python3}" tests/integration/exactly_once.py "$T/results.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$n" "$prefix" \
        || fail "exactly-once assertions"
    ok "the same scheduler and worker finished: exactly one result per job, none lost, no call twice"
    kill -TERM "$worker" "$sched"
    wait "$worker" || fail "the worker did not stop cleanly"
    wait "$sched" || fail "the scheduler did not stop cleanly"
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

# The port a worker's or scheduler's --http line names in its log.
http_port_of() { # log file
    local i
    for ((i = 0; i < 150; i++)); do
        grep -q 'http: serving' "$1" && { grep -o 'port [0-9]*' "$1" | head -1 | cut -d' ' -f2; return; }
        sleep 0.1
    done
    fail "no http line in $1"
}

# Wait (up to 10 s) until the worker at URL counts at least MIN results on
# its /metrics (switchyard_jobs_total); prints the count it saw last.
wait_metrics_results() { # url min
    local i n=0
    for ((i = 0; i < 100; i++)); do
        n=$(curl -sf "$1/metrics" | awk '/^switchyard_jobs_total\{/ {s += $2} END {print s + 0}')
        [ "$n" -ge "$2" ] && break
        sleep 0.1
    done
    echo "$n"
}
