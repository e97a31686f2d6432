# Shared part of the gateway benches (sourced by bench/portkey.sh and
# bench/litellm.sh): a fake provider at a fixed latency, the gateway's CPU
# (its whole process tree, from /proc), and wrk keeping INFLIGHT requests in
# flight, first to warm the gateway up (WARM_SECS=5, not counted), then for
# SECS seconds measured. The caller sets GW_PID, GW_URL and the wrk request
# (gateway_post BODY [HEADER...]), then calls gateway_measure NAME.
set -euo pipefail
PY=${SY_PYTHON:-/usr/bin/python3} # Debian's python, not whatever is on PATH
FAKE=${BUILD:-build}/fake-provider
T=$(mktemp -d "/tmp/switchyard-${GATEWAY:-gateway}-run.XXXXXX")
PIDS=()
stop() { local i; for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap stop EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
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

# gateway_measure NAME SECS INFLIGHT LATENCY_MS: warm up, then measure.
gateway_measure() {
    local name=$1 secs=$2 inflight=$3 latency=$4
    wrk -t2 -c"$inflight" -d"${WARM_SECS:-5}s" --timeout 120s -s "$T/post.lua" "$GW_URL" >"$T/warm.txt" 2>&1
    local g0 f0 g f
    g0=$(cpu_tree_us "$GW_PID"); f0=$(cpu_tree_us "$FAKE_PID")
    wrk -t2 -c"$inflight" -d"${secs}s" --timeout 120s -s "$T/post.lua" "$GW_URL" >"$T/wrk.txt" 2>&1
    g=$(( $(cpu_tree_us "$GW_PID") - g0 )); f=$(( $(cpu_tree_us "$FAKE_PID") - f0 ))
    "$PY" - "$name" "$T/wrk.txt" "$inflight" "$latency" "$g" "$f" "${WARM_SECS:-5}" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
inflight, lat, g, f, warm = map(int, sys.argv[3:])
total = int(re.search(r"(\d+) requests in", text)[1])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])
non2xx = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
errors = re.search(r"Socket errors:.*", text)
print(f"{name} gateway: in-flight {inflight}  provider latency {lat} ms  (after {warm} s of warm-up)")
print(f"{name} {rps:,.0f} requests/s   ideal {inflight / (lat / 1000):,.0f}   requests {total}  non-2xx {non2xx}" + (f"  ({errors[0]})" if errors else ""))
print(f"CPU us/request: gateway {g / max(total, 1):.1f}   | fake provider {f / max(total, 1):.1f}")
PY
}
