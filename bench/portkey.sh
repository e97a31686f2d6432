#!/usr/bin/env bash
# The Portkey open-source gateway in front of the same fake provider,
# driven by wrk with the same number of calls in flight: requests/s and
# the gateway's CPU microseconds per request (all its processes, from
# /proc/PID/stat), next to the fake provider's.
#
#   bench/portkey.sh [SECONDS=20] [INFLIGHT=1000] [LATENCY_MS=200]
#
# The gateway (npm @portkey-ai/gateway, pinned) is installed once into
# ${PORTKEY_DIR:-/tmp/switchyard-portkey} and run with node on 127.0.0.1;
# each request is POST /v1/chat/completions with x-portkey-provider: openai
# and x-portkey-custom-host pointing at the fake provider. The first request
# is checked by hand: it must come back 200 with the fake's answer.
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
SECS=${1:-20}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
VERSION=1.15.2
DIR=${PORTKEY_DIR:-/tmp/switchyard-portkey}
FAKE=${BUILD:-build}/fake-provider
T=$(mktemp -d /tmp/switchyard-portkey-run.XXXXXX)
PIDS=()
stop() { local i; for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap stop EXIT

if [ ! -f "$DIR/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
    mkdir -p "$DIR"
    (cd "$DIR" && npm install --no-audit --no-fund "@portkey-ai/gateway@$VERSION" >"$DIR/npm.log" 2>&1) \
        || { tail "$DIR/npm.log"; echo "npm install failed" >&2; exit 1; }
fi
cpu_tree_us() { # pid -> user+system CPU of the process and its descendants, microseconds
    local pids="$1" all="" p
    while [ -n "$pids" ]; do
        all="$all $pids"; local next=""
        for p in $pids; do next="$next $(cat /proc/"$p"/task/*/children 2>/dev/null)"; done
        pids=$(echo $next)
    done
    for p in $all; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk -v tck="$(getconf CLK_TCK)" '{s += $14 + $15} END {print int(s * 1000000 / tck)}'
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

"$FAKE" --port 0 --port-file "$T/fake.port" --latency-ms "$LATENCY" --rpm 100000000 --tpm 100000000000 \
    >"$T/fake.log" 2>&1 & PIDS+=($!); FAKE_PID=$!
for _ in $(seq 100); do [ -s "$T/fake.port" ] && break; sleep 0.1; done
FAKE_URL="http://127.0.0.1:$(cat "$T/fake.port")/v1"
GW_PORT=$(free_port)
NODE_ENV=production node "$DIR/node_modules/@portkey-ai/gateway/build/start-server.js" \
    --port="$GW_PORT" --headless >"$T/gateway.log" 2>&1 & PIDS+=($!); GW_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/" && break; sleep 0.1; done

BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Classify item 1: the printer on floor 3 jams every morning"}],"max_tokens":32}'
answer=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$GW_PORT/v1/chat/completions" \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-key' \
    -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: $FAKE_URL" -d "$BODY")
if [ "$(tail -n1 <<<"$answer")" != 200 ] || ! grep -q 'ECHO Classify item 1' <<<"$answer"; then
    echo "the gateway did not relay the fake provider's answer:" >&2; echo "$answer" >&2; tail "$T/gateway.log" >&2; exit 1
fi
cat >"$T/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
wrk.headers["x-portkey-provider"] = "openai"
wrk.headers["x-portkey-custom-host"] = "$FAKE_URL"
EOF
g0=$(cpu_tree_us "$GW_PID"); f0=$(cpu_tree_us "$FAKE_PID")
wrk -t2 -c"$INFLIGHT" -d"${SECS}s" --timeout 30s -s "$T/post.lua" "http://127.0.0.1:$GW_PORT/v1/chat/completions" >"$T/wrk.txt" 2>&1
g=$(( $(cpu_tree_us "$GW_PID") - g0 )); f=$(( $(cpu_tree_us "$FAKE_PID") - f0 ))
"$PY" - "$T/wrk.txt" "$INFLIGHT" "$LATENCY" "$g" "$f" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
inflight, lat, g, f = map(int, sys.argv[2:])
total = int(re.search(r"(\d+) requests in", text)[1])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])
non2xx = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
errors = re.search(r"Socket errors:.*", text)
print(f"portkey gateway: in-flight {inflight}  provider latency {lat} ms")
print(f"portkey {rps:,.0f} requests/s   ideal {inflight / (lat / 1000):,.0f}   requests {total}  non-2xx {non2xx}" + (f"  ({errors[0]})" if errors else ""))
print(f"CPU us/request: gateway {g / total:.1f}   | fake provider {f / total:.1f}")
PY
