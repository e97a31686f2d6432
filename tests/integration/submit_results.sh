#!/usr/bin/env bash
# `switchyard submit` (JSONL with a bad line, CSV with quoted fields) and
# `switchyard results`, against the embedded broker only.
source "$(dirname "$0")/lib.sh"
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
grep -q "3 acknowledged, 1 rejected" "$T/out.txt" || fail "summary: $(cat "$T/out.txt")"
ok "JSONL: 3 acknowledged, bad line reported as file:line"

printf 'id,title,text,team\r\nd1,"Hello, world","She said ""hi""\nand left",ops\r\nd2,Plain,"x",eng\r\n' >"$T/docs.csv"
"$SY_BIN" submit --task summarize --meta-columns team --key-column title "$T/docs.csv" >"$T/out2.txt" 2>&1 \
    || fail "csv submit: $(cat "$T/out2.txt")"
ok "CSV: 2 rows submitted"

"$SY_BIN" results --topic switchyard.jobs --count 5 --timeout-ms 10000 >"$T/jobs.out" || fail "read back"
python3 - "$T" <<'PY' || fail "read-back content"
import json, sys
jobs = {j["id"]: j for j in (json.loads(l) for l in open(sys.argv[1] + "/jobs.out"))}
assert set(jobs) == {"j1", "j2", "j3", "d1", "d2"}, set(jobs)
assert jobs["j2"]["task"] == "classify" and jobs["j2"]["metadata"] == {"team": "t2", "source": "test"}, jobs["j2"]
d1 = jobs["d1"]
assert d1["vars"] == {"title": "Hello, world", "text": 'She said "hi"\nand left'}, d1
assert d1["metadata"] == {"team": "ops"} and d1["idempotency_key"] == "Hello, world", d1
print("ok - read back: ids, tasks, vars (quotes, commas, newline), metadata, keys")
PY
if command -v kcat >/dev/null; then
    n=$(kcat -C -b "$BROKERS" -t switchyard.jobs -e -q -f '%k\n' 2>/dev/null | grep -c .)
    [ "$n" -eq 5 ] || fail "kcat counted $n jobs"
    ok "kcat counts 5 jobs"
fi
check_logs
