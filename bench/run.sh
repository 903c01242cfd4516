#!/usr/bin/env bash
# Builds optimised and runs the benchmarks: the cross-process ring micro-benchmark
# (with a raw cache-line ping-pong probe beside it) and the end-to-end comparison of
# sluice against a bare librdkafka consumer, then messages/s per worker for each handler
# kind (plugin, http, exec). Extra arguments go to e2e_bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target ring_bench e2e_bench handler_bench
echo "## ring (cross-process, per-record publish batched by 64)"
./build-bench/bench/ring_bench --benchmark_min_time=1 --benchmark_counters_tabular=true
echo
echo "## end to end"
./build-bench/bench/e2e_bench "$@"
echo
echo "## handler kinds, one worker each"
./build-bench/bench/handler_bench
