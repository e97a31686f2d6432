#!/usr/bin/env bash
# The LiteLLM proxy in front of the same fake provider, driven by wrk with
# the same number of calls in flight: requests/s and the proxy's CPU
# microseconds per request (its whole process tree, from /proc/PID/stat),
# next to the fake provider's. The proxy is warmed up (WARM_SECS=5 of the
# same load) before the measured SECONDS.
#
#   bench/litellm.sh [SECONDS=20] [INFLIGHT=1000] [LATENCY_MS=200]
#
# litellm[proxy] (pinned) is installed once into its own venv under
# ${XDG_CACHE_HOME:-~/.cache}/switchyard, made with Debian's python, and its
# `litellm` command is run from there on 127.0.0.1 with one worker process
# (its default), one model routed to the fake provider, a master key made
# for the run (it will not start without one), no database, the
# local model-cost map (nothing fetched at start) and logging at ERROR.
# The first request is checked by hand: it must come back 200 with the
# fake's answer.
cd "$(dirname "$0")/.."
GATEWAY=litellm source bench/gateway.sh
SECS=${1:-20}; INFLIGHT=${2:-1000}; LATENCY=${3:-200}
VERSION=1.106.12 # the newest whose [proxy] extra installs from PyPI alone (later ones need litellm-proxy)
VENV=${LITELLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/litellm-$VERSION}

if [ ! -x "$VENV/bin/litellm" ]; then
    mkdir -p "$(dirname "$VENV")"
    { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install -q "litellm[proxy]==$VERSION"; } >"$T/pip.log" 2>&1 \
        || { tail "$T/pip.log" >&2; rm -rf "$VENV"; echo "installing litellm[proxy]==$VERSION failed" >&2; exit 1; }
fi
start_fake "$LATENCY"
cat >"$T/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, api_base: "$FAKE_URL", api_key: bench-key}
YAML
GW_PORT=$(free_port)
# The proxy will not start without a master key; one made for this run.
MASTER="sk-$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
LITELLM_MASTER_KEY=$MASTER LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR LITELLM_TELEMETRY=False \
    "$VENV/bin/litellm" --config "$T/litellm.yaml" --host 127.0.0.1 --port "$GW_PORT" \
    >"$T/gateway.log" 2>&1 & PIDS+=($!); GW_PID=$!
for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/health/liveliness" && break
    kill -0 "$GW_PID" 2>/dev/null || { tail "$T/gateway.log" >&2; echo "litellm exited" >&2; exit 1; }
    sleep 0.2
done
GW_URL="http://127.0.0.1:$GW_PORT/v1/chat/completions"
gateway_post "Authorization: Bearer $MASTER"
gateway_measure litellm "$SECS" "$INFLIGHT" "$LATENCY"
