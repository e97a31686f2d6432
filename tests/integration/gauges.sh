#!/usr/bin/env bash
# The worker's gauges while calls run (README, Metrics and health): a
# worker that takes --max-jobs at a time works in bursts (the partitions
# pause when that many are held and resume below 3/4 of it), and its page,
# rendered once a second on the loop, tends to fall in the gap between two
# bursts, so switchyard_calls_in_flight and switchyard_jobs_held, read at
# that instant, showed 0 in every scrape while 8 calls ran. The *_max
# gauges carry the most seen at once since the page before: every page
# rendered while results came in must show calls in flight, never more
# than --max-inflight, and held jobs, never more than --max-jobs.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
N=320

start_fake --latency-ms 40
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 8 --max-jobs 64 --state-dir "$T/state" --http 127.0.0.1:0
W=http://127.0.0.1:$(http_port_of "$T/worker.log")
echo_jobs "$N" g- >"$T/jobs.jsonl"
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"

# Scrape every 0.2 s until every result is counted (a page per second).
: >"$T/samples.txt"
for ((i = 0; i < 300; i++)); do
    curl -sf "$W/metrics" >"$T/page.txt" || fail "GET /metrics"
    awk '/^switchyard_jobs_total\{/ {n += $2}
         /^switchyard_(calls_in_flight|calls_in_flight_max|jobs_held|jobs_held_max) / {v[$1] = $2}
         END {has = ("switchyard_calls_in_flight_max" in v)
              print n + 0, v["switchyard_calls_in_flight"] + 0, v["switchyard_calls_in_flight_max"] + 0,
                    v["switchyard_jobs_held"] + 0, v["switchyard_jobs_held_max"] + 0,
                    has}' "$T/page.txt" >>"$T/samples.txt"
    [ "$(tail -1 "$T/samples.txt" | cut -d' ' -f1)" -ge "$N" ] && break
    sleep 0.2
done
"$PY" - "$T/samples.txt" "$N" <<'PY' || fail "gauges while calls ran: $(tr '\n' '|' <"$T/samples.txt")"
import sys
rows = [tuple(float(x) for x in l.split()) for l in open(sys.argv[1])]
n = int(sys.argv[2])
assert rows and rows[-1][0] >= n, f"only {rows[-1][0] if rows else 0} of {n} results counted"
# one row per page (a page repeats until the next render); a page that
# counts at least a round of 8 more results than the page before was
# rendered after a second in which calls ran
pages = [r for i, r in enumerate(rows) if i == 0 or r != rows[i - 1]]
busy = [b for a, b in zip(pages, pages[1:]) if b[0] >= a[0] + 8]
assert len(busy) >= 3, f"only {len(busy)} pages while results came in: {pages}"
assert all(r[5] for r in busy), "no switchyard_calls_in_flight_max on the page"
zero_now = sum(1 for r in busy if r[1] == 0)
bad = [r for r in busy if not (1 <= r[2] <= 8 and 1 <= r[4] <= 64)]
assert not bad, f"pages while calls ran with no (or too many) calls in flight / jobs held at most: {bad}"
assert max(r[2] for r in busy) >= 4, f"at most {max(r[2] for r in busy)} in flight at once, with 8 allowed"
print(f"ok - {len(busy)} pages while results came in: calls in flight at most "
      f"{int(min(r[2] for r in busy))}-{int(max(r[2] for r in busy))}, held at most "
      f"{int(min(r[4] for r in busy))}-{int(max(r[4] for r in busy))} "
      f"(the instant's gauge read 0 on {zero_now} of them)")
PY
check_logs
