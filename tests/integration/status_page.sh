#!/usr/bin/env bash
# The status page (README, Status): a worker with --http under load serves
# it at / and /status; headless Chromium (Debian's chromium) opens it, lets
# it poll /metrics, and its DOM must show the numbers /metrics has (results
# by status, in flight, waiting, dead letters, cost, breakers, pacing) with
# hostile metadata shown as text, never as markup; a screenshot taken while
# jobs flow is kept in the test's directory. The page is the binary's own
# (no external URL in it, a CSP that forbids loading any), and behind the
# bearer token like /metrics where one is required.
source "$(dirname "$0")/lib.sh"
P=tests/pipelines/e2e.yaml
CHROMIUM=${SY_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
# .ci/packages lists chromium (scripts/deps.sh installs it): its absence is a
# broken setup, not a reason to skip
[ -n "$CHROMIUM" ] || { echo "FAIL: no chromium: run scripts/deps.sh (apt-get install chromium)" >&2; exit 1; }
TOKEN="tok-$RANDOM$RANDOM-page"

start_fake --latency-ms 40
start_broker "$P"
start_scheduler "$P"
start_worker worker -p "$P" --max-inflight 4 --state-dir "$T/state" --http 127.0.0.1:0 --metrics-tags team
W=http://127.0.0.1:$(http_port_of "$T/worker.log")

# Chromium in real time over the DevTools protocol (tests/tools/page_probe.py:
# the flags this machine needs, a profile of its own in $T).
probe() { # url, then page_probe.py options
    local url=$1; shift
    timeout 90 "$PY" tests/tools/page_probe.py "$CHROMIUM" "$url" --profile "$T/chrome" "$@" 2>>"$T/probe.log"
}

# The page is in the binary and loads nothing from elsewhere.
curl -sf -D "$T/page.headers" "$W/status" >"$T/page.html" || fail "GET /status"
curl -sf "$W/" | cmp -s - "$T/page.html" || fail "/ and /status differ"
grep -qi '^content-type: text/html' "$T/page.headers" && grep -qi "^content-security-policy: default-src 'none'" "$T/page.headers" ||
    fail "page headers: $(cat "$T/page.headers")"
! grep -Eio '(src|href)=["'"'"']?(https?:)?//' "$T/page.html" || fail "the page loads something from elsewhere"
ok "/ and /status serve the compiled-in page, no external reference, CSP default-src 'none'"

# 300 jobs, 4 at a time at 40 ms each; 3 fail (400); team tags, one of
# them markup that must stay text
"$PY" - "$T" <<'PY'
import json, sys
teams = ["search", "ads", '<img src=x onerror="document.title=1">', "__proto__"]
with open(f"{sys.argv[1]}/jobs.jsonl", "w") as f:
    for i in range(300):
        word = "[[status:400]]" if i < 3 else f"w{i}"
        job = {"id": f"p-{i}", "task": "echo", "vars": {"word": word, "n": i}, "metadata": {"team": teams[i % 4]}}
        f.write(json.dumps(job) + "\n")
PY
"$SY_BIN" submit --quiet "$T/jobs.jsonl" >/dev/null || fail "submit"
wait_metrics_results "$W" 20 >/dev/null
# While jobs flow: a screenshot after some seconds of polling
probe "$W/status" --wait-polls 5 --screenshot "$T/status-page.png" ||
    fail "chromium: $(tail -5 "$T/probe.log")"
[ -s "$T/status-page.png" ] && [ "$(head -c 4 "$T/status-page.png" | tail -c 3)" = PNG ] || fail "no screenshot"
ok "screenshot while jobs flow: $T/status-page.png ($(stat -c %s "$T/status-page.png") bytes)"

"$SY_BIN" results --topic switchyard.results.echo --count 300 --timeout-ms 60000 >"$T/results.jsonl" ||
    fail "only $(wc -l <"$T/results.jsonl") of 300 results"
n=$(wait_metrics_results "$W" 300)
[ "$n" = 300 ] || fail "/metrics counts $n results, not 300"
curl -sf "$W/metrics" >"$T/metrics-before.txt"
probe "$W/status" --wait-polls 3 --dom "$T/dom.html" || fail "chromium: $(tail -5 "$T/probe.log")"
curl -sf "$W/metrics" >"$T/metrics.txt"
"$PY" - "$T" <<'PY' || fail "the page against /metrics"
import html.parser, re, sys
t = sys.argv[1]
sys.path.insert(0, "tests/integration")
from promtext import total as scraped
def total(name, page="metrics.txt", **want):
    return scraped(f"{t}/{page}", name, **want)

class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.stack, self.tags, self.body, self.tables, self.table, self.row = {}, [], [], {}, {}, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "body": self.body = a
        if tag == "table": self.table = a.get("id"); self.tables[self.table] = []
        if tag == "tr" and self.table: self.row = []
        if tag == "td" and self.row is not None: self.row.append("")
        self.stack.append(a.get("id"))
        if a.get("id"): self.ids[a["id"]] = ""
    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            if self.row: self.tables[self.table].append(self.row)
            self.row = None
        if tag == "table": self.table = None
        if self.stack: self.stack.pop()
    def handle_data(self, data):
        for i in self.stack:
            if i: self.ids[i] += data
        if self.row is not None and self.row: self.row[-1] += data

d = Dom()
d.feed(open(f"{t}/dom.html", encoding="utf-8").read())
polls = int(d.body.get("data-polls", "0"))
assert polls >= 2, f"the page polled {polls} times"
shown = {k: d.ids[k].strip() for k in d.ids if k.startswith("v-")}
want = {
    "v-results": total("switchyard_jobs_total"),
    "v-ok": total("switchyard_jobs_total", status="ok"),
    "v-failed": total("switchyard_jobs_total", status="failed"),
    "v-inflight": total("switchyard_calls_in_flight"),
    "v-held": total("switchyard_jobs_held"),
    "v-w-slot": total("switchyard_jobs_waiting", on="slot"),
    "v-w-pacing": total("switchyard_jobs_waiting", on="pacing"),
    "v-w-retry": total("switchyard_jobs_waiting", on="retry"),
    "v-dead": total("switchyard_dead_letters_total"),
}
for k, v in want.items():
    assert shown[k] == str(round(v)), (k, shown[k], v)
assert want["v-results"] == 300 and want["v-failed"] == 3
assert abs(float(shown["v-cost"]) - total("switchyard_cost_usd_total")) < 1e-6, (shown["v-cost"], total("switchyard_cost_usd_total"))
assert shown["v-rate"] == "0.0", shown["v-rate"]   # nothing flows any more
br = {(r[0], r[1]): r[2] for r in d.tables["t-breakers"]}
assert br.get(("echo-tier", "small-openai")) == "closed", br
pace = {r[0]: r[1] for r in d.tables["t-pacing"]}
# headroom refills as time passes: the page's reading lies between the two scrapes
lo, hi = (round(100 * total("switchyard_pacing_headroom_ratio", page=p, account="openai")) for p in ("metrics-before.txt", "metrics.txt"))
assert lo <= int(pace.get("openai", "-1%")[:-1]) <= hi, (pace, lo, hi)
tags = {(r[0], r[1]): int(r[2]) for r in d.tables["t-tags"]}
hostile = '<img src=x onerror="document.title=1">'
assert tags.get(("team", hostile)) == 75 and tags.get(("team", "__proto__")) == 75 and tags.get(("team", "search")) == 75, tags
assert not any(tag == "img" for tag, _ in d.tags), "markup from a tag value became an element"
dead = {r[0]: int(r[1]) for r in d.tables["t-dead"]}
assert sum(dead.values()) == want["v-dead"], dead
print(f"ok - the page after {polls} polls shows what /metrics says: {shown['v-results']} results "
      f"({shown['v-failed']} failed), {shown['v-dead']} dead letters, cost {shown['v-cost']}; the markup tag stays text")
PY

# Where a token is required, the page is behind it as /metrics is.
SWITCHYARD_HTTP_TOKEN=$TOKEN start_worker worker2 -p "$P" --state-dir "$T/state2" --http 0.0.0.0:0 --group page-w2
W2=http://127.0.0.1:$(http_port_of "$T/worker2.log")
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$W2/status")" = 401 ] && [ "$(code "$W2/")" = 401 ] || fail "the page without the token: $(code "$W2/status")"
[ "$(code -H "Authorization: Bearer $TOKEN" "$W2/status")" = 200 ] || fail "the page with the token"
ok "bound to 0.0.0.0: the page needs the bearer token (401 without)"
check_logs
