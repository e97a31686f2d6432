#!/usr/bin/env bash
# Install the Debian packages of a list (default .ci/packages: the build and
# the tests; bench/packages: the benchmarks' tools) that are not installed yet.
#   scripts/deps.sh [LIST]
set -euo pipefail
cd "$(dirname "$0")/.."
list=${1:-.ci/packages}
missing=()
for p in $(cat "$list"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
