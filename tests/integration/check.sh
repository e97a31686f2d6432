#!/usr/bin/env bash
# check.sh -- `switchyard check` end to end.
#
#  * every tests/pipelines/bad/*.yaml exits 1 and prints exactly the errors
#    its "# expect: LINE:COL: substring" lines name, as file:LINE:COL: ...;
#  * the example pipelines pass with the API key variables set, fail naming
#    the variables without them, pass with --lint (CI: no keys), which lists
#    every unset variable a run needs (keys, ${NAME} without default) as a
#    warning with its place, and still fails on every other error;
#  * names are global across files (cross-file references and duplicates);
#  * the summary names strategies as written; provider options per kind;
#    --kinds lists the provider kinds;
#  * the value of a key never appears in any output;
#  * --help, usage errors and unreadable files;
#  * only regular files are read (not a directory, FIFO or /dev/zero), of at
#    most 1 MB; 40,000 levels of nesting are refused at once at file:line:col.
set -euo pipefail
cd "${SY_SRC:-.}"
SY_BIN=${SY_BIN:-build/switchyard}
T=$(mktemp -d /tmp/switchyard-check.XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# run NAME ARGS...: switchyard check ARGS, output in $T/NAME.out/.err, status in $rc
run() {
    local name=$1
    shift
    set +e
    "$SY_BIN" check "$@" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    set -e
}
want_rc() { [ "$rc" = "$1" ] || fail "$2: exit status $rc, want $1; stderr: $(cat "$T/$3.err")"; }
has() { grep -qF -- "$2" "$T/$1" || fail "$1 lacks '$2'; it has: $(cat "$T/$1")"; }

unset OPENAI_API_KEY ANTHROPIC_API_KEY OPENAI_BASE_URL ANTHROPIC_BASE_URL || true
unset SWITCHYARD_TEST_SURELY_UNSET_VAR || true

# ---- bad files ------------------------------------------------------------------------
n=0
for f in tests/pipelines/bad/*.yaml; do
    head -n 1 "$f" | grep -q '^# expect: ' || fail "$f does not start with '# expect:'"
    run bad --no-keys "$f"
    want_rc 1 "$f" bad
    while IFS= read -r line; do
        want=${line#\# expect: }
        pos=${want%%: *}
        msg=${want#*: }
        grep -F -- "$f:$pos: " "$T/bad.err" | grep -qF -- "$msg" ||
            fail "$f: expected '$f:$pos: ...$msg...'; got: $(cat "$T/bad.err")"
    done < <(grep '^# expect: ' "$f")
    expected=$(grep -c '^# expect: ' "$f")
    got=$(grep -c -- "^$f:[0-9]*:[0-9]*: " "$T/bad.err" || true)
    [ "$got" = "$expected" ] || fail "$f: $got errors, expected $expected: $(cat "$T/bad.err")"
    [ ! -s "$T/bad.out" ] || fail "$f: printed a summary although invalid"
    n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n bad pipeline files"
ok "$n bad pipeline files rejected with exactly their expected errors"

# ---- the example pipelines -------------------------------------------------------------
GOOD=(pipelines/support-tickets.yaml pipelines/summarize.yaml)
export OPENAI_API_KEY=sk-proj-check-SECRET-0e1f2a ANTHROPIC_API_KEY=sk-ant-check-SECRET-9b8c7d
run good "${GOOD[@]}"
want_rc 0 "examples with keys" good
has good.out "ok: 2 files, 2 providers, 4 models, 3 tiers, 3 tasks"
has good.out "classify -> fast-classifier (ordered) -> gpt-4o-mini, claude-haiku; output switchyard.results.classify (json, msgpack)"
has good.out "triage-reply -> strong-analyst (ordered) -> claude-sonnet, gpt-4o; output switchyard.results.triage-reply"
has good.out "summarize -> bulk-summarizer (weighted) -> claude-haiku (80), gpt-4o-mini (20); output switchyard.results.summarize (text, json)"
has good.out "https://api.openai.com/v1"
[ ! -s "$T/good.err" ] || fail "valid pipelines printed errors: $(cat "$T/good.err")"
ok "example pipelines are valid with the keys set"

OPENAI_BASE_URL=http://127.0.0.1:9/v1/ run env "${GOOD[@]}"
want_rc 0 "base URL from the environment" env
has env.out "http://127.0.0.1:9/v1 "
ok "\${OPENAI_BASE_URL:-...} takes the environment's value, trailing slash removed"

OPENAI_BASE_URL=http://127.0.0.1:9/v1 ANTHROPIC_BASE_URL=http://127.0.0.1:9/v1 \
    run e2e tests/pipelines/e2e.yaml
want_rc 0 "tests/pipelines/e2e.yaml" e2e
ok "the e2e test pipeline is valid"

# Names come from the loader's tables: every strategy as written (check
# printed "ordered" for anything not weighted).
OPENAI_BASE_URL=http://127.0.0.1:9/v1 FLAKY_BASE_URL=http://127.0.0.1:9/v1 \
    run routing --no-keys tests/pipelines/routing.yaml
want_rc 0 "tests/pipelines/routing.yaml" routing
has routing.out "  cheap -> cheap (cheapest) -> m-a, m-c, m-tiny, m-b; output"
has routing.out "  single -> single (ordered) -> m-a; output"
ok "check names a tier's strategy as the pipeline does (cheapest)"

# Provider options: given ones are shown; a key the kind does not accept
# is an error at its place, naming the kind.
cat >"$T/options.yaml" <<'EOF'
version: 1
providers:
  a:
    kind: anthropic
    api_key_env: ANTHROPIC_API_KEY
    options: {api_version: 2024-10-22}
  o:
    kind: openai
    api_key_env: OPENAI_API_KEY
    options:
      organization: org-abc
      api_version: 2024-10-22
EOF
run options --no-keys "$T/options.yaml"
want_rc 1 "an option of another kind" options
has options.err "$T/options.yaml:12:7: unknown key 'api_version' in options of provider 'o' (kind openai)"
[ "$(grep -c "^$T/options.yaml:" "$T/options.err")" = 1 ] || fail "options: not exactly one error: $(cat "$T/options.err")"
sed -i '/^      api_version: 2024-10-22$/d' "$T/options.yaml"
run options2 --no-keys "$T/options.yaml"
want_rc 0 "accepted options" options2
has options2.out "  a            anthropic         https://api.anthropic.com/v1  key \$ANTHROPIC_API_KEY (set)  options api_version=2024-10-22"
has options2.out "  o            openai            https://api.openai.com/v1  key \$OPENAI_API_KEY (set)  options organization=org-abc"
ok "provider options: shown when accepted, rejected at file:line:col when of another kind"

# --kinds: the product's list of provider kinds (worker/providers/kinds.c)
run kinds --kinds
want_rc 0 "--kinds" kinds
[ "$(awk 'NR > 1 {print $1}' "$T/kinds.out" | tr '\n' ' ')" = "openai anthropic openai-compatible azure-openai " ] ||
    fail "--kinds: $(cat "$T/kinds.out")"
has kinds.out "anthropic          https://api.anthropic.com/v1   required  api_version (token), drop_params (list), rename_params (map)"
has kinds.out "openai-compatible  (required)                     optional  drop_params (list), rename_params (map)"
has kinds.out "azure-openai       (required)                     required  api_version (token), drop_params (list), rename_params (map)"
ok "--kinds lists the provider kinds, their defaults and options"

# A key variable used where it does not belong is still never echoed.
cat >"$T/leak.yaml" <<'EOF'
version: 1
providers:
  leaky:
    kind: openai
    base_url: ${OPENAI_API_KEY}
    api_key_env: OPENAI_API_KEY
models:
  m:
    provider: leaky
    name: ${ANTHROPIC_API_KEY}
    price_per_mtok: {input: 1, output: 1}
    context_window: ${ANTHROPIC_API_KEY}
EOF
run leak "$T/leak.yaml"
want_rc 1 "key variables in the wrong place" leak
has leak.err "$T/leak.yaml:5:15: base_url of provider 'leaky' must start with http:// or https://"
has leak.err "$T/leak.yaml:12:21: context_window of model 'm' must be an integer >= 1"

unset OPENAI_API_KEY ANTHROPIC_API_KEY
run nokeys "${GOOD[@]}"
want_rc 1 "examples without keys" nokeys
has nokeys.err "pipelines/support-tickets.yaml:15:18: environment variable OPENAI_API_KEY (api key of provider 'openai') is not set"
has nokeys.err "pipelines/support-tickets.yaml:20:18: environment variable ANTHROPIC_API_KEY (api key of provider 'anthropic') is not set"
ok "without the keys: fails naming the variables"

OPENAI_API_KEY= ANTHROPIC_API_KEY=x run emptykey "${GOOD[@]}"
want_rc 1 "empty key" emptykey
has emptykey.err "environment variable OPENAI_API_KEY (api key of provider 'openai') is empty"
ok "an empty key variable is an error"

run nocheck --no-keys "${GOOD[@]}"
want_rc 0 "--no-keys" nocheck
has nocheck.out "key \$OPENAI_API_KEY (not set)"
ok "--no-keys skips the key check"

# --lint: no key and no base URL set (CI); e2e.yaml has ${OPENAI_BASE_URL} without default
run strict tests/pipelines/e2e.yaml
want_rc 1 "e2e.yaml, strict, nothing set" strict
has strict.err "tests/pipelines/e2e.yaml:7:15: environment variable OPENAI_BASE_URL is not set"
run lint --lint tests/pipelines/e2e.yaml
want_rc 0 "--lint with nothing set" lint
has lint.out "ok: 1 file"
has lint.err "switchyard check: warning: 4 uses of environment variables not set here; a run will need them:"
has lint.err "tests/pipelines/e2e.yaml:7:15: OPENAI_BASE_URL (used in base_url of provider 'openai')"
has lint.err "tests/pipelines/e2e.yaml:8:18: OPENAI_API_KEY (api key of provider 'openai')"
has lint.err "tests/pipelines/e2e.yaml:11:15: ANTHROPIC_BASE_URL (used in base_url of provider 'anthropic')"
run lintgood --lint "${GOOD[@]}"
want_rc 0 "--lint, example pipelines" lintgood
has lintgood.err "pipelines/support-tickets.yaml:20:18: ANTHROPIC_API_KEY (api key of provider 'anthropic')"
cat >"$T/lintbad.yaml" <<'EOF'
version: 1
providers:
  p:
    kind: openai
    base_url: ${SOME_URL}
    api_key_env: SOME_KEY
    limits: {requests_per_minute: "${RPM}", tokens_per_minute: -5}
EOF
run lintbad --lint "$T/lintbad.yaml"
want_rc 1 "--lint still checks the rest" lintbad
has lintbad.err "$T/lintbad.yaml:7:64: limits.tokens_per_minute of provider 'p' must be"
grep -q "RPM\|SOME_URL" "$T/lintbad.err" && fail "an invalid file listed its variables as errors: $(cat "$T/lintbad.err")"
ok "--lint: valid without keys or base URLs, lists what a run needs as warnings, fails on real errors"

# ---- names are global across files ------------------------------------------------------
run alone --no-keys pipelines/summarize.yaml
want_rc 1 "summarize.yaml alone" alone
has alone.err "pipelines/summarize.yaml:13:17: unknown model 'claude-haiku' in tier 'bulk-summarizer'"
cat >"$T/dup.yaml" <<'EOF'
version: 1
models:
  gpt-4o:
    provider: openai
    name: gpt-4o-2024-08-06
    price_per_mtok: {input: 2.50, output: 10.00}
EOF
run dup --no-keys "${GOOD[@]}" "$T/dup.yaml"
want_rc 1 "duplicate across files" dup
has dup.err "$T/dup.yaml:3:3: duplicate model 'gpt-4o' (first defined at pipelines/support-tickets.yaml:29:3)"
ok "references resolve across files; duplicates across files are errors"

# ---- the key never shows ------------------------------------------------------------------
for f in "$T"/*.out "$T"/*.err; do
    if grep -q 'SECRET' "$f"; then fail "a key value appears in $f: $(cat "$f")"; fi
done
ok "no key value in any output"

# ---- usage --------------------------------------------------------------------------------
run help --help
want_rc 0 "--help" help
has help.out "usage: switchyard check [--lint] FILE..."
run nofiles
want_rc 2 "no files" nofiles
run badopt --frobnicate pipelines/summarize.yaml
want_rc 2 "unknown option" badopt
run missing --no-keys "$T/does-not-exist.yaml"
want_rc 1 "unreadable file" missing
has missing.err "$T/does-not-exist.yaml: cannot read: No such file or directory"
ok "--help, usage errors (2), unreadable file (1)"

# ---- only regular files, bounded in size and depth ----------------------------------------------
mkdir "$T/dir.yaml"
mkfifo "$T/fifo.yaml"
for f in "$T/dir.yaml" "$T/fifo.yaml" /dev/zero; do
    set +e
    timeout 10 "$SY_BIN" check --no-keys "$f" >"$T/special.out" 2>"$T/special.err"
    rc=$?
    set -e
    want_rc 1 "$f" special
    grep -q "^$f: cannot read: .*, not a regular file$" "$T/special.err" || fail "$f: $(cat "$T/special.err")"
done
ok "a directory, a FIFO (nobody writing) and /dev/zero are refused, naming the file"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$T/big.yaml"
run big --no-keys "$T/big.yaml"
want_rc 1 "a file over 1 MB" big
has big.err "$T/big.yaml: cannot read: larger than 1 MB, the limit of a pipeline file"
ok "a file over 1 MB is refused"
# 40,000 levels of flow lists (80 KB): libyaml's loader alone took 5.6 s
{ printf 'version: 1\nproviders: '; head -c 40000 /dev/zero | tr '\0' '['; head -c 40000 /dev/zero | tr '\0' ']'; echo; } >"$T/deep.yaml"
t0=$(date +%s%N)
run deep --no-keys "$T/deep.yaml"
ms=$((($(date +%s%N) - t0) / 1000000))
want_rc 1 "40,000 levels" deep
has deep.err "$T/deep.yaml:2:75: nested deeper than 64 levels"
[ "$ms" -lt 1000 ] || fail "40,000 levels took $ms ms"
ok "40,000 levels of nesting refused at file:2:75 in $ms ms"
