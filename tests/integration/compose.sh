#!/usr/bin/env bash
# docker-compose.yml cannot run here (no Docker engine), so check what can
# be checked: it parses, names the services, runs Kafka in KRaft mode,
# creates every topic the example pipelines use, and points the switchyard
# services at pipeline files that exist and pass `switchyard check`.
set -euo pipefail
SY_BIN=${SY_BIN:-build/switchyard}
python3 - "$SY_BIN" <<'PY'
import re, subprocess, sys, yaml
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
PY
