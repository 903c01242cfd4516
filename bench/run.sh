#!/usr/bin/env bash
# The benchmark suite in one command: builds optimised, runs the ring against raw
# cache-line probes, the end-to-end suite (sluice vs a bare librdkafka consumer and the
# peers, handler-bound, open-loop latency, RSS, loss/duplicates), the handler kinds and
# schema-registry decoding,
# and writes a markdown report and a PNG plot to build-bench/report/.
#   bench/run.sh [--update-docs] [e2e_bench options, e.g. --runs 5]
# --update-docs copies the report and plot to docs/benchmarks.md and docs/benchmarks.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
update_docs=0
args=()
for a in "$@"; do
  if [ "$a" = --update-docs ]; then update_docs=1; else args+=("$a"); fi
done
bash scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target ring_bench e2e_bench handler_bench schema_bench >/dev/null
out=build-bench/report
mkdir -p "$out"
report=$out/benchmarks.md
{
  echo "# sluice benchmarks"
  echo
  echo "Made by \`bench/run.sh ${*}\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Every figure comes from this one run; ratios compare contenders measured interleaved on the same machine."
  echo
  echo "## End to end"
  echo
} > "$report"
./build-bench/bench/e2e_bench --out "$out" "${args[@]}" | tee "$out/e2e.log" | sed -n '/^machine:/,$p' >> "$report"
{
  echo
  echo "![throughput and latency](benchmarks.png)"
  echo
  echo "## Ring between two processes"
  echo
} >> "$report"
./build-bench/bench/ring_bench | tee "$out/ring.log" >> "$report"
{
  echo
  echo "## Handler kinds, one worker each"
  echo
} >> "$report"
./build-bench/bench/handler_bench | tee "$out/handler.log" | sed -n '/^machine:/,$p' >> "$report"
{
  echo
  echo "## Schema-registry decoding, 1 KiB Avro values"
  echo
} >> "$report"
./build-bench/bench/schema_bench | tee "$out/schema.log" | sed -n '/^machine:/,$p' >> "$report"
{
  echo
  echo "## An AMGI app hosted natively and behind an AWS-style adaptor"
  echo
  echo '```'
  /usr/bin/python3 bench/amgi_compare.py build-bench/app/sluice | tee "$out/amgi.log"
  /usr/bin/python3 bench/amgi_compare.py build-bench/app/sluice --messages 20000 --kill-after 2050 | tee "$out/amgi-kill.log"
  echo '```'
} >> "$report"
gnuplot -e "dir='$out'" bench/plot.gp
echo "report: $report, plot: $out/benchmarks.png"
if [ "$update_docs" = 1 ]; then
  cp "$report" docs/benchmarks.md
  cp "$out/benchmarks.png" docs/benchmarks.png
  echo "copied to docs/benchmarks.md and docs/benchmarks.png"
fi
