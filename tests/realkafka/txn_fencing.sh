#!/usr/bin/env bash
# Real Kafka only (ctest label realkafka): what transactions add on a broker
# that enforces them (`switchyard worker --transactions`).
#   1. A worker is killed with SIGKILL mid-run and restarted (same state
#      directory, so the same transactional.id: the broker aborts the dead
#      one's open transaction).
#   2. Zombie: that worker is frozen (SIGSTOP) with results in an open
#      transaction; a new instance with the same transactional.id starts and
#      takes over; the frozen one is resumed (SIGCONT) and given more work.
#      It must be fenced and exit 1 without publishing.
# Then a read_committed consumer sees exactly one result per job, and a
# read_uncommitted one sees the results of the aborted transactions too
# (so there were some to hide).
export SY_KAFKA=real
source "$(dirname "$0")/../integration/lib.sh"
P=tests/pipelines/e2e.yaml
N=${FENCE_JOBS:-2000}
M=${FENCE_MORE_JOBS:-300}

start_fake --latency-ms 100 --jitter-ms 100
start_broker "$P"
start_scheduler "$P"
echo_jobs "$N" f- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
ok "submitted $N jobs"
calls_made() { wc -l <"$T/calls.jsonl"; }
wait_calls() { local i; for ((i = 0; i < 600; i++)); do [ "$(calls_made)" -ge "$1" ] && return 0; sleep 0.2; done; fail "stuck at $(calls_made) calls"; }
wait_log() { local i; for ((i = 0; i < 10 * $2; i++)); do grep -q "$3" "$T/$1.log" && return 0; sleep 0.1; done; fail "$1: no '$3' within $2 s"; }

args=(-p "$P" --transactions --max-inflight 64)
start_worker a0 "${args[@]}" --state-dir "$T/state-a"
wait_calls $((N / 4))
kill -9 "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
ok "worker a0 killed (SIGKILL) after $(calls_made) calls"
start_worker a1 "${args[@]}" --state-dir "$T/state-a"
ZOMBIE=$LAST_PID
wait_log a1 60 "rebalance: assigned"
wait_calls $((N / 2))
# Freeze it with results in its open transaction: a read_uncommitted reader
# then sees more results than a read_committed one (which stops before the
# open transaction's first record).
count_results() { "$SY_BIN" results --topic switchyard.results.echo --timeout-ms 1500 "$@" 2>/dev/null | wc -l; }
for ((try = 1; ; try++)); do
    kill -STOP "$ZOMBIE"
    u=$(count_results -X isolation.level=read_uncommitted); c=$(count_results)
    [ "$u" -gt "$c" ] && break
    [ "$try" -lt 20 ] || fail "a1 never had results in an open transaction when frozen"
    kill -CONT "$ZOMBIE"; sleep 0.$((RANDOM % 9 + 1))
done
ok "worker a1 frozen (SIGSTOP) after $(calls_made) calls, $((u - c)) result(s) in its open transaction"
tid=$(grep -h "transactions on: transactional.id " "$T/a1.log" | sed 's/.*transactional.id \([^" ]*\).*/\1/' | head -n 1)
[ -n "$tid" ] || fail "no transactional.id in a1.log"
start_worker b "${args[@]}" --state-dir "$T/state-b" -X "transactional.id=$tid"
NEW=$LAST_PID
wait_log b 120 "rebalance: assigned"
ok "worker b (transactional.id $tid) took the partitions"
kill -CONT "$ZOMBIE"
echo_jobs "$M" g- >"$T/more.jsonl"
"$SY_BIN" submit --quiet "$T/more.jsonl" >/dev/null || fail "submit"
for ((i = 0; i < 600; i++)); do kill -0 "$ZOMBIE" 2>/dev/null || break; sleep 0.2; done
kill -0 "$ZOMBIE" 2>/dev/null && fail "the fenced worker a1 is still running 120 s after SIGCONT"
rc=0; wait "$ZOMBIE" || rc=$?
[ "$rc" = 1 ] || fail "the fenced worker exited $rc, expected 1"
grep -q -E "fatally \(fenced|failed fatally \(.*[Ff]enced" "$T/a1.log" \
    || fail "a1 did not log that it was fenced: $(grep -i fatal "$T/a1.log" | tail -n 3)"
grep -q "could not be produced.*; dead-lettered" "$T/a1.log" \
    && fail "the fenced a1 dead-lettered results it could not publish: $(grep "; dead-lettered" "$T/a1.log" | head -n 2)"
ok "the zombie a1 was fenced and exited 1"

"$SY_BIN" results --topic switchyard.results.echo --count $((N + M)) --timeout-ms 300000 >"$T/results.jsonl" \
    || fail "only $(wc -l <"$T/results.jsonl") of $((N + M)) results"
sleep 3
kill -TERM "$NEW"; wait "$NEW" || fail "worker b did not stop cleanly"
# Both readers at once (each stops 5 s after its last message): nothing is
# produced any more, so they read the same topic.
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 5000 >"$T/results.jsonl" &
c_pid=$!
"$SY_BIN" results --topic switchyard.results.echo --timeout-ms 5000 -X isolation.level=read_uncommitted \
    >"$T/uncommitted.jsonl" || true
wait "$c_pid" || true
grep -v '"job_id":"g-' "$T/results.jsonl" >"$T/results-f.jsonl" || true
# Calls b may make again: those in flight when a0 died (a1 made them again,
# logged), and what only a1's own store knew when it was frozen: calls in
# flight, and successes whose changelog record had not landed (PUBLISHING).
grep -h "call may have been in flight" "$T"/a*.log "$T/b.log" | sed 's/.*key=\([^ ]*\).*/\1/' | sort -u >"$T/maybe-twice.txt" || true
"$SY_BIN" state --state-dir "$T/state-a" --unfinished 2>"$T/state-a.txt" >"$T/unfinished-a.txt"
awk '$1 == "in_flight" || $1 == "publishing" {print $2}' "$T/unfinished-a.txt" >>"$T/maybe-twice.txt"
echo "   the zombie's store: $(cat "$T/state-a.txt")"
"${SY_PYTHON:-/usr/bin/python3}" tests/integration/exactly_once.py "$T/results-f.jsonl" "$T/calls.jsonl" "$T/maybe-twice.txt" "$N" f- \
    || fail "read_committed: exactly one result per job"
"${SY_PYTHON:-/usr/bin/python3}" - "$T" "$M" <<'PY' || fail "transactions assertions"
import collections, json, sys
t, m = sys.argv[1], int(sys.argv[2])
committed = [json.loads(l) for l in open(f"{t}/results.jsonl") if l.strip()]
g = collections.Counter(r["job_id"] for r in committed if r["job_id"].startswith("g-"))
assert len(g) == m and max(g.values()) == 1, f"jobs g-*: {len(g)} of {m}, most results for one {max(g.values(), default=0)}"
every = collections.Counter(json.loads(l)["job_id"] for l in open(f"{t}/uncommitted.jsonl") if l.strip())
aborted = sum(c - 1 for c in every.values() if c > 1)
print(f"read_committed: {len(committed)} results; read_uncommitted: {sum(every.values())}, "
      f"of which {aborted} from aborted transactions")
assert aborted > 0, "no result of an aborted transaction: the kill and the fencing caught no open transaction"
PY
ok "read_committed: exactly one result per job; the aborted transactions' results stay hidden"
check_logs
