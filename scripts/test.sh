#!/usr/bin/env bash
# Runs every test: installs dependencies, builds sluice twice (optimised, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs the whole suite on both; builds
# the .deb and .rpm from the optimised tree, lints them and runs the .deb under a real
# systemd in a container; runs the unit suite under ThreadSanitizer; then runs each
# libFuzzer harness (tests/fuzz) for SLUICE_FUZZ_SECONDS (30; ten minutes with --soak).
# Usage: scripts/test.sh            (from anywhere; build trees go to build/ and build-asan/)
#        scripts/test.sh --soak     the same, with the chaos tests running for minutes
#        SLUICE_TEST_JOBS=N         parallel compile jobs (default: nproc)
set -euo pipefail
for arg in "$@"; do
  case "$arg" in
    --soak) export SLUICE_SOAK=1; SLUICE_FUZZ_SECONDS=${SLUICE_FUZZ_SECONDS:-600} ;;
    *) echo "usage: scripts/test.sh [--soak]" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/check-layers.sh

jobs=${SLUICE_TEST_JOBS:-$(nproc)}
# Segments that exist before the run (e.g. from an interrupted earlier run on this
# machine) are not this run's doing; only new ones count as leaks.
shm_test_segments() { ls /dev/shm | grep -E '^sluice\.(it|test|dup|cli)' | sort || true; }
shm_before=$(shm_test_segments)
build_tree() {  # name, build dir, extra cmake args...
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build ($dir)"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

build_tree "release" build
echo "=== release: tests"
(cd build && ctest --output-on-failure --timeout 900)

echo "=== plugin API: the example plugin builds from an installed tree with pkg-config alone"
plugin_prefix=$(mktemp -d)
trap 'rm -rf "$plugin_prefix"' EXIT
cmake --install build --prefix "$plugin_prefix" >/dev/null
PKG_CONFIG_PATH="$plugin_prefix/share/pkgconfig" pkg-config --exists sluice-plugin
cc -std=c11 -Wall -Wextra -Werror $(PKG_CONFIG_PATH="$plugin_prefix/share/pkgconfig" pkg-config --cflags sluice-plugin) \
  -shared -fPIC -o "$plugin_prefix/log_plugin.so" examples/log-plugin/log_plugin.c
echo "plugin API: ok"

echo "=== packaging: .deb and .rpm, lintian, rpmlint, unit hardening, systemd container test"
bash scripts/package.sh build
bash tests/packaging/systemd_container_test.sh build
# halt_on_error so a report fails the run; detect_leaks stays on (LeakSanitizer).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
# The sanitizers are in what the tests run (daemon, consumer, workers, plugins) and in the
# unit tests. The integration test program only drives processes, so the optimised tree's
# is pointed at this tree's binaries (tests/integration/harness/targets.hpp) rather than
# compiled a second time: that compile was over a third of the sanitizer build.
# -g1 keeps the file:line of every frame a report prints and halves the objects.
build_tree "asan+ubsan" build-asan -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_BENCH=OFF -DSLUICE_INTEGRATION_TESTS=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
echo "=== asan+ubsan: unit tests"
(cd build-asan && ctest --output-on-failure --timeout 900)
echo "=== asan+ubsan: integration tests (build's test program, build-asan's binaries)"
(cd build && SLUICE_IT_TARGETS="$root/build-asan/tests/integration-targets" \
  ctest --output-on-failure --timeout 900 -L integration)

# ThreadSanitizer sees the ring protocol when both sides are threads of one process
# (tests/unit/ring_threads_test.cpp); it cannot see across processes, so only the
# unit suite runs under it.
echo "=== tsan: configure and build (build-tsan)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_BENCH=OFF -DSLUICE_TSAN=ON >/dev/null
cmake --build build-tsan -j "$jobs" --target sluice_unit_tests
echo "=== tsan: unit tests"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} build-tsan/tests/sluice_unit_tests --gtest_brief=1

# The fuzzers start from the seeds in tests/fuzz/corpus and write what they find to a
# scratch directory (and a crashing input to their working directory, which is kept and
# named in the output when one fails).
fuzz_seconds=${SLUICE_FUZZ_SECONDS:-30}
echo "=== fuzz: configure and build (build-fuzz, clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON \
  -DSLUICE_HARDEN=OFF >/dev/null
cmake --build build-fuzz -j "$jobs"
for target in exec_frame answers event_format json_check config ring_records record_filter avro_datum protobuf_datum; do
  echo "=== fuzz: $target for ${fuzz_seconds} s"
  scratch=$(mktemp -d)
  mkdir "$scratch/corpus"
  if ! (cd "$scratch" && "$root/build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 corpus "$root/tests/fuzz/corpus/$target" 2>&1 | tail -n 25); then
    echo "fuzz_$target failed; its input is kept in $scratch" >&2
    exit 1
  fi
  rm -rf "$scratch"
done
rm -rf /tmp/sluice-fuzz-config-*

left=$(comm -13 <(echo "$shm_before") <(shm_test_segments))
if [ -n "$left" ]; then
  echo "tests left shared memory segments behind: $left" >&2
  exit 1
fi
echo "=== all test suites passed"
