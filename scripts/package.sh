#!/usr/bin/env bash
# Builds the .deb and .rpm and checks them with lintian and rpmlint:
#   scripts/package.sh               configures and builds a Release tree in build-pkg/
#   scripts/package.sh BUILD_DIR     packages an already configured tree (what scripts/test.sh does)
# The packages land in the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ $# -ge 1 ]; then
  build=$1
else
  build=build-pkg
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build"
rm -f "$build"/sluice_*.deb "$build"/sluice-*.rpm
(cd "$build" && cpack -G "DEB;RPM" >/dev/null)
deb=$(ls "$build"/sluice_*.deb)
rpm=$(ls "$build"/sluice-*.rpm)
echo "built $deb $rpm"
# Findings we accept are listed, each with its reason, in packaging/rpmlintrc (lintian
# reports none at error level, and its warnings fail nothing).
lintian --fail-on error "$deb"
# The unit's hardening (docs/operations.md, "Packages"): exposure must stay below 2.0 (the threshold is in tenths).
systemd-analyze security --offline=true --threshold=19 --no-pager packaging/sluice.service | tail -1
rpmlint -r packaging/rpmlintrc "$rpm"
