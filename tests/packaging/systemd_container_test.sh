#!/usr/bin/env bash
# The .deb under a real systemd: boots Debian bookworm with systemd-nspawn,
# installs the package, runs the unit with a lambda against a dev broker on the host,
# kill -9s the supervisor and checks systemd restarts it with nothing lost (I1, I2),
# reloads after adding a lambda, stops, purges. Then checks the .rpm with rpm -qp.
#   tests/packaging/systemd_container_test.sh BUILD_DIR
# BUILD_DIR holds the packages (scripts/package.sh BUILD_DIR) and app/sluice, which
# runs the dev broker. The container root is cached in $SLUICE_CONTAINER_CACHE
# (default /var/cache/sluice-test); building it takes a minute or two, once.
set -euo pipefail
build=$(cd "$1" && pwd)
deb=$(ls "$build"/sluice_*.deb)
rpm=$(ls "$build"/sluice-*.rpm)
sluice="$build/app/sluice"
cache=${SLUICE_CONTAINER_CACHE:-/var/cache/sluice-test}
# The package's run-time dependencies, preinstalled so dpkg -i needs no network.
include="systemd,systemd-sysv,dbus,procps,librdkafka1,libcpp-httplib0.11,libcurl4,libfmt9,libspdlog1.10,libtomlplusplus3,libsimdjson14,libavro23,libprotobuf32,libprotoc32,libsystemd0,python3,libpython3.11,curl"
work=$(mktemp -d /tmp/sluice-container.XXXXXX)
broker_pid=""
nspawn_pid=""
cgroup=""

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${pid1:-}" ]; then
    echo "--- journalctl -u sluice (last 40 lines)" >&2
    in_ct journalctl -u sluice -o short-monotonic --no-pager | tail -40 >&2 || true
  fi
  exit 1
}
step() { echo "--- $*"; }
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local until=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $until ] || fail "$what (not within ${limit} s)"
    sleep 0.2
  done
}

cleanup() {
  set +e
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [ -n "${pid1:-}" ] && kill -s SIGRTMIN+4 "$pid1"
    for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  if [ -n "$cgroup" ]; then
    find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "rpm: contents and scripts"
# Captured first: grep -q quits early, and with pipefail rpm's SIGPIPE would fail the check.
rpm_name=$(rpm -qp --qf '%{NAME} %{VERSION}\n' "$rpm" 2>/dev/null)
rpm_config=$(rpm -qpc "$rpm" 2>/dev/null)
rpm_dump=$(rpm -qp --dump "$rpm" 2>/dev/null)
rpm_files=$(rpm -qpl "$rpm" 2>/dev/null)
rpm_scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
[ "$rpm_name" = "sluice 0.1.0" ] || fail "rpm name/version: $rpm_name"
[ "$rpm_config" = /etc/sluice/sluice.toml ] || fail "rpm: exactly sluice.toml must be %config, not: $rpm_config"
grep -q '^/etc/sluice/sluice.toml .* 0100640 root sluice 1 ' <<<"$rpm_dump" || fail "rpm: sluice.toml must be root:sluice 0640"
for f in /usr/bin/sluice /usr/libexec/sluice/sluice-worker /usr/libexec/sluice/sluice-http-worker /usr/libexec/sluice/sluice-python.so /usr/lib/systemd/system/sluice.service /usr/lib/sysusers.d/sluice.conf \
         /usr/share/man/man1/sluice.1.gz /usr/share/doc/sluice/examples/python-f/lambda.toml \
         /usr/lib/python3/dist-packages/sluice_handler.py; do
  grep -qx "$f" <<<"$rpm_files" || fail "rpm lacks $f"
done
grep -q 'systemd-sysusers' <<<"$rpm_scripts" || fail "rpm %pre does not create the sluice user"
grep -q 'disable --now sluice.service' <<<"$rpm_scripts" || fail "rpm %preun does not stop the unit"

step "container root ($cache)"
root="$cache/bookworm"
if [ ! -f "$root/.sluice-include" ] || [ "$(cat "$root/.sluice-include")" != "$include" ]; then
  rm -rf "$root" "$root.tmp"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$include" bookworm "$root.tmp" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    fail "debootstrap (see $cache/debootstrap.log)"
  echo "$include" >"$root.tmp/.sluice-include"
  mv "$root.tmp" "$root"
fi

step "dev broker on the host"
"$sluice" dev-broker --topic events:4 --topic audit:2 >"$work/broker.out" 2>"$work/broker.err" </dev/null &
broker_pid=$!
wait_for 30 "dev broker address" test -s "$work/broker.out"
bootstrap=$(head -1 "$work/broker.out")
produce() {  # first count: values "s<seq>", keyed so they spread over partitions
  local first=$1 count=$2
  seq "$first" $((first + count - 1)) | awk '{print "k" $1 "\ts" $1}' | kcat -P -b "$bootstrap" -t events -K $'\t'
}

step "boot systemd in a container"
mkdir -p "$work/pkg"
cp "$deb" "$work/pkg/sluice.deb"
# Its own cgroup folder, removed afterwards, or nspawn leaves empty cgroups behind.
for top in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  if [ -d "$top" ] && [ -w "$top" ]; then
    cgroup="$top/sluice-test-$$"
    mkdir -p "$cgroup"
    break
  fi
done
(
  [ -n "$cgroup" ] && echo $BASHPID >"$cgroup/cgroup.procs"
  exec systemd-nspawn -q -D "$root" --register=no --keep-unit --volatile=overlay --bind-ro="$work/pkg:/mnt/pkg" \
    -b --console=passive
) >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
find_pid1() {
  pid1=$(ps -o pid=,comm= --ppid "$nspawn_pid" 2>/dev/null | awk '$2 == "systemd" {print $1; exit}')
  [ -n "$pid1" ]
}
wait_for 60 "the container's systemd (see $work/nspawn.log)" find_pid1
in_ct() { nsenter -t "$pid1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
wait_for 120 "container boot" in_ct sh -c 'systemctl is-system-running --wait | grep -Eq "running|degraded"'

step "install the .deb"
in_ct dpkg -i /mnt/pkg/sluice.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
in_ct id sluice >/dev/null || fail "the sluice user was not created"
[ "$(in_ct stat -c '%U:%G %a' /etc/sluice/sluice.toml)" = "root:sluice 640" ] || fail "sluice.toml ownership"
in_ct systemctl is-enabled sluice >/dev/null || fail "the unit is not enabled"
verify=$(in_ct systemd-analyze verify --man=no sluice.service 2>&1) || fail "systemd-analyze verify: $verify"
wait_for 30 "the unit starts with the default config (no lambdas)" in_ct systemctl is-active sluice

step "configure a lambda against the dev broker and restart"
in_ct sh -c "sed -i 's|^bootstrap_servers = .*|bootstrap_servers = \"$bootstrap\"|' /etc/sluice/sluice.toml"
in_ct sh -c 'cat > /etc/sluice/lambdas.d/orders.toml' <<'TOML'
[lambda]
topics = ["events"]
workers = 2
commit_interval_ms = 200
[lambda.handler]
type = "plugin"
path = "/usr/lib/sluice/examples/liblog_plugin.so"
options = { prefix = "orders" }
TOML
# And one that passes validate but can never start (a plugin path that is no plugin):
# it must fail soon, and READY=1 must still come, or Type=notify would hold the unit in
# "activating" until its start timeout killed the healthy lambda too.
in_ct sh -c 'cat > /etc/sluice/lambdas.d/broken.toml' <<'TOML'
[lambda]
topics = ["events"]
[lambda.handler]
type = "plugin"
path = "/etc/hostname"
TOML
in_ct sluice validate >/dev/null || fail "sluice validate"
in_ct systemctl restart sluice || fail "systemctl restart (READY=1 never came?)"
in_ct systemctl is-active sluice >/dev/null || fail "not active after restart"
running() { local st; st=$(in_ct sluice status) && grep -Eq "^$1 +running" <<<"$st"; }
wait_for 30 "sluice status reports orders running" running orders
in_ct sluice status | grep -Eq "^broken +failed" || fail "the lambda that cannot start is not reported failed"
in_ct systemctl show -p StatusText --value sluice | grep -q "1 failed: broken" ||
  fail "systemd's status line does not name the failed lambda: $(in_ct systemctl show -p StatusText --value sluice)"
[ "$(in_ct curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/healthz)" = 503 ] ||
  fail "/healthz does not say a lambda failed"
in_ct rm /etc/sluice/lambdas.d/broken.toml
# The admin API under the unit: changes need the run's token, which only the daemon's
# user and group (and root, as here for `sluice status`) may read.
[ "$(in_ct stat -c '%a %U:%G' /run/sluice/default.token)" = "640 sluice:sluice" ] || fail "the token's mode or owner"
[ "$(in_ct curl -s -o /dev/null -w '%{http_code}' -X DELETE http://127.0.0.1:9464/kafka/register/orders)" = 401 ] ||
  fail "an unauthenticated DELETE /kafka/register was not refused"

count=2000
produce 0 $count
handled() {  # what comes before "events[p]@o" in the lambda's lines: distinct values it logged
  in_ct journalctl -u sluice -o cat --no-pager | grep -o "$1events\[[0-9]*\]@[0-9]* key=[^ ]* value=s[0-9]*" |
    sed 's/.*value=s//' | sort -un | wc -l
}
handled_at_least() { [ "$(handled "$1")" -ge "$2" ]; }
wait_for 60 "orders handles the first $count records" handled_at_least " orders: " $count

step "kill -9 the supervisor: systemd restarts it, nothing is lost"
main_pid=$(in_ct systemctl show -p MainPID --value sluice)
[ "$main_pid" -gt 0 ] || fail "no MainPID"
produce $count $count &
producer=$!
in_ct kill -9 "$main_pid"
wait $producer
restarted() {
  local now
  now=$(in_ct systemctl show -p MainPID --value sluice)
  [ "$now" != "$main_pid" ] && [ "$now" != 0 ] && in_ct systemctl is-active sluice
}
wait_for 60 "systemd restarts sluice" restarted
total=$((2 * count))
wait_for 120 "orders handles all $total records after the restart" handled_at_least " orders: " $total
# I1: every record handled at least once; I2 at the end: committed == end offsets.
seen=$(handled " orders: ")
[ "$seen" -eq "$total" ] || fail "I1: orders handled $seen distinct records of $total"
lag_zero() { local out; out=$(in_ct sluice offsets show --lambda orders) && grep -q 'total lag 0$' <<<"$out"; }
wait_for 60 "orders commits to the end offsets" lag_zero
[ "$(in_ct systemctl show -p NRestarts --value sluice)" -ge 1 ] || fail "systemd did not count a restart"

step "reload after adding a lambda: the python-f example as shipped (an exec handler under the hardened unit)"
in_ct cp /usr/share/doc/sluice/examples/python-f/lambda.toml /etc/sluice/lambdas.d/pyf.toml
orders_pids=$(in_ct pgrep -f 'instance default --lambda orders ' | sort | tr '\n' ' ')
in_ct systemctl reload sluice || fail "systemctl reload"
running pyf || fail "pyf is not running right after the reload returned"
[ "$(in_ct pgrep -f 'instance default --lambda orders ' | sort | tr '\n' ' ')" = "$orders_pids" ] ||
  fail "the reload restarted the unchanged lambda orders"
# def f(event) prints "events[p]@o key=k value=v"; its worker logs each line it writes
# as "[worker pyf/N] handler: <line>".
wait_for 120 "pyf handles every record from the start" handled_at_least "\[worker pyf/[0-9]*\] handler: " $total
metrics=$(in_ct curl -sf http://127.0.0.1:9464/metrics) || fail "GET /metrics"
grep -q "^sluice_records_handled_total{lambda=\"pyf\"} $total\$" <<<"$metrics" || fail "metrics: pyf did not handle $total"

step "reload with the same function inside the workers (handler type python)"
in_ct sh -c 'cat > /etc/sluice/lambdas.d/pyin.toml' <<'TOML'
[lambda]
topics = ["events"]
format = "json"
workers = 2
[lambda.handler]
type = "python"
path = "/usr/share/doc/sluice/examples/python-f/lambda.py"
TOML
in_ct systemctl reload sluice || fail "systemctl reload"
wait_for 120 "pyin handles every record from the start" handled_at_least "\[worker pyin/[0-9]*\] handler: " $total
metrics=$(in_ct curl -sf http://127.0.0.1:9464/metrics) || fail "GET /metrics"
grep -q "^sluice_records_handled_total{lambda=\"pyin\"} $total\$" <<<"$metrics" || fail "metrics: pyin did not handle $total"
in_ct pgrep -f 'python3 -m sluice_handler .*/python-f/lambda.py' | wc -l | grep -qx 2 ||
  fail "pyin must not start Python processes of its own (only pyf's two)"

step "stop and purge"
in_ct systemctl stop sluice
[ "$(in_ct systemctl show -p Result --value sluice)" = success ] || fail "stop did not end with success"
journal=$(in_ct journalctl -u sluice -o cat --no-pager)
grep -q "sluice supervisor stopped" <<<"$journal" || fail "no orderly stop in the journal"
in_ct sh -c 'ls /dev/shm | grep -q "^sluice\."' && fail "segments left in /dev/shm"
in_ct dpkg --purge sluice >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
in_ct test ! -e /etc/sluice/sluice.toml || fail "the conffile is left after purge"
# Lambda files the operator wrote are theirs: purge keeps them (dpkg says so).
in_ct test -e /etc/sluice/lambdas.d/orders.toml || fail "purge removed the operator's lambda files"
in_ct test ! -e /var/lib/sluice || fail "/var/lib/sluice left after purge"
in_ct test ! -e /usr/lib/systemd/system/sluice.service || fail "unit left after purge"
echo "PASS: .deb under systemd (install, a lambda that cannot start, kill -9 restart with no loss, reload, Python in exec and in the worker, stop, purge) and .rpm checks"
