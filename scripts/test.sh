#!/usr/bin/env bash
# The test command: install missing packages, configure, build, run every
# test with ctest.   scripts/test.sh [BUILD_DIR]   (SY_SANITIZE=ON: ASan+UBSan;
# SY_REAL_KAFKA=0: without the tests on a real Kafka)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
dir=${1:-build}
cmake -S . -B "$dir" -DSY_SANITIZE="${SY_SANITIZE:-OFF}" -DSY_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The real-Kafka pass (ctest label realkafka, Java + Maven, see
# scripts/kafka.sh) runs in the normal build only: the sanitizers look at
# switchyard's code, which the embedded-broker pass already covers.
ctest_args=()
if [ "${SY_SANITIZE:-OFF}" = ON ] || [ "${SY_REAL_KAFKA:-1}" = 0 ]; then
    ctest_args+=(-LE realkafka)
else
    ./scripts/kafka.sh resolve # the broker's jars, once (cached outside the repo)
fi
ctest --test-dir "$dir" --output-on-failure "${ctest_args[@]+"${ctest_args[@]}"}"
