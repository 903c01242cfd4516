#!/usr/bin/env bash
# The one list of Debian packages sluice needs to build, test, benchmark and package.
# Every entry point (quick start, .ci/run, bench) calls this; it is idempotent and
# does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config ninja-build
  # libraries
  librdkafka-dev libboost-dev libboost-filesystem-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libcurl4-openssl-dev
  libcpp-httplib-dev libsystemd-dev libsimdjson-dev libavro-dev libprotobuf-dev libprotoc-dev
  # handler type "python": CPython embedded in the worker
  libpython3-dev
  # tests and benchmarks (clang and its runtime for the libFuzzer harnesses)
  libgtest-dev libgmock-dev python3 python3-flask python3-fastapi kcat procps curl clang libclang-rt-14-dev
  python3-confluent-kafka python3-kafka gnuplot-nox
  # the schema-registry tests encode Avro and Protobuf with tools other than the code
  # sluice decodes with
  python3-avro protobuf-compiler
  # the byte-exactness tests run an endpoint on Node's http module too, and the
  # stream-reset test one on its http2 module (HTTPS offering HTTP/2 and HTTP/1.1)
  nodejs
  # an HTTP/2 server for the multiplexing test, and openssl for its certificate; the
  # benchmark's own counting HTTP/2 endpoint is built on libnghttp2 and OpenSSL
  nghttp2-server openssl libnghttp2-dev libssl-dev
  # promtool (checks the shipped alert rules and the metrics exposition)
  prometheus
  # packages and their test: CPack's DEB and RPM generators, linters, a container systemd
  dpkg-dev rpm rpmlint lintian debootstrap systemd-container systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
