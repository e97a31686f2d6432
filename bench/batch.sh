#!/usr/bin/env bash
# CPU per job end to end in batch mode: bench/run.sh with bench/batch.yaml
# (the task on a tier with mode: batch, 5,000 jobs per batch), durability on
# (LMDB store with fsync, changelog). The fake provider answers a batch
# BATCH_MS after it is created; the output file of a 5,000-job batch is
# ~5 MB, so the worker's --max-answer-bytes is raised to 64 MiB.
#
#   bench/batch.sh [JOBS=50000] [INFLIGHT=256] [BATCH_MS=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-50000}; INFLIGHT=${2:-256}; BATCH_MS=${3:-1000}
BENCH_PIPELINE=bench/batch.yaml \
FAKE_ARGS="--batch-ms $BATCH_MS --rpm 100000000 --tpm 100000000000" \
WORKER_ARGS="--max-answer-bytes 67108864 --max-jobs 20000 --max-jobs-per-partition 20000 ${WORKER_ARGS:-}" \
    exec bench/run.sh "$JOBS" "$INFLIGHT" 1 # (no single calls: run.sh's "ideal" does not apply)
