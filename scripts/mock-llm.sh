#!/usr/bin/env bash
# An OpenAI-compatible server this project did not write, for the tests of
# the openai-compatible kind (tests/integration/compat_server.sh):
# @dwmkerr/mock-llm, an npm package (Express) that answers
# /v1/chat/completions from rules in a YAML file (JMESPath matches on the
# request, templated bodies, any status). Its default answer has no
# `usage`, no rate-limit headers and only some of OpenAI's fields.
#
#   scripts/mock-llm.sh install            installs it (once) and prints its main.js
#   scripts/mock-llm.sh run CONFIG PORT     runs it on 127.0.0.1:PORT (foreground)
#
# The package (one pinned version) is installed with npm into a cache
# outside the repository: ${SY_NPM_CACHE:-~/.cache/switchyard}/mock-llm-<version>.
# Exit 3 when npm or node is missing or the registry cannot be reached, so a
# test can tell "cannot install" from a failure.
set -euo pipefail
version=0.1.29
cache=${SY_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard}
dir=$cache/mock-llm-$version
main=$dir/node_modules/@dwmkerr/mock-llm/dist/main.js

install() {
    [ -f "$main" ] && return 0
    command -v npm >/dev/null && command -v node >/dev/null ||
        { echo "mock-llm.sh: npm and node are needed (apt-get install npm)" >&2; exit 3; }
    mkdir -p "$cache"
    rm -rf "$dir.tmp"
    if ! timeout 300 npm install --no-audit --no-fund --loglevel=error --prefix "$dir.tmp" \
        "@dwmkerr/mock-llm@$version" >"$cache/mock-llm-npm.log" 2>&1; then
        cat "$cache/mock-llm-npm.log" >&2
        echo "mock-llm.sh: npm could not install @dwmkerr/mock-llm@$version (registry unreachable?)" >&2
        rm -rf "$dir.tmp"
        exit 3
    fi
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
}

case "${1:-}" in
install) install; echo "$main" ;;
run)
    [ $# = 3 ] || { echo "usage: mock-llm.sh run CONFIG PORT" >&2; exit 2; }
    install
    HOST=127.0.0.1 PORT=$3 exec node "$main" --config "$2" ;;
*) echo "usage: mock-llm.sh install | run CONFIG PORT" >&2; exit 2 ;;
esac
