#!/usr/bin/env bash
# The README's first command runs `switchyard demo` on the embedded
# defaults: it must exit 0 with every example job answered (250 jobs from
# examples/: JSONL and CSV, three tasks, a weighted split), none failed and
# no dead letter, and a summary per model and per team; then the mixed
# pipeline (pipelines/mixed.yaml: 60 jobs of examples/mixed.jsonl on
# Anthropic, an OpenAI batch tier, the same model synchronously and an
# OpenAI-compatible server), every job answered, the cost per job of each
# tier printed, the batch tier's at most 55% of its synchronous twin's,
# all within a minute. It runs from any
# directory (here: an empty one), its output piped to a file is in order
# with each submit's summary once, the tables are sorted, and its temporary
# directory is gone at the end.
source "$(dirname "$0")/lib.sh"
BIN=$(realpath "$SY_BIN")
mkdir "$T/elsewhere"
start=$SECONDS
(cd "$T/elsewhere" && "$BIN" demo --timeout-s 120 >"$T/demo.log" 2>"$T/demo.err") ||
    fail "demo exited $?: $(tail -5 "$T/demo.log" "$T/demo.err")"
took=$((SECONDS - start))
[ "$took" -le 60 ] || fail "the demo took $took s, over a minute"
grep -q "submitted 250 jobs; 250 ok, 0 failed, 0 dead letters" "$T/demo.log" \
    || fail "demo summary: $(grep submitted "$T/demo.log")"
for model in gpt-4o-mini claude-haiku claude-sonnet; do
    grep -q "/ $model " "$T/demo.log" || fail "no jobs answered by $model in the summary"
done
grep -q "^  team " "$T/demo.log" || fail "no cost by team"
ok "demo from another directory in $took s: $(grep -o 'submitted .*' "$T/demo.log" | head -1)"

"$PY" - "$T/demo.log" <<'PY' || fail "demo output: $(cat "$T/demo.log")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
def at(pattern):
    hits = [i for i, l in enumerate(lines) if re.search(pattern, l)]
    assert hits, pattern
    return hits
order = [at(p)[0] for p in (r"^switchyard demo \(logs in ", r"fake provider ", r"embedded broker started",
                            r"scheduler and worker started", r"^submit: ", r"== switchyard demo summary ==",
                            r"^== mixed pipeline \(", r"stopped; removed ")]
assert order == sorted(order), order
assert len(at(r"acknowledged")) == 3, [l for l in lines if "acknowledged" in l]  # once per submit
mixed = lines[at(r"^== mixed pipeline \(")[0]:]
assert any("submitted 60 jobs; 60 ok, 0 failed, 0 dead letters" in l for l in mixed), mixed
per_job = {}
for l in mixed:
    m = re.match(r"^  (\S+) +(\d+) +([\d.]+) +([\d.]+)$", l)
    if m: per_job[m.group(1)] = (int(m.group(2)), float(m.group(4)))
assert per_job == {k: (n, per_job.get(k, (0, 0))[1]) for k, n in
                   (("interactive", 10), ("overnight", 20), ("overnight-now", 20), ("self-hosted", 10))}, per_job
assert all(c > 0 for _, c in per_job.values()), per_job
m = [re.search(r"batch tier overnight: \$([\d.]+) per job, (\d+)% of synchronous overnight-now \(\$([\d.]+) per job\)", l)
     for l in mixed]
m = [x for x in m if x]
assert m, "no batch-against-sync line"
b, pct, s = float(m[0].group(1)), int(m[0].group(2)), float(m[0].group(3))
assert abs(b - per_job["overnight"][1]) < 1e-8 and abs(s - per_job["overnight-now"][1]) < 1e-8, (b, s, per_job)
assert b <= 0.55 * s and pct <= 55, (b, s, pct)
for title in ("task / tier / model", "team"):
    start = at(r"^  %s " % re.escape(title))[0] + 1
    rows = []
    for l in lines[start:]:
        if not l.strip() or not re.match(r"^  \S", l):
            break
        rows.append(re.split(r"\s{2,}", l.strip())[0])
    assert rows and rows == sorted(rows), (title, rows)
print("ok - output in order when piped, submit summaries once each, tables sorted; the mixed pipeline: "
      f"60 jobs on 4 tiers, batch {pct}% of sync per job")
PY
tmp=$(sed -n 's/^switchyard demo (logs in \(.*\))$/\1/p' "$T/demo.log")
[ -n "$tmp" ] && [ ! -e "$tmp" ] || fail "the temporary directory $tmp is still there"
ok "temporary directory $tmp removed"
