"""The exactly-once check shared by the crash tests (crash.sh, two_workers.sh).

usage: exactly_once.py RESULTS CALLS MAYBE_TWICE N PREFIX

RESULTS      JSON lines read back from the output topic (echo task)
CALLS        the fake provider's call log
MAYBE_TWICE  keys whose call may have been in flight when a worker died
Asserts: every job PREFIX0..PREFIX(N-1) has exactly one result with the
right echo; no job was called successfully twice unless it is listed in
MAYBE_TWICE. Prints the counts."""
import collections, json, sys

results_file, calls_file, maybe_file, n, prefix = sys.argv[1:6]
n = int(n)
results = [json.loads(l) for l in open(results_file) if l.strip()]
per_job = collections.Counter(r["job_id"] for r in results)
lost = [f"{prefix}{i}" for i in range(n) if per_job[f"{prefix}{i}"] == 0]
dups = [k for k, c in per_job.items() if c > 1]
def want(r):
    i = r["job_id"][len(prefix):]
    return f"ECHO Say w{i} number {i}"
bad = [r for r in results if r["status"] != "ok" or r["output"] != want(r)]
calls = collections.Counter()
for l in open(calls_file):
    c = json.loads(l)
    if c["status"] == 200: calls[c["job"]] += 1
twice = sorted(k for k, c in calls.items() if c > 1)
maybe = set(open(maybe_file).read().split())
unexplained = [k for k in twice if k not in maybe]
print(f"results {len(results)} for {len(per_job)} jobs; lost {len(lost)}; duplicate results {len(dups)}; wrong content {len(bad)}")
print(f"provider: {sum(calls.values())} successful calls; jobs called twice {len(twice)}; "
      f"in flight when a worker died (may be paid twice) {len(maybe)}; called twice though success was stored {len(unexplained)}")
assert not lost, lost[:10]
assert not dups, dups[:10]
assert not bad, bad[:3]
assert not unexplained, unexplained[:10]
assert len(results) == n
