# Shared helpers of the benches (sourced). Each bench starts real processes
# on 127.0.0.1 -- fake provider, embedded broker, scheduler, worker -- in a
# temporary directory $T, and stops them newest first on exit.
BUILD=${BUILD:-build}
PY=${SY_PYTHON:-/usr/bin/python3} # Debian's python (python3-yaml), not whatever is on PATH
SY=$BUILD/switchyard; FAKE=$BUILD/fake-provider
T=$(mktemp -d "/tmp/switchyard-${BENCH:-bench}.XXXXXX")
PIDS=()

# Stop the processes newest first (a worker before the broker it needs to
# shut down cleanly), each with 10 s to exit before it is killed.
stop_all() {
    local i p
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        p=${PIDS[i]}
        kill "$p" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}
trap 'stop_all; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }

cpu_us() { # pid -> user+system CPU in microseconds
    awk -v tck="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000000 / tck)}' "/proc/$1/stat"
}
sys_us() { # pid -> system (kernel) CPU in microseconds
    awk -v tck="$(getconf CLK_TCK)" '{print int($15 * 1000000 / tck)}' "/proc/$1/stat"
}

# start_fake DIR [fake-provider options...]: sets OPENAI_BASE_URL, FAKE_PID
start_fake() {
    local d=$1; shift
    $FAKE --port 0 --port-file "$d/port" "$@" >"$d/fake.log" 2>&1 &
    PIDS+=($!); FAKE_PID=$!
    wait_file "$d/port"
    export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$d/port")/v1"
}

# bench_pipeline DIR: sets PIPELINE ($BENCH_PIPELINE, default bench/bench.yaml); with FALLBACK=1 first starts a second
# fake provider that answers every call with 500 (FAILING_BASE_URL,
# FAILING_PID) for bench/fallback.yaml, whose jobs all fall back to it from
# there. Call before start_fake.
bench_pipeline() {
    PIPELINE=${BENCH_PIPELINE:-bench/bench.yaml}
    [ "${FALLBACK:-0}" = 1 ] || return 0
    mkdir -p "$1/failing"
    start_fake "$1/failing" --error-rate 1 --rpm 100000000 --tpm 100000000000
    export FAILING_BASE_URL=$OPENAI_BASE_URL; FAILING_PID=$FAKE_PID
    PIPELINE=bench/fallback.yaml
}

# start_broker DIR PIPELINE PARTITIONS: sets SWITCHYARD_BROKERS, BROKER_PID.
# SY_KAFKA=real: a real Apache Kafka node (scripts/kafka.sh, in DIR/kafka,
# stopped last) with the pipeline's topics (switchyard topics --create).
start_broker() {
    if [ "${SY_KAFKA:-embedded}" = real ]; then
        scripts/kafka.sh start --dir "$1/kafka" --brokers-file "$1/brokers" >"$1/kafka-start.log" 2>&1 \
            || { cat "$1/kafka-start.log" >&2; exit 1; }
        BROKER_PID=$(cat "$1/kafka/node-1/pid"); PIDS+=("$BROKER_PID")
        export SWITCHYARD_BROKERS; SWITCHYARD_BROKERS=$(cat "$1/brokers")
        $SY topics -p "$2" --create --partitions "$3" >"$1/topics.log" 2>&1 || { cat "$1/topics.log" >&2; exit 1; }
        return
    fi
    $SY broker -p "$2" --partitions "$3" --brokers-file "$1/brokers" >"$1/broker.log" 2>&1 &
    PIDS+=($!); BROKER_PID=$!
    wait_file "$1/brokers"
    export SWITCHYARD_BROKERS; SWITCHYARD_BROKERS=$(cat "$1/brokers")
}

# make_jobs N PREFIX TASK > file.jsonl: N classification-sized jobs
make_jobs() {
    "$PY" -c "
import json, sys
n, prefix, task = int(sys.argv[1]), sys.argv[2], sys.argv[3]
w = sys.stdout.write
for i in range(n):
    w(json.dumps({'id': '%s-%d' % (prefix, i), 'task': task, 'vars': {'n': i, 'text': 'the printer on floor %d jams every morning' % (i % 97)}, 'metadata': {'team': 'bench'}}) + '\n')
" "$@"
}

# The embedded broker keeps about 5 MB per partition and drops what a
# consumer has not read by then; its only sign is this log line.
check_broker_kept_up() {
    if grep -qiE 'offset out of range|offset reset' "$T"/*.log "$T"/*/*.log 2>/dev/null; then
        echo "WARNING: the embedded broker dropped data (a consumer fell behind its ring)" >&2
        return 1
    fi
}
