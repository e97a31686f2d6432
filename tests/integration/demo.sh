#!/usr/bin/env bash
# The README's first command runs `switchyard demo` on the embedded
# defaults: it must exit 0 with every example job answered (250 jobs from
# examples/: JSONL and CSV, three tasks, a weighted split), none failed and
# no dead letter, and a summary per model and per team.
source "$(dirname "$0")/lib.sh"
"$SY_BIN" demo --timeout-s 120 >"$T/demo.log" 2>&1 || fail "demo exited $?: $(tail -5 "$T/demo.log")"
grep -q "submitted 250 jobs; 250 ok, 0 failed, 0 dead letters" "$T/demo.log" \
    || fail "demo summary: $(grep submitted "$T/demo.log")"
for model in gpt-4o-mini claude-haiku claude-sonnet; do
    grep -q "/ $model " "$T/demo.log" || fail "no jobs answered by $model in the summary"
done
grep -q "^  team " "$T/demo.log" || fail "no cost by team"
ok "demo: $(grep -o 'submitted .*' "$T/demo.log")"
