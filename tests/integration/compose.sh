#!/usr/bin/env bash
# docker-compose.yml cannot run here (no Docker engine), so check what can
# be checked: it parses, names the services, runs Kafka in KRaft mode,
# creates every topic the example pipelines use, and points the switchyard
# services at pipeline files that exist and pass `switchyard check`; Kafka
# is published to the host with a listener advertised there (and the README
# shows it); the workers' --account-share add up to at most 1; no key from
# the host's usual variables goes to the fake provider by default; the
# image's build context leaves out build directories (.dockerignore).
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
SY_BIN=${SY_BIN:-build/switchyard}
"$PY" - "$SY_BIN" <<'PY'
import json, re, subprocess, sys, yaml
doc = yaml.safe_load(open("docker-compose.yml"))
svc = doc["services"]
need = {"kafka", "kafka-init", "fake-provider", "scheduler", "worker-1", "worker-2"}
assert need <= set(svc), f"missing services: {need - set(svc)}"
env = svc["kafka"]["environment"]
assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"], "kafka is not KRaft"
assert not any("zookeeper" in k.lower() for k in svc), "zookeeper service present"
# kafka-init creates the topics with `switchyard topics --create` (the names
# come from the pipelines: changelogs compacted, with their tier's partitions)
init = svc["kafka-init"]["command"]
assert init[0] == "topics" and "--create" in init, f"kafka-init does not run switchyard topics --create: {init}"
init_files = {init[i + 1] for i, a in enumerate(init) if a == "-p"}
for name in ("scheduler", "worker-1", "worker-2"):
    cmd = svc[name]["command"]
    need = {cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"}
    assert need <= init_files, f"kafka-init does not create the topics of {sorted(need - init_files)}"
assert "kafka-init" not in svc["kafka-init"].get("depends_on", {}), "kafka-init waits for itself"
out = subprocess.run([sys.argv[1] if len(sys.argv) > 1 else "build/switchyard", "check", "--no-keys",
                      *[f.replace("/etc/switchyard/pipelines", "pipelines") for f in sorted(init_files)]],
                     capture_output=True, text=True)
assert out.returncode == 0, out.stderr
for name in ("scheduler", "worker-1", "worker-2"):
    cmd = svc[name]["command"]
    files = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    assert files, f"{name} names no pipeline"
    for f in files:
        local = f.replace("/etc/switchyard/pipelines", "pipelines")
        open(local).close()
    assert svc[name]["environment"]["SWITCHYARD_BROKERS"] == "kafka:9092"
import os
assert os.path.exists("Dockerfile"), "no Dockerfile"
print("ok - docker-compose.yml: services, KRaft, topics, pipelines, Dockerfile")

# Kafka for clients on the host: a published port with a listener advertised
# on localhost at that port, mapped to a protocol
ports = [str(p) for p in svc["kafka"].get("ports", [])]
assert ports, "kafka publishes no port"
host_port = ports[0].split(":")[-2] if ports[0].count(":") >= 1 else ports[0]
adv = dict(l.split("://") for l in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
host_listener = [n for n, a in adv.items() if a == "localhost:" + host_port]
assert host_listener, f"no listener advertised as localhost:{host_port}: {adv}"
name = host_listener[0]
assert name + "://" in env["KAFKA_LISTENERS"], env["KAFKA_LISTENERS"]
assert name + ":" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
assert adv.get("PLAINTEXT") == "kafka:9092", "the containers' listener moved"
readme = open("README.md").read()
assert f"-b localhost:{host_port}" in readme, "README does not show submitting from the host"
print(f"ok - Kafka published on localhost:{host_port} (listener {name}), README shows it")

# the workers pace together within each account's limits
shares = []
for name in ("worker-1", "worker-2"):
    cmd = svc[name]["command"]
    assert "--account-share" in cmd, f"{name} has no --account-share"
    shares.append(float(cmd[cmd.index("--account-share") + 1]))
assert 0 < sum(shares) <= 1.0 + 1e-9, shares
print(f"ok - two workers, account shares {shares} (sum {sum(shares)})")

# keys: the defaults are fake, and a key exported in the host's usual
# variables (OPENAI_API_KEY, ANTHROPIC_API_KEY) is not picked up for them
wenv = svc["worker-1"]["environment"]
for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
    val = wenv[var]
    m = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", val)
    assert m, f"{var}: {val}"
    assert m.group(1) != var and m.group(1).startswith("SWITCHYARD_"), f"{var} comes from ${{{m.group(1)}}}"
    assert "fake" in m.group(2), f"{var} defaults to {m.group(2)}"
    url = wenv[var.replace("API_KEY", "BASE_URL")]
    assert "fake-provider" in url and "SWITCHYARD_" in url, url
print("ok - keys: fake by default, real ones only through SWITCHYARD_* variables")

# the build context: no host build directory (its CMakeCache.txt breaks the
# image's CMake step), no .git
ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
for want in ("build", "build-*", ".git"):
    assert want in ignore, f".dockerignore lacks {want}"
print("ok - .dockerignore: build directories and .git stay out of the image")

# Prometheus scrapes the scheduler and both workers on their --http port,
# with the bearer token they are given; Grafana is provisioned with
# Prometheus as its data source and the switchyard dashboard
import glob
prom = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["prometheus"]["volumes"] if v.startswith("./")}
assert mounts.get("/etc/prometheus/prometheus.yml") == "./deploy/prometheus/prometheus.yml", mounts
(job,) = prom["scrape_configs"]
cred = job["authorization"]["credentials_file"]
assert job["authorization"].get("type", "Bearer") == "Bearer" and cred in mounts, (job["authorization"], mounts)
token = open(mounts[cred][2:]).read().strip()
targets = {t for sc in job["static_configs"] for t in sc["targets"]}
for name in ("scheduler", "worker-1", "worker-2"):
    cmd = svc[name]["command"]
    assert "--http" in cmd, f"{name} serves no /metrics"
    port = cmd[cmd.index("--http") + 1].split(":")[1]
    assert f"{name}:{port}" in targets, f"Prometheus does not scrape {name}:{port}: {targets}"
    assert svc[name]["environment"]["SWITCHYARD_HTTP_TOKEN"] == token, f"{name}: token differs from {cred}"
graf = svc["grafana"]
gm = {v.split(":")[1]: v.split(":")[0] for v in graf["volumes"]}
assert gm.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning", gm
src = yaml.safe_load(open("deploy/grafana/provisioning/datasources/prometheus.yml"))["datasources"][0]
assert src["type"] == "prometheus" and src["url"] == "http://prometheus:9090", src
prov = yaml.safe_load(open("deploy/grafana/provisioning/dashboards/switchyard.yml"))["providers"][0]
assert gm.get(prov["options"]["path"]) == "./deploy/grafana/dashboards", (prov, gm)
dashboards = glob.glob("deploy/grafana/dashboards/*.json")
assert dashboards, "no dashboard"
for d in dashboards:
    for p in json.load(open(d))["panels"]:
        assert p["datasource"]["uid"] == src["uid"], (d, p["title"])
print(f"ok - Prometheus scrapes {sorted(targets)} with the workers' token; Grafana provisioned ({len(dashboards)} dashboard)")

# every metric a panel queries is one the processes write (the names in
# the sources; status.sh checks them against real /metrics pages too)
sys.path.insert(0, "tests/integration")
from dashboard_metrics import queried
written = set()
for f in glob.glob("worker/**/*.c", recursive=True) + glob.glob("scheduler/*.c") + glob.glob("kafka/*.c"):
    written |= set(re.findall(r'"(switchyard_[a-z_]+)"', open(f).read()))
want = queried()
missing = {n: t for n, t in want.items() if n not in written}
assert not missing, f"panels query metrics nobody writes: {missing}"
print(f"ok - the dashboard's {len(want)} metrics are all written by the worker or scheduler")
PY
