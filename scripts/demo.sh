#!/usr/bin/env bash
# Quick start, part one: builds sluice, starts a dev broker (librdkafka's mock cluster)
# and `sluice run` with the example plugin lambda, produces sample messages, and shows
# them handled and their offsets committed. Ctrl-C stops everything cleanly. Without a
# terminal on stdin (CI), it stops by itself once the offsets are committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target sluice log_plugin
sluice=$root/build/app/sluice

export SLUICE_DEMO_DIR=$(mktemp -d /tmp/sluice-demo.XXXXXX)
export SLUICE_DEMO_PLUGIN=$root/build/examples/liblog_plugin.so
config=$root/examples/demo/sluice.toml
broker_pid= sluice_pid=
stop() {
  trap - INT TERM EXIT
  if [ -n "$sluice_pid" ] && kill -0 "$sluice_pid" 2>/dev/null; then
    echo "--- stopping sluice (SIGTERM: drain, commit, exit)"
    kill -TERM "$sluice_pid"
    wait "$sluice_pid" && echo "--- sluice exited 0" || echo "--- sluice exited $?"
  fi
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  rm -rf "$SLUICE_DEMO_DIR"
}
trap stop INT TERM EXIT

echo "--- starting the dev broker"
"$sluice" dev-broker --topic orders:4 >"$SLUICE_DEMO_DIR/bootstrap" 2>"$SLUICE_DEMO_DIR/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$SLUICE_DEMO_DIR/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS=$(head -1 "$SLUICE_DEMO_DIR/bootstrap")
[ -n "$KAFKA_BROKERS" ] || { echo "dev broker did not start" >&2; exit 1; }
echo "    bootstrap: $KAFKA_BROKERS"

"$sluice" validate -c "$config"
"$sluice" list -c "$config"

echo "--- starting sluice run"
"$sluice" run -c "$config" &
sluice_pid=$!

echo "--- producing 12 orders"
for i in $(seq 1 12); do echo "customer-$((i % 3)):{\"order\": $i, \"total\": $((i * 7))}"; done |
  kcat -P -b "$KAFKA_BROKERS" -t orders -K: -X log_level=3

echo "--- waiting for every offset to be committed"
for _ in $(seq 120); do
  "$sluice" offsets show -c "$config" --lambda orders 2>/dev/null | grep -q "total lag 0$" && break
  sleep 0.5
done
"$sluice" offsets show -c "$config" --lambda orders
echo "--- the daemon's own view (admin API): sluice status, and lag from GET /metrics"
"$sluice" status -c "$config"
curl -s "http://$(cat "$SLUICE_DEMO_DIR/run/demo.admin")/metrics" | grep '^sluice_lambda_lag' || true

if [ -t 0 ]; then
  echo "--- sluice is running. Produce more with:"
  echo "    echo 'key:value' | kcat -P -b $KAFKA_BROKERS -t orders -K:"
  echo "--- press Ctrl-C to stop"
  wait "$sluice_pid" || true
fi
