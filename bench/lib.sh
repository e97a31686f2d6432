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

# TRANSPORT: h1 (plain HTTP/1.1, the default), tls (HTTPS, HTTP/1.1 only)
# or h2 (HTTPS, HTTP/2 by ALPN). Over TLS the fake provider serves a
# certificate made here for the run, which the pipeline (bench_pipeline)
# and http-floor (SY_CA_FILE; SY_HTTP1=1 for tls) are told to trust.
TRANSPORT=${TRANSPORT:-h1}
case $TRANSPORT in h1 | tls | h2) ;; *) echo "TRANSPORT must be h1, tls or h2" >&2; exit 2 ;; esac
if [ "$TRANSPORT" != h1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
    export SY_CA_FILE=$T/cert.pem SY_HTTP1=$([ "$TRANSPORT" = tls ] && echo 1 || echo 0)
fi
tls_fake_args() {
    [ "$TRANSPORT" = h1 ] || echo --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --h2 "$([ "$TRANSPORT" = h2 ] && echo on || echo off)"
}

# start_fake DIR [fake-provider options...]: sets OPENAI_BASE_URL, FAKE_PID
start_fake() {
    local d=$1 tls; shift
    tls=$(tls_fake_args)
    $FAKE --port 0 --port-file "$d/port" $tls "$@" >"$d/fake.log" 2>&1 &
    PIDS+=($!); FAKE_PID=$!
    wait_file "$d/port"
    export OPENAI_BASE_URL="$([ "$TRANSPORT" = h1 ] && echo http || echo https)://127.0.0.1:$(cat "$d/port")/v1"
}

# The fake's counters (GET /stats, which is one more connection), e.g.
# fake_stats tls_connections h2_streams -> "tls_connections=N h2_streams=N".
fake_stats() {
    curl -sS ${SY_CA_FILE:+--cacert "$SY_CA_FILE"} --http1.1 "${OPENAI_BASE_URL%/v1}/stats" |
        "$PY" -c "import json, sys; s = json.load(sys.stdin); print(' '.join('%s=%s' % (k, s[k]) for k in sys.argv[1:]))" "$@"
}

# bench_pipeline DIR: sets PIPELINE ($BENCH_PIPELINE, default bench/bench.yaml); with FALLBACK=1 first starts a second
# fake provider that answers every call with 500 (FAILING_BASE_URL,
# FAILING_PID) for bench/fallback.yaml, whose jobs all fall back to it from
# there. Call before start_fake.
bench_pipeline() {
    PIPELINE=${BENCH_PIPELINE:-bench/bench.yaml}
    [ "${FALLBACK:-0}" = 1 ] || { transport_pipeline; return 0; }
    mkdir -p "$1/failing"
    start_fake "$1/failing" --error-rate 1 --rpm 100000000 --tpm 100000000000
    export FAILING_BASE_URL=$OPENAI_BASE_URL; FAILING_PID=$FAKE_PID
    PIPELINE=bench/fallback.yaml
    transport_pipeline
}

# Over TLS: a copy of $PIPELINE whose providers trust the run's certificate
# (and, for TRANSPORT=tls, keep to HTTP/1.1).
transport_pipeline() {
    [ "$TRANSPORT" != h1 ] || return 0
    local http=2
    [ "$TRANSPORT" = tls ] && http=1.1
    sed "s|^\( *\)api_key_env: \(.*\)|&\n\1ca_file: $T/cert.pem\n\1http: \"$http\"|" "$PIPELINE" >"$T/pipeline.yaml"
    PIPELINE=$T/pipeline.yaml
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
