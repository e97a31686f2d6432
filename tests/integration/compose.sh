#!/usr/bin/env bash
# docker-compose.yml cannot run here (no Docker engine), so check what can
# be checked: it parses, names the services, runs Kafka in KRaft mode,
# creates every topic the example pipelines use, and points the switchyard
# services at pipeline files that exist and pass `switchyard check`.
set -euo pipefail
# Debian's python (has python3-yaml); python3 on PATH may be another one.
PY=${SY_PYTHON:-/usr/bin/python3}
SY_BIN=${SY_BIN:-build/switchyard}
"$PY" - "$SY_BIN" <<'PY'
import re, subprocess, sys, yaml
doc = yaml.safe_load(open("docker-compose.yml"))
svc = doc["services"]
need = {"kafka", "kafka-init", "fake-provider", "scheduler", "worker-1", "worker-2"}
assert need <= set(svc), f"missing services: {need - set(svc)}"
env = svc["kafka"]["environment"]
assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"], "kafka is not KRaft"
assert not any("zookeeper" in k.lower() for k in svc), "zookeeper service present"
init = " ".join(svc["kafka-init"]["command"])
# every topic the pipelines route to or publish on is created
out = subprocess.run([sys.argv[1] if len(sys.argv) > 1 else "build/switchyard", "check", "--no-keys",
                      "pipelines/support-tickets.yaml", "pipelines/summarize.yaml"],
                     capture_output=True, text=True)
assert out.returncode == 0, out.stderr
topics = set(re.findall(r"switchyard\.[a-z0-9.-]+", out.stdout)) | {"switchyard.jobs", "switchyard.dlq"}
for tier in ("fast-classifier", "strong-analyst", "bulk-summarizer"):
    topics.add("switchyard.tier." + tier)
missing = [t for t in topics if t not in init]
assert not missing, f"kafka-init does not create {missing}"
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
PY
