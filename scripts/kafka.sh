#!/usr/bin/env bash
# A real Apache Kafka (KRaft, no ZooKeeper, no Docker) on 127.0.0.1, for
# trying switchyard on real Kafka and for the realkafka tests.
#
#   scripts/kafka.sh start  [--nodes N] [--dir D] [--port P] [--brokers-file F] [--config K=V]...
#   scripts/kafka.sh stop   [--dir D] [--now]   (--now: SIGKILL, for throwaway folders)
#   scripts/kafka.sh status [--dir D]
#   scripts/kafka.sh kill   NODE [--dir D]     (SIGKILL one node; `start --dir D` brings it back)
#   scripts/kafka.sh leader TOPIC PARTITION [--dir D]   (node id of a partition's leader)
#
# The broker's jars come from Maven Central (scripts/kafka/pom.xml, one
# pinned version) into a cache outside the repository:
# ${SY_KAFKA_CACHE:-~/.cache/switchyard}/kafka-<version>/libs. `start`
# formats the storage of each node under D (default
# ~/.cache/switchyard/run), starts them (each a combined broker+controller
# with its own ports and folder), waits until every node serves, and writes
# the bootstrap list to D/brokers and --brokers-file, as `switchyard broker`
# does. On a folder already formatted, `start` starts the nodes that are not
# running (a restart after `kill` or `stop`), keeping their data.
# Defaults for quick tests: topic auto-creation off (create topics with
# `switchyard topics --create`), no initial rebalance delay, internal topics
# with one partition, heap 512 MB per node (SY_KAFKA_HEAP to change).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pom=$here/kafka/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
cache=${SY_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard}
libs=$cache/kafka-$version/libs
heap=${SY_KAFKA_HEAP:-512m}
start_timeout=${SY_KAFKA_START_TIMEOUT:-180}

die() { echo "kafka.sh: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

need_tools() { # java 17+ and maven; installs the Debian packages when root
    local missing=()
    command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: install Java 17+ and Maven"
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    local jv
    jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    [ "${jv:-0}" -ge 17 ] || die "Kafka $version needs Java 17 or newer (found ${jv:-none})"
}

resolve_jars() { # once per version; a half-done download is never used
    [ -f "$libs/.complete" ] && return 0
    need_tools
    say "resolving Kafka $version with Maven into $libs"
    rm -rf "$libs.tmp"
    mkdir -p "$cache"
    mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" >"$cache/mvn.log" 2>&1 ||
        { cat "$cache/mvn.log" >&2; die "Maven could not resolve org.apache.kafka:kafka_2.13:$version (see above)"; }
    ls "$libs.tmp"/kafka_2.13-"$version".jar >/dev/null || die "kafka_2.13-$version.jar missing after Maven"
    rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$libs/.complete"
}

free_port() { # a port the kernel just gave out (closed again at once)
    "${SY_PYTHON:-/usr/bin/python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cluster_id() { # 16 random bytes, base64url without padding, as Kafka's Uuid; like
    # Kafka's Uuid.randomUuid, never one that starts with '-' (the storage tool's
    # argument parser takes "-t -xyz" for a missing value: 1 run in 64 failed so)
    local id
    while :; do
        id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-22)
        case $id in -*) ;; *) echo "$id"; return ;; esac
    done
}

java_run() { # class args...  (log4j config and heap of this folder; run as `java_run ... &`:
    # exec, so that $! is the JVM itself, which stop and kill signal)
    exec java -Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -Dkafka.logs.dir="$dir" -cp "$libs/*" "$@"
}

node_pid() { # node -> pid if running
    local f=$dir/node-$1/pid pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null && { echo "$pid"; return 0; }
    return 1
}

nodes_of() { ls -d "$dir"/node-* 2>/dev/null | sed 's:.*/node-::' | sort -n; }

write_log4j() {
    cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.node.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

write_configs() { # nodes base_port extra_configs...
    local n=$1 port=$2; shift 2
    local voters="" i bport cport
    for ((i = 1; i <= n; i++)); do
        cport=$((port + 2 * (i - 1) + 1))
        voters+="${voters:+,}$i@127.0.0.1:$cport"
    done
    local rf=$((n < 3 ? n : 3)) isr=$((n < 3 ? 1 : 2))
    for ((i = 1; i <= n; i++)); do
        bport=$((port + 2 * (i - 1))); cport=$((bport + 1))
        mkdir -p "$dir/node-$i/data"
        {
            echo "process.roles=broker,controller"
            echo "node.id=$i"
            echo "listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport"
            echo "advertised.listeners=PLAINTEXT://127.0.0.1:$bport"
            echo "controller.listener.names=CONTROLLER"
            echo "inter.broker.listener.name=PLAINTEXT"
            echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            echo "controller.quorum.voters=$voters"
            echo "log.dirs=$dir/node-$i/data"
            echo "num.partitions=1"
            echo "auto.create.topics.enable=false"
            echo "offsets.topic.num.partitions=1"
            echo "offsets.topic.replication.factor=$rf"
            echo "transaction.state.log.num.partitions=1"
            echo "transaction.state.log.replication.factor=$rf"
            echo "transaction.state.log.min.isr=$isr"
            echo "group.initial.rebalance.delay.ms=0"
            echo "num.network.threads=2"
            echo "num.io.threads=2"
            echo "num.recovery.threads.per.data.dir=1"
            echo "log.cleaner.threads=1"
            echo "log.cleaner.dedupe.buffer.size=16777216"
            for kv in "$@"; do echo "$kv"; done # later keys win
        } >"$dir/node-$i/server.properties"
        echo "127.0.0.1:$bport" >"$dir/node-$i/bootstrap"
    done
}

start_node() { # node
    local i=$1
    local nd=$dir/node-$i
    node_pid "$i" >/dev/null && return 0
    # wait_node looks for this start's "Kafka Server started" line
    if [ -f "$nd/server.log" ]; then mv "$nd/server.log" "$nd/server.log.prev"; fi
    java_run -Dkafka.node.log="$nd/server.log" kafka.Kafka "$nd/server.properties" \
        >"$nd/stdout.log" 2>&1 </dev/null &
    echo $! >"$nd/pid"
}

wait_node() { # node deadline_epoch
    local i=$1 deadline=$2 nd=$dir/node-$1
    while :; do
        node_pid "$i" >/dev/null || { tail -n 30 "$nd/stdout.log" "$nd/server.log" >&2 2>/dev/null; die "node $i exited during start"; }
        # KafkaRaftServer logs this once the broker serves requests
        grep -q 'Kafka Server started' "$nd/server.log" 2>/dev/null && return 0
        [ "$(date +%s)" -lt "$deadline" ] || die "node $i did not start within ${start_timeout}s (see $nd/server.log)"
        sleep 0.2
    done
}

write_bootstrap() {
    local list="" i
    for i in $(nodes_of); do list+="${list:+,}$(cat "$dir/node-$i/bootstrap")"; done
    printf '%s\n' "$list" >"$dir/brokers.tmp" && mv "$dir/brokers.tmp" "$dir/brokers"
    if [ -n "$brokers_file" ]; then
        printf '%s\n' "$list" >"$brokers_file.tmp.$$" && mv "$brokers_file.tmp.$$" "$brokers_file"
    fi
    echo "bootstrap=$list"
}

cmd_start() {
    resolve_jars
    need_tools
    mkdir -p "$dir"
    local t0 i
    t0=$(date +%s.%N)
    if [ ! -f "$dir/formatted" ]; then
        [ -z "$port" ] && port=$(free_port_block "$nodes")
        write_log4j
        write_configs "$nodes" "$port" "${configs[@]+"${configs[@]}"}"
        local id
        id=$(cluster_id)
        for i in $(nodes_of); do # each node: same cluster id; formats run in parallel
            java_run -Dkafka.node.log="$dir/node-$i/format.log" kafka.tools.StorageTool format \
                -t "$id" -c "$dir/node-$i/server.properties" >"$dir/node-$i/format.log" 2>&1 &
        done
        local bad=0
        for i in $(nodes_of); do wait -n || bad=1; done
        [ $bad = 0 ] || { cat "$dir"/node-*/format.log >&2; die "storage format failed"; }
        echo "$id" >"$dir/formatted"
    fi
    for i in $(nodes_of); do start_node "$i"; done
    local deadline=$(($(date +%s) + start_timeout))
    for i in $(nodes_of); do wait_node "$i" "$deadline"; done
    write_bootstrap
    say "Kafka $version ready ($(nodes_of | wc -l) node(s), $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')s)"
}

free_port_block() { # nodes -> a base port with 2*nodes free ports after it
    local n=$1 tries base ok p
    for ((tries = 0; tries < 50; tries++)); do
        base=$(free_port)
        ok=1
        for ((p = base; p < base + 2 * n; p++)); do
            "${SY_PYTHON:-/usr/bin/python3}" -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',int(sys.argv[1])))" "$p" 2>/dev/null || { ok=0; break; }
        done
        [ $ok = 1 ] && [ $((base + 2 * n)) -lt 65535 ] && { echo "$base"; return 0; }
    done
    die "no block of $((2 * n)) free ports found"
}

cmd_stop() { # --now: SIGKILL at once (throwaway test folders)
    local i pid pids=() sig=TERM
    [ "$now" = 1 ] && sig=KILL
    for i in $(nodes_of); do
        pid=$(node_pid "$i") && { kill -$sig "$pid" 2>/dev/null || true; pids+=("$pid"); }
    done
    local deadline=$(($(date +%s) + 60))
    for pid in "${pids[@]+"${pids[@]}"}"; do
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$(date +%s)" -ge "$deadline" ]; then
                say "node pid $pid did not stop within 60s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    done
    rm -f "$dir/brokers"
}

cmd_status() {
    [ -d "$dir" ] && [ -f "$dir/formatted" ] || { echo "no Kafka in $dir"; return 3; }
    local i up=0 all=0
    for i in $(nodes_of); do
        all=$((all + 1))
        if pid=$(node_pid "$i"); then
            up=$((up + 1)); echo "node $i: running (pid $pid) at $(cat "$dir/node-$i/bootstrap")"
        else
            echo "node $i: stopped"
        fi
    done
    [ -f "$dir/brokers" ] && echo "bootstrap=$(cat "$dir/brokers")"
    [ "$up" = "$all" ] || return 3
}

cmd_kill() {
    local pid
    pid=$(node_pid "$1") || die "node $1 is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

cmd_leader() { # topic partition: from kcat's metadata
    command -v kcat >/dev/null || die "kcat is needed"
    kcat -b "$(cat "$dir/brokers")" -L -t "$1" -J 2>/dev/null |
        "${SY_PYTHON:-/usr/bin/python3}" -c '
import json, sys
md = json.load(sys.stdin)
p = int(sys.argv[1])
for t in md["topics"]:
    for q in t["partitions"]:
        if q["partition"] == p: print(q["leader"]); sys.exit(0)
sys.exit(1)' "$2"
}

[ $# -ge 1 ] || die "usage: kafka.sh start|stop|status|kill|leader [--nodes N] [--dir D] [--port P] [--brokers-file F] [--config K=V]"
cmd=$1; shift
case $cmd in -h|--help) set -- --help ;; esac
nodes=1 now=0 dir=${SY_KAFKA_DIR:-$cache/run} port="" brokers_file="" configs=() args=()
while [ $# -gt 0 ]; do
    case $1 in
        --nodes) nodes=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --brokers-file) brokers_file=$2; shift 2 ;;
        --config) configs+=("$2"); shift 2 ;;
        --now) now=1; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
case $nodes in 1|3) ;; *) die "--nodes must be 1 or 3" ;; esac
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill) [ ${#args[@]} = 1 ] || die "kill NODE"; cmd_kill "${args[0]}" ;;
    leader) [ ${#args[@]} = 2 ] || die "leader TOPIC PARTITION"; cmd_leader "${args[@]}" ;;
    resolve) resolve_jars ;;
    *) die "unknown command $cmd" ;;
esac
