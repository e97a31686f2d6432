#!/usr/bin/env bash
# The main job end to end on the embedded defaults: install missing
# packages, build, run `switchyard demo` (broker, fake provider, scheduler,
# worker; submits examples/; prints a summary). Extra arguments go to demo,
# e.g. scripts/demo.sh --real (real providers, needs API keys).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target switchyard fake-provider
exec ./build/switchyard demo "$@"
