# Shared part of the gateway benches (sourced by bench/portkey.sh and
# bench/litellm.sh): a fake provider at a fixed latency, the gateway's CPU
# (its whole process tree, from /proc), and wrk keeping INFLIGHT requests in
# flight for WARM_SECS=5 (not counted) and SECS seconds, measured. The caller sets GW_PID, GW_URL and the wrk request
# (gateway_post BODY [HEADER...]), then calls gateway_measure NAME.
set -euo pipefail
PY=${SY_PYTHON:-/usr/bin/python3} # Debian's python, not whatever is on PATH
FAKE=${BUILD:-build}/fake-provider
T=$(mktemp -d "/tmp/switchyard-${GATEWAY:-gateway}-run.XXXXXX")
PIDS=()
stop() { local i; for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap stop EXIT
command -v wrk >/dev/null || ./scripts/deps.sh bench/packages
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

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

# start_fake LATENCY_MS: sets FAKE_PID, FAKE_URL (.../v1)
start_fake() {
    "$FAKE" --port 0 --port-file "$T/fake.port" --latency-ms "$1" --rpm 100000000 --tpm 100000000000 \
        >"$T/fake.log" 2>&1 & PIDS+=($!); FAKE_PID=$!
    for _ in $(seq 100); do [ -s "$T/fake.port" ] && break; sleep 0.1; done
    FAKE_URL="http://127.0.0.1:$(cat "$T/fake.port")/v1"
}

BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Classify item 1: the printer on floor 3 jams every morning"}],"max_tokens":32}'

# gateway_post HEADER...: the wrk script posting $BODY to $GW_URL with these
# headers ("Name: value"), after one request by hand that must come back 200
# with the fake's answer.
gateway_post() {
    local h args=()
    for h in "$@"; do args+=(-H "$h"); done
    local answer
    answer=$(curl -s -w '\n%{http_code}' "$GW_URL" -H 'Content-Type: application/json' "${args[@]}" -d "$BODY")
    if [ "$(tail -n1 <<<"$answer")" != 200 ] || ! grep -q 'ECHO Classify item 1' <<<"$answer"; then
        echo "the gateway did not relay the fake provider's answer:" >&2; echo "$answer" >&2
        tail "$T/gateway.log" >&2; exit 1
    fi
    { echo 'wrk.method = "POST"'; echo "wrk.body = '$BODY'"
      echo 'wrk.headers["Content-Type"] = "application/json"'
      for h in "$@"; do echo "wrk.headers[\"${h%%: *}\"] = \"${h#*: }\""; done; } >"$T/post.lua"
}

# gateway_measure NAME SECS INFLIGHT LATENCY_MS: one wrk run of WARM_SECS +
# SECS under the same load; the gateway's CPU and the calls it forwarded
# (the fake provider's count of chat calls) are sampled when the warm-up
# ends and SECS later: steady state. (Two wrk runs, one to warm up and one
# to measure, charged the warm-up's abandoned requests, still being worked
# on by the gateway, to the measured ones: +11% for Portkey at ~450/s, and
# a gateway slower than INFLIGHT per window answered none in its window.)
gateway_measure() {
    local name=$1 secs=$2 inflight=$3 latency=$4 warm=${WARM_SECS:-5}
    wrk -t2 -c"$inflight" -d"$(( warm + secs ))s" --timeout 120s -s "$T/post.lua" "$GW_URL" >"$T/wrk.txt" 2>&1 &
    local wrk_pid=$! g0 f0 n0 t0 g f n t
    sleep "$warm"
    t0=$(date +%s%N); g0=$(cpu_tree_us "$GW_PID"); f0=$(cpu_tree_us "$FAKE_PID"); n0=$(fake_calls)
    sleep "$secs"
    t=$(date +%s%N); g=$(( $(cpu_tree_us "$GW_PID") - g0 )); f=$(( $(cpu_tree_us "$FAKE_PID") - f0 ))
    n=$(( $(fake_calls) - n0 )); t=$(( (t - t0) / 1000 ))
    wait "$wrk_pid" || true
    "$PY" - "$name" "$T/wrk.txt" "$inflight" "$latency" "$g" "$f" "$warm" "$n" "$t" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
inflight, lat, g, f, warm, n, us = map(int, sys.argv[3:])
non2xx = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
errors = re.search(r"Socket errors:.*", text)
print(f"{name} gateway: in-flight {inflight}  provider latency {lat} ms  (measured after {warm} s of the same load)")
print(f"{name} {n / (us / 1e6):,.0f} requests/s   ideal {inflight / (lat / 1000):,.0f}   requests {n}  "
      f"non-2xx {non2xx} (whole wrk run)" + (f"  ({errors[0]})" if errors else ""))
print(f"CPU us/request: gateway {g / max(n, 1):.1f}   | fake provider {f / max(n, 1):.1f}")
PY
}

# The chat calls the fake provider has answered or is answering.
fake_calls() {
    curl -sS "${FAKE_URL%/v1}/stats" | "$PY" -c "import json, sys; print(json.load(sys.stdin)['by_api']['openai'])"
}
