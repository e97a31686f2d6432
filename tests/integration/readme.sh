#!/usr/bin/env bash
# The README's pipeline examples are pipelines: every ```yaml block of
# README.md that declares providers is loaded by `switchyard check` as it
# stands (its api_key_env variables set to a dummy value), and the
# sections that promise one (a section per provider kind, embeddings,
# batch tiers, structured output) each hold such a block.
source "$(dirname "$0")/lib.sh"
"$PY" - "$T" "$SY_BIN" <<'PY' || fail "README examples"
import os, re, subprocess, sys
t, bin_ = sys.argv[1], sys.argv[2]
text = open("README.md", encoding="utf-8").read()
want = ["### openai", "### anthropic", "### azure-openai", "### openai-compatible",
        "### Embeddings (tasks of `kind: embedding`)", "### Batch tiers", "## Structured output"]
sections = {}  # heading -> its text, up to the next heading
for m in re.finditer(r"^(#{2,3} .*)$", text, re.M):
    end = re.compile(r"^#{2,3} ", re.M).search(text, m.end())
    sections[m.group(1)] = text[m.end():end.start() if end else len(text)]
checked, bad = 0, []
for heading, body in sections.items():
    for i, b in enumerate(re.findall(r"```yaml\n(.*?)```", body, re.S)):
        if not re.search(r"^providers:", b, re.M):
            continue
        path = f"{t}/example-{checked}.yaml"
        open(path, "w").write(b)
        env = dict(os.environ, **{k: "sk-dummy" for k in re.findall(r"api_key_env: (\w+)", b)})
        r = subprocess.run([bin_, "check", path], capture_output=True, text=True, env=env)
        checked += 1
        if r.returncode:
            bad.append(f"{heading} (block {i + 1}): {r.stdout}{r.stderr}")
        sections[heading] = body + "\0complete"
missing = [h for h in want if h not in sections or not sections[h].endswith("\0complete")]
assert not missing, f"sections without a complete pipeline example: {missing}"
assert not bad, "\n".join(bad)
print(f"ok - {checked} README pipeline examples load with switchyard check; "
      f"{len(want)} sections each have one")
PY
