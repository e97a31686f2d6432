#!/usr/bin/env bash
# File descriptors: a worker whose --max-inflight needs more open files than
# RLIMIT_NOFILE allows raises its soft limit when the hard limit allows it
# (and then runs jobs), and otherwise refuses to start with a message that
# names the numbers and the fix, instead of failing jobs one by one with
# "Couldn't connect" later.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
start_fake --latency-ms 5
start_broker "$P"
start_scheduler "$P"

# Hard limit 256 too: nothing to raise to. The worker must stop at once.
rc=0
(ulimit -Sn 256 && ulimit -Hn 256 &&
    exec timeout 30 "$SY_BIN" worker -p "$P" --max-inflight 1000 --state-dir "$T/state-refuse") \
    >"$T/refuse.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "worker with 256 files for 1000 calls: exit code $rc (want a refusal)"
grep -q -- '--max-inflight 1000 needs about [0-9]* open files' "$T/refuse.log" &&
    grep -q 'limit is 256 (hard 256)' "$T/refuse.log" && grep -q 'ulimit -n' "$T/refuse.log" ||
    fail "the refusal does not name the numbers and the fix: $(cat "$T/refuse.log")"
ok "hard limit 256, --max-inflight 1000: refused (exit $rc): $(grep -o 'needs about.*' "$T/refuse.log" | head -c 160)"

# Soft limit 256 under a higher hard limit: raised, and jobs run.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 2000 ]; then
    echo "skip the raise case: hard limit $hard"; check_logs; exit 0
fi
(ulimit -Sn 256 && exec "$SY_BIN" worker -p "$P" --max-inflight 1000 --state-dir "$T/state") \
    >"$T/worker.log" 2>&1 &
PIDS+=($!)
wpid=$!
echo_jobs 50 fd- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
"$SY_BIN" results --topic switchyard.results.echo --count 50 --timeout-ms 60000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of 50 results"
soft=$(awk '/Max open files/ {print $4}' "/proc/$wpid/limits")
grep -q 'raised the open-files limit from 256 to' "$T/worker.log" || fail "no word of the raise in the log"
[ "$soft" -gt 1000 ] || fail "soft limit of the running worker is $soft"
"$PY" - "$T/results.jsonl" <<'PYEOF' || fail "results"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(res) == 50 and all(r["status"] == "ok" for r in res), [r["status"] for r in res]
PYEOF
ok "soft limit 256: raised to $soft by the worker; 50 jobs answered"
kill "$wpid"
wait "$wpid" || fail "the worker did not stop cleanly"
check_logs
