"""Where a callgrind profile's instructions go: by stage of a job (the
inclusive count of the function that does it), and by module (the
exclusive count, each function's own and not its callees', summed per
shared object and, for switchyard's own binary, per source file). Used by
bench/callgrind.sh; usage: cg_modules.py CALLGRIND_OUT JOBS."""
import collections
import sys

path, jobs = sys.argv[1], int(sys.argv[2])
binary = "switchyard"  # the profiled program, from the profile's cmd: line
for line in open(path, errors="replace"):
    if line.startswith("cmd:"):
        binary = line.split()[1].rsplit("/", 1)[-1]
        break
root = __file__.rsplit("/bench/", 1)[0] + "/"
# A job's stages, each as the function that does it (inclusive: with all it
# calls). They overlap where one runs inside another (delivery reports run
# the store's puts and the mirrors' produces); the comments say where.
STAGES = [
    ("consume: jobs from Kafka", "rd_kafka_consumer_poll"),
    ("decode the job (msgpack)", "sy_job_decode"),
    ("route and pace (models, accounts)", "route sy_route_begin"),
    ("build the request (adapter, JSON body)", "sy_provider_build"),
    ("hand the call to libcurl (easy handle, headers)", "sy_engine_launch"),
    ("libcurl: send, receive (socket events)", "curl_multi_socket_action"),
    ("read the answer (headers, JSON)", "sy_provider_parse_checked sy_provider_parse"),  # batch: the first
    ("batch output lines: matched to jobs, each checked whole", "sy_batch_match_line"),
    ("encode the result (msgpack / JSON)", "sy_result_encode"),
    ("store puts (3 a job: intent, publishing, published; a batch job 2, no intent)", "sy_store_put"),
    ("group commit (LMDB commit, fdatasync)", "sy_store_commit"),
    ("produces (result + changelog record; a batch job: + PUBLISHED record)", "rd_kafka_producev"),
    ("delivery reports (rd_kafka_poll; runs store puts and the result produce)", "rd_kafka_poll"),
    ("offset commits", "rd_kafka_commit"),
    ("librdkafka's own threads (broker I/O, lz4)", "start_thread"),
]
names = {"ob": {}, "fl": {}, "fn": {}}
self_of, calls_of = collections.Counter(), collections.Counter()
fn = cfn = None
by_ob, by_file = collections.Counter(), collections.Counter()
ob = fl = fi = None
skip_next = False  # the cost line after calls= is the call's inclusive cost


def name_of(kind, rest):
    """'(id) name' defines an id, '(id)' refers to one."""
    table = names[kind]
    if rest.startswith("("):
        ident, _, nm = rest.partition(")")
        nm = nm.strip()
        if nm: table[ident] = nm
        return table.get(ident, "???")
    return rest


for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    if not line: continue
    c = line[0]
    if c.isdigit() or c in "+-*":
        parts = line.split()
        if len(parts) < 2: continue
        n = int(parts[1])
        if skip_next:
            skip_next = False
            if cfn != fn: calls_of[fn] += n
            continue
        self_of[fn] += n
        by_ob[ob] += n
        f = fi or fl
        if ob and ob.endswith("/" + binary): by_file[f] += n
        continue
    key, _, rest = line.partition("=")
    if key == "ob": ob = name_of("ob", rest)
    elif key == "fl": fl, fi = name_of("fl", rest), None
    elif key in ("fi", "fe"): fi = name_of("fl", rest)
    elif key == "fn": fi, fn = None, name_of("fn", rest)
    elif key == "cfn": cfn = name_of("fn", rest)
    elif key in ("cob", "cfi", "cfl"): name_of("ob" if key == "cob" else "fl", rest)
    elif key == "calls": skip_next = True

total = sum(by_ob.values())
print(f"instructions per job by stage (inclusive; start-up included in the total), {total // jobs:,} per job:")
for what, fs in STAGES:
    f = next((f for f in fs.split() if f in self_of), fs.split()[-1])
    n = self_of[f] + calls_of[f]
    print(f"  {n // jobs:9,d}  {100.0 * n / total:5.1f}%  {what}  [{f}]")
print(f"instructions per job (call) by module (exclusive), {jobs} jobs, {total // jobs:,} per job:")
for o, n in by_ob.most_common(14):
    print(f"  {n // jobs:9,d}  {100.0 * n / total:5.1f}%  {(o or '?').rsplit('/', 1)[-1]}")
own = sum(by_file.values())
print(f"{binary}'s own code by source file: {own // jobs:,} per job")
for f, n in by_file.most_common(int(sys.argv[4]) if len(sys.argv) > 4 else 25):
    print(f"  {n // jobs:9,d}  {100.0 * n / total:5.1f}%  {(f or '?').replace(root, '')}")
