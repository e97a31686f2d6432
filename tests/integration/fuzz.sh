#!/usr/bin/env bash
# Fuzz the job decoder and the JSON reader with libFuzzer (clang) for a bounded time
# (FUZZ_SECONDS, default 30). Skipped, and says so, when clang is missing.
set -euo pipefail
SRC=${SY_SRC:-.}
if ! command -v clang >/dev/null; then echo "skip: clang not installed"; exit 0; fi
T=$(mktemp -d /tmp/switchyard-fuzz.XXXXXX)
trap '[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I"$SRC/common" \
    "$SRC/tests/fuzz/fuzz_job.c" "$SRC"/common/{job,buf,util,msgpack_json,msgpack_check,jscan}.c \
    $(pkg-config --cflags --libs msgpack jansson) -o "$T/fuzz_job"
mkdir -p "$T/corpus"
printf '{"id":"a","task":"t","vars":{"x":1},"metadata":{"m":"v"}}' >"$T/corpus/json"
printf '{"choices":[{"message":{"content":"hi\\u00e9"}}],"usage":{"prompt_tokens":3}}' >"$T/corpus/answer"
printf '"a\\uDFFFb\\uD800"' >"$T/corpus/surrogate"
printf '{"k\\u0000":{"m":"v"}}' >"$T/corpus/nul-key"
printf '\x83\xa2id\xa1a\xa4task\xa1t\xa4vars\x81\xa1x\x01' >"$T/corpus/msgpack"
"$T/fuzz_job" -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 -print_final_stats=1 \
    "$T/corpus" 2>"$T/log" || { tail -40 "$T/log"; echo "FAIL: the fuzzer found a crash"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$T/log"
echo "ok - job decoder and JSON reader fuzzed for ${FUZZ_SECONDS:-30} s without a crash"
