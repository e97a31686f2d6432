#!/usr/bin/env bash
# The test command: install missing packages, configure, build, run every
# test with ctest.   scripts/test.sh [BUILD_DIR]   (SY_SANITIZE=ON: ASan+UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
dir=${1:-build}
cmake -S . -B "$dir" -DSY_SANITIZE="${SY_SANITIZE:-OFF}" -DSY_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure
