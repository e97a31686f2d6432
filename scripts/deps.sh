#!/usr/bin/env bash
# Install the Debian packages of a list (default .ci/packages: the build and
# the tests; bench/packages: the benchmarks' tools) that are not installed yet.
#   scripts/deps.sh [LIST]
#
# A line is a package name, or "NAME >=VERSION backports": a package wanted
# at least at VERSION, taken from the distribution's backports suite
# (deb.debian.org, "<codename>-backports", added to apt's sources as
# /etc/apt/sources.list.d/switchyard-backports.list) when the distribution's
# own is older. Today that is libcurl only: Debian 12's 7.88 holds ~25 KB
# per HTTP/2 call in flight, the backported 8.x ~19 KB (bench/README.md).
# SY_NO_BACKPORTS=1, a system other than Debian, or a suite that cannot be
# reached (its source is taken out again) keeps the distribution's version
# (switchyard builds and runs with either; a warning says so).
set -euo pipefail
cd "$(dirname "$0")/.."
list=${1:-.ci/packages}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=(); newer=()
while read -r p min from; do
    [ -n "$p" ] || continue
    if [ -n "${min:-}" ] && [ "${from:-}" = backports ] && [ "${SY_NO_BACKPORTS:-0}" != 1 ]; then
        v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
        installed "$p" && dpkg --compare-versions "$v" ge "${min#>=}" && continue
        newer+=("$p")
    else
        installed "$p" || missing+=("$p")
    fi
done <"$list"
[ ${#missing[@]} -eq 0 ] && [ ${#newer[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
keep() { # the distribution's version of the newer ones after all
    echo "deps.sh: warning: $1; keeping the distribution's ${newer[*]}" >&2
    missing+=("${newer[@]}"); newer=()
}
suite=; src=/etc/apt/sources.list.d/switchyard-backports.list
if [ ${#newer[@]} -gt 0 ]; then
    suite=$(. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ] &&
        echo "$VERSION_CODENAME-backports" || true)
    if [ -z "$suite" ]; then keep "not Debian: no backports suite known"
    elif [ ! -e "$src" ]; then echo "deb http://deb.debian.org/debian $suite main" | $SUDO tee "$src" >/dev/null
    fi
fi
echo "installing: ${missing[*]} ${newer[*]}"
$SUDO apt-get update -qq
# An unreachable suite is only a warning of apt-get update's: ask apt
# whether it now knows the suite, and take the source out when not.
if [ ${#newer[@]} -gt 0 ] && ! apt-cache policy | grep -q "n=$suite,"; then
    $SUDO rm -f "$src"
    keep "$suite cannot be reached"
fi
[ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ ${#newer[@]} -gt 0 ]; then
    # curl the command pins libcurl4 to its own version: it moves along.
    also=(); installed curl && also+=(curl)
    want=("${newer[@]}")
    if ! $SUDO apt-get install -y -qq --no-install-recommends -t "$suite" "${want[@]}" "${also[@]}" >/dev/null; then
        keep "not installable from $suite"
        $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
    fi
fi
