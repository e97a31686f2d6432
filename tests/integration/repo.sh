#!/usr/bin/env bash
# repo.sh -- static checks on the repository's own files, so that what a
# newcomer reads cannot drift from what the code does:
#  * scripts run Debian's python through $PY (${SY_PYTHON:-/usr/bin/python3}),
#    never a bare python3 that may be another Python without python3-yaml.
set -euo pipefail
cd "${SY_SRC:-.}"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

bare=$(grep -n -E '(^|[[:space:](|;&])python3([[:space:]]|$)' tests/integration/*.sh bench/*.sh \
    scripts/*.sh .ci/run | grep -v -E '^[^:]+:[0-9]+:[[:space:]]*#' | grep -v '^tests/integration/repo.sh:' || true)
[ -z "$bare" ] || fail "bare python3 (use \"\$PY\"): $bare"
ok "tests, bench and scripts call \$PY, not python3"
