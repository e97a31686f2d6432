#!/usr/bin/env bash
# The fuzz command: build the libFuzzer targets with clang (tests/fuzz/,
# CMake option SY_FUZZ) and run each for a bounded time from its seed
# corpus (tests/fuzz/corpus/<target>/). Fails if any target found a crash,
# leak, sanitizer report or timeout, printing each reproducer.
#   scripts/fuzz.sh [BUILD_DIR] [TARGET...]    (default build-fuzz, every target)
#   FUZZ_SECONDS=25   time per target
#   FUZZ_JOBS=N       targets run at once (default: one per core)
# Reproduce a crash: BUILD_DIR/tests/fuzz/fuzz_<target> CRASH_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
shift || true
./scripts/deps.sh
CC=clang cmake -S . -B "$dir" -DSY_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for src in tests/fuzz/fuzz_*.c; do t=${src##*/fuzz_}; targets+=("${t%.c}"); done
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-fuzz.XXXXXX")
trap '[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT
failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target: its log, its reproducers, and its status line in $T/<t>/status.
fuzz_one() { # target
    local t=$1 runs
    mkdir -p "$T/$t/new"
    # New inputs go to the scratch directory (first), never into the seeds.
    if ! "$dir/tests/fuzz/fuzz_$t" -max_total_time="${FUZZ_SECONDS:-25}" -max_len=8192 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$T/$t/" \
        "$T/$t/new" "tests/fuzz/corpus/$t" >"$T/$t/log" 2>&1; then
        echo fail >"$T/$t/status"
        return
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$T/$t/log" | grep -o '[0-9]*$' || true)
    echo "ok - fuzz_$t: ${runs:-?} inputs in ${FUZZ_SECONDS:-25} s, no crash" >"$T/$t/status"
}
# Each target is one single-threaded process: FUZZ_JOBS of them (default one
# per core) run at once, each still for its FUZZ_SECONDS.
jobs_max=${FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    fuzz_one "$t" &
done
wait
for t in "${targets[@]}"; do
    if [ "$(cat "$T/$t/status" 2>/dev/null)" = fail ] || [ ! -s "$T/$t/status" ]; then
        tail -60 "$T/$t/log"
        for a in "$T/$t"/crash-* "$T/$t"/leak-* "$T/$t"/timeout-* "$T/$t"/oom-*; do
            [ -f "$a" ] || continue
            echo "reproducer ($a), base64:"
            base64 -w0 "$a"
            echo
        done
        echo "FAIL: fuzz_$t found a crash"
        failed+=("$t")
        continue
    fi
    cat "$T/$t/status"
done
[ ${#failed[@]} -eq 0 ] || { echo "FAIL: crashes in: ${failed[*]}"; exit 1; }
