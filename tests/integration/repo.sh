#!/usr/bin/env bash
# repo.sh -- static checks on the repository's own files, so that what a
# newcomer reads cannot drift from what the code does:
#  * scripts run Debian's python through $PY (${SY_PYTHON:-/usr/bin/python3}),
#    never a bare python3 that may be another Python without python3-yaml.
set -euo pipefail
cd "${SY_SRC:-.}"
PY=${SY_PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

bare=$(grep -n -E '(^|[[:space:](|;&])python3([[:space:]]|$)' tests/integration/*.sh bench/*.sh \
    scripts/*.sh .ci/run | grep -v -E '^[^:]+:[0-9]+:[[:space:]]*#' | grep -v '^tests/integration/repo.sh:' || true)
[ -z "$bare" ] || fail "bare python3 (use \"\$PY\"): $bare"
ok "tests, bench and scripts call \$PY, not python3"

# ---- pipelines/README.md documents every key the loader accepts ----------------
# The loader's lists (config/pipeline.c: *_keys[], strategies, parse and format
# names), the JSON schema (schemas/pipeline.schema.json) and the README must
# agree, so that neither the docs nor the schema drift from the code. The
# provider kinds and their options are one list in worker/providers/kinds.c:
# tests/unit/test_providers.c checks the schema against it, and below the
# README is checked against `switchyard check --kinds`.
"$PY" - <<'PY' || fail "pipeline keys: loader, schema and pipelines/README.md disagree"
import json, re, sys
src = open("config/pipeline.c").read()
lists = {m.group(1): re.findall(r'"([^"]*)"', m.group(2))
         for m in re.finditer(r'static const char \*const (\w+)\[\] = \{(.*?)\};', src, re.S)}
schema = json.load(open("schemas/pipeline.schema.json"))
d = schema["$defs"]
props = lambda node: set(node["properties"])
pairs = {  # loader list -> the schema's keys or values for the same place
    "top_keys": props(schema), "provider_keys": props(d["provider"]),
    "limits_keys": props(d["provider"]["properties"]["limits"]), "model_keys": props(d["model"]),
    "price_keys": props(d["model"]["properties"]["price_per_mtok"]),
    "tier_keys": props(d["tier"]), "tier_model_keys": props(d["tierModel"]["oneOf"][1]),
    "breaker_keys": props(d["tier"]["properties"]["breaker"]),
    "retry_keys": props(d["tier"]["properties"]["retry"]), "task_keys": props(d["task"]),
    "prompt_keys": props(d["task"]["properties"]["prompt"]),
    "output_keys": props(d["task"]["properties"]["output"]),
    "strategies": set(d["tier"]["properties"]["strategy"]["enum"]),
    "parse_names": set(d["task"]["properties"]["output"]["properties"]["parse"]["enum"]),
    "format_names": set(d["task"]["properties"]["output"]["properties"]["format"]["enum"]),
}
bad = []
missing = set(pairs) - set(lists)
if missing:
    bad.append(f"lists not found in config/pipeline.c: {sorted(missing)}")
for name, want in pairs.items():
    have = set(lists.get(name, []))
    if have != want:
        bad.append(f"{name}: loader {sorted(have)} vs schema {sorted(want)}")
readme = open("pipelines/README.md").read()
for name in pairs:
    for key in lists.get(name, []):
        # documented: in backticks (`key`, `a.key`) or as a key of the YAML reference
        if not re.search(r"`(?:[\w-]+\.)?%s`|(?:^\s*|[{,]\s*)%s:" % (re.escape(key), re.escape(key)),
                         readme, re.M):
            bad.append(f"pipelines/README.md does not document '{key}' ({name})")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "every loader key is in the schema and documented in pipelines/README.md"

kinds=$("${SY_BIN:-build/switchyard}" check --kinds) || fail "switchyard check --kinds"
KINDS=$kinds "$PY" - <<'PY' || fail "provider kinds: pipelines/README.md does not document them all"
import os, re, sys
readme = open("pipelines/README.md").read()
bad = []
for line in os.environ["KINDS"].splitlines()[1:]:
    kind = line.split()[0]
    words = [kind] + re.findall(r"([\w-]+) \((?:token|integer|list|map)\)", line)
    for w in words:
        if not re.search(r"`%s`" % re.escape(w), readme):
            bad.append(f"pipelines/README.md does not document `{w}` (kind {kind})")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "every provider kind and option (switchyard check --kinds) is documented in pipelines/README.md"
