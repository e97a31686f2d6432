#!/usr/bin/env bash
# The request bodies each provider module builds validate against the
# providers' published API descriptions in ../shared/specs/ (OpenAI's
# OpenAPI file, Anthropic's, Azure OpenAI's 2024-10-21 inference spec):
# request-dump prints the request of every task of tests/pipelines/specs.yaml
# (every kind, every task parameter) and tests/tools/spec_check.py checks
# each body against the operation's request schema, its URL and key header.
# The checker first shows it catches bad bodies (--self-test).
# SY_SPECS points elsewhere; skipped (77) when the folder is absent and
# SY_SPECS is not set (a checkout without shared/ beside it).
set -euo pipefail
cd "${SY_SRC:-.}"
PY=${SY_PYTHON:-/usr/bin/python3}
SY_REQUEST_DUMP=${SY_REQUEST_DUMP:-build/tests/request-dump}
specs=${SY_SPECS:-../shared/specs}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
if [ ! -f "$specs/openai-openapi.yaml" ]; then
    [ -z "${SY_SPECS:-}" ] || fail "SY_SPECS=$SY_SPECS has no openai-openapi.yaml"
    echo "SKIP: no provider specs at $specs (set SY_SPECS)"
    exit 77
fi
"$PY" tests/tools/spec_check.py --self-test "$specs" || fail "the spec checker missed bad requests"
ok "the checker catches off-spec bodies, URLs and key headers"
T=$(mktemp -d /tmp/switchyard-specs.XXXXXX)
trap 'rm -rf "$T"' EXIT
SPEC_KEY=spec-test-key "$SY_REQUEST_DUMP" tests/pipelines/specs.yaml >"$T/requests.jsonl" ||
    fail "request-dump"
grep -q spec-test-key "$T/requests.jsonl" && fail "request-dump printed the key"
"$PY" tests/tools/spec_check.py "$specs" <"$T/requests.jsonl" >"$T/out" || fail "off-spec requests: $(cat "$T/out")"
for kind in openai anthropic azure-openai openai-compatible; do
    grep -q "\"kind\":\"$kind\"" "$T/requests.jsonl" || fail "no request of kind $kind checked"
done
grep -q '"op":"embeddings"' "$T/requests.jsonl" || fail "no embeddings request checked"
ok "$(cat "$T/out")"
