#!/usr/bin/env bash
# The Portkey open-source gateway in front of the same fake provider,
# driven by wrk with the same number of calls in flight: requests/s and
# the gateway's CPU microseconds per request (all its processes, from
# /proc/PID/stat), next to the fake provider's. The gateway is warmed up
# (WARM_SECS=5 of the same load) before the measured SECONDS.
#
#   bench/portkey.sh [SECONDS=20] [INFLIGHT=1000] [LATENCY_MS=200]
#
# The gateway (npm @portkey-ai/gateway, pinned) is installed once into
# ${PORTKEY_DIR:-/tmp/switchyard-portkey} and run with node on 127.0.0.1;
# each request is POST /v1/chat/completions with x-portkey-provider: openai
# and x-portkey-custom-host pointing at the fake provider. The first request
# is checked by hand: it must come back 200 with the fake's answer.
cd "$(dirname "$0")/.."
GATEWAY=portkey source bench/gateway.sh
SECS=${1:-20}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
VERSION=1.15.2
DIR=${PORTKEY_DIR:-/tmp/switchyard-portkey}

if [ ! -f "$DIR/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
    mkdir -p "$DIR"
    (cd "$DIR" && npm install --no-audit --no-fund "@portkey-ai/gateway@$VERSION" >"$DIR/npm.log" 2>&1) \
        || { tail "$DIR/npm.log"; echo "npm install failed" >&2; exit 1; }
fi
start_fake "$LATENCY"
GW_PORT=$(free_port)
NODE_ENV=production node "$DIR/node_modules/@portkey-ai/gateway/build/start-server.js" \
    --port="$GW_PORT" --headless >"$T/gateway.log" 2>&1 & PIDS+=($!); GW_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/" && break; sleep 0.1; done
GW_URL="http://127.0.0.1:$GW_PORT/v1/chat/completions"
gateway_post 'Authorization: Bearer bench-key' 'x-portkey-provider: openai' "x-portkey-custom-host: $FAKE_URL"
gateway_measure portkey "$SECS" "$INFLIGHT" "$LATENCY"
