#!/usr/bin/env bash
# The README's first command runs `switchyard demo` on the embedded
# defaults: it must exit 0 with every example job answered (250 jobs from
# examples/: JSONL and CSV, three tasks, a weighted split), none failed and
# no dead letter, and a summary per model and per team. It runs from any
# directory (here: an empty one), its output piped to a file is in order
# with each submit's summary once, the tables are sorted, and its temporary
# directory is gone at the end.
source "$(dirname "$0")/lib.sh"
BIN=$(realpath "$SY_BIN")
mkdir "$T/elsewhere"
(cd "$T/elsewhere" && "$BIN" demo --timeout-s 120 >"$T/demo.log" 2>"$T/demo.err") ||
    fail "demo exited $?: $(tail -5 "$T/demo.log" "$T/demo.err")"
grep -q "submitted 250 jobs; 250 ok, 0 failed, 0 dead letters" "$T/demo.log" \
    || fail "demo summary: $(grep submitted "$T/demo.log")"
for model in gpt-4o-mini claude-haiku claude-sonnet; do
    grep -q "/ $model " "$T/demo.log" || fail "no jobs answered by $model in the summary"
done
grep -q "^  team " "$T/demo.log" || fail "no cost by team"
ok "demo from another directory: $(grep -o 'submitted .*' "$T/demo.log")"

"$PY" - "$T/demo.log" <<'PY' || fail "demo output: $(cat "$T/demo.log")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
def at(pattern):
    hits = [i for i, l in enumerate(lines) if re.search(pattern, l)]
    assert hits, pattern
    return hits
order = [at(p)[0] for p in (r"^switchyard demo \(logs in ", r"fake provider ", r"embedded broker started",
                            r"scheduler and worker started", r"^submit: ", r"== switchyard demo summary ==",
                            r"stopped; removed ")]
assert order == sorted(order), order
assert len(at(r"acknowledged")) == 2, [l for l in lines if "acknowledged" in l]  # once per submit
for title in ("task / tier / model", "team"):
    start = at(r"^  %s " % re.escape(title))[0] + 1
    rows = []
    for l in lines[start:]:
        if not l.strip() or not re.match(r"^  \S", l):
            break
        rows.append(re.split(r"\s{2,}", l.strip())[0])
    assert rows and rows == sorted(rows), (title, rows)
print("ok - output in order when piped, submit summaries once each, tables sorted")
PY
tmp=$(sed -n 's/^switchyard demo (logs in \(.*\))$/\1/p' "$T/demo.log")
[ -n "$tmp" ] && [ ! -e "$tmp" ] || fail "the temporary directory $tmp is still there"
ok "temporary directory $tmp removed"
