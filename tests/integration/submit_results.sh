#!/usr/bin/env bash
# `switchyard submit` (JSONL with a bad line, CSV with quoted fields) and
# `switchyard results`, against the embedded broker only; a Kafka that does
# not answer and a mistyped topic are errors reported at once.
source "$(dirname "$0")/lib.sh"
ms() { date +%s%3N; }

# ---- version, usage errors ----
want=$(sed -n 's/^project(switchyard VERSION \([0-9.]*\) .*/\1/p' "${SY_SRC:-.}/CMakeLists.txt")
[ "$("$SY_BIN" --version)" = "switchyard $want" ] || fail "--version: $("$SY_BIN" --version), want $want"
for cmd in submit results worker scheduler; do
    set +e; "$SY_BIN" $cmd --topik x >"$T/usage.out" 2>"$T/usage.err"; rc=$?; set -e
    [ "$rc" = 2 ] || fail "$cmd --topik: exit $rc"
    grep -q -- "'--topik'" "$T/usage.err" || fail "$cmd: the error does not name the option: $(cat "$T/usage.err")"
    grep -q -- "usage: switchyard $cmd" "$T/usage.err" || fail "$cmd: no usage"
    grep -q -- "-b, --brokers LIST" "$T/usage.err" || fail "$cmd: the usage lacks -b/--brokers"
done
set +e; "$SY_BIN" worker --account-share 0 -p x >/dev/null 2>"$T/usage.err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q -- "'--account-share'" "$T/usage.err" || fail "--account-share 0 accepted (exit $rc)"
ok "--version says $want; a mistyped option is named, with the full usage (-b/--brokers too)"

# ---- nobody listening, a host that does not resolve: a quick, clear error ----
echo '{"id":"x1","task":"classify","vars":{}}' >"$T/one.jsonl"
for b in 127.0.0.1:9 no-such-host.invalid:9092; do
    t0=$(ms)
    if "$SY_BIN" submit -b "$b" "$T/one.jsonl" >"$T/down.out" 2>"$T/down.err"; then
        fail "submit to $b succeeded"
    fi
    took=$(($(ms) - t0))
    grep -q "cannot reach Kafka at $b" "$T/down.err" || fail "submit to $b: $(cat "$T/down.err")"
    [ "$took" -lt 15000 ] || fail "submit to $b took $took ms"
    t0=$(ms)
    if "$SY_BIN" results -b "$b" --topic switchyard.jobs >"$T/down.out" 2>"$T/down.err"; then
        fail "results from $b exited 0"
    fi
    took=$(($(ms) - t0))
    grep -q "cannot reach Kafka at $b" "$T/down.err" || fail "results from $b: $(cat "$T/down.err")"
    [ "$took" -lt 15000 ] || fail "results from $b took $took ms"
done
ok "Kafka down or host mistyped: submit and results exit 1 within seconds, naming the address"

start_broker
printf '%s\n' '{"id":"j1","task":"classify","vars":{"subject":"a"}}' \
    '{"id":"j2","vars":{"subject":"b"},"metadata":{"team":"t2"}}' \
    'not json at all' \
    '' \
    '{"id":"j3","task":"classify","vars":{"subject":"c"}}' >"$T/jobs.jsonl"
if "$SY_BIN" submit --task classify --metadata source=test "$T/jobs.jsonl" >"$T/out.txt" 2>"$T/err.txt"; then
    fail "submit should exit 1 when a line is rejected"
fi
grep -q "jobs.jsonl:3:" "$T/err.txt" || fail "bad line not reported as FILE:3: $(cat "$T/err.txt")"
grep -q "3 acknowledged, 1 rejected, 0 failed" "$T/out.txt" || fail "summary: $(cat "$T/out.txt")"
n=$(cat "$T/out.txt" "$T/err.txt" | grep -c "acknowledged")
[ "$n" = 1 ] || fail "the summary is printed $n times: $(cat "$T/out.txt" "$T/err.txt")"
ok "JSONL: 3 acknowledged, bad line reported as file:line, summary printed once"

printf 'id,title,text,team\r\nd1,"Hello, world","She said ""hi""\nand left",ops\r\nd2,Plain,"x",eng\r\n' >"$T/docs.csv"
"$SY_BIN" submit --task summarize --meta-columns team --key-column title "$T/docs.csv" >"$T/out2.txt" 2>&1 \
    || fail "csv submit: $(cat "$T/out2.txt")"
ok "CSV: 2 rows submitted"

"$SY_BIN" submit --topic switchyard.job "$T/one.jsonl" >"$T/typo.out" 2>"$T/typo.err" && fail "submit to a mistyped topic succeeded"
grep -q "topic switchyard.job does not exist on $BROKERS (did you mean switchyard.jobs?)" "$T/typo.err" ||
    fail "submit, mistyped topic: $(cat "$T/typo.err")"
t0=$(ms)
"$SY_BIN" results --topic switchyard.job >"$T/typo.out" 2>"$T/typo.err" && fail "results from a mistyped topic exited 0"
grep -q "topic switchyard.job does not exist on $BROKERS (did you mean switchyard.jobs?)" "$T/typo.err" ||
    fail "results, mistyped topic: $(cat "$T/typo.err")"
[ $(($(ms) - t0)) -lt 8000 ] || fail "results on a mistyped topic waited its timeout"
"$SY_BIN" results --topic switchyard.job >/dev/null 2>&1 && fail "the lookup created the mistyped topic"
ok "a mistyped topic is an error naming the closest one, and is not created"

# --count: exits as soon as N were read (not after the silence timeout)
t0=$(ms)
"$SY_BIN" results --topic switchyard.jobs --count 5 --timeout-ms 20000 >"$T/jobs.out" || fail "read back"
[ $(($(ms) - t0)) -lt 15000 ] || fail "--count 5 waited for the silence timeout"
"$PY" - "$T" <<'PY' || fail "read-back content"
import json, sys
jobs = {j["id"]: j for j in (json.loads(l) for l in open(sys.argv[1] + "/jobs.out"))}
assert set(jobs) == {"j1", "j2", "j3", "d1", "d2"}, set(jobs)
assert jobs["j2"]["task"] == "classify" and jobs["j2"]["metadata"] == {"team": "t2", "source": "test"}, jobs["j2"]
d1 = jobs["d1"]
assert d1["vars"] == {"title": "Hello, world", "text": 'She said "hi"\nand left'}, d1
assert d1["metadata"] == {"team": "ops"} and d1["idempotency_key"] == "Hello, world", d1
print("ok - read back: ids, tasks, vars (quotes, commas, newline), metadata, keys")
PY
# --follow --count: waits past the silence timeout for what is submitted later
"$SY_BIN" results --topic switchyard.jobs --from-end --follow --count 1 --timeout-ms 500 >"$T/follow.out" 2>&1 &
follower=$!
sleep 2
kill -0 "$follower" 2>/dev/null || fail "--follow stopped on silence: $(cat "$T/follow.out")"
echo '{"id":"late1","task":"classify","vars":{}}' | "$SY_BIN" submit -q - || fail "late submit"
for _ in $(seq 100); do kill -0 "$follower" 2>/dev/null || break; sleep 0.1; done
kill -0 "$follower" 2>/dev/null && fail "--count 1 did not stop after the late job"
wait "$follower" || fail "--follow --count 1 exited non-zero: $(cat "$T/follow.out")"
grep -q '"late1"' "$T/follow.out" || fail "--follow did not print the late job: $(cat "$T/follow.out")"
"$SY_BIN" results --topic switchyard.jobs --count 7 --timeout-ms 1000 >/dev/null 2>&1 &&
    fail "--count 7 of 6 jobs exited 0"
ok "--follow never stops on silence; --count N stops after N, exits 1 when fewer arrive"

if command -v kcat >/dev/null; then
    n=$(kcat -C -b "$BROKERS" -t switchyard.jobs -e -q -f '%k\n' 2>/dev/null | grep -c .)
    [ "$n" -eq 6 ] || fail "kcat counted $n jobs"
    ok "kcat counts 6 jobs"
fi
# ---- the embedded broker: a chosen port, --topic naming a topic it already makes ----
! grep -q CONFWARN "$T/broker.log" || fail "the broker printed a CONFWARN: $(grep CONFWARN "$T/broker.log")"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SY_BIN" broker --port "$PORT" --topic switchyard.jobs --topic extra:2 >"$T/broker2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "ready at" "$T/broker2.log" && break; sleep 0.1; done
grep -q "embedded broker ready at 127.0.0.1:$PORT" "$T/broker2.log" || fail "broker --port: $(cat "$T/broker2.log")"
echo '{"id":"p1","task":"classify","vars":{}}' | "$SY_BIN" submit -q -b "127.0.0.1:$PORT" - || fail "submit via --port"
"$SY_BIN" results -b "127.0.0.1:$PORT" --topic switchyard.jobs --count 1 --timeout-ms 10000 | grep -q '"p1"' ||
    fail "read back via --port"
"$SY_BIN" results -b "127.0.0.1:$PORT" --topic extra --timeout-ms 300 >/dev/null || fail "--topic extra not created"
ok "broker --port $PORT: bootstrap there, --topic of an existing topic kept, no CONFWARN"
check_logs
