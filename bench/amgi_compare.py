"""The same AMGI app (bench/amgi_count_app.py: one send per message, then ack) hosted
natively by sluice's Python runner (--amgi, format raw) and behind an AWS-style adaptor
(bench/aws_amgi_adaptor.py, format aws, batches of 100), on one dev broker, interleaved:

  /usr/bin/python3 bench/amgi_compare.py SLUICE_BIN [--runs 3] [--messages 50000] [--kill-after 2050] [--window 16]

Each run gets its own consumer group and output topic. records/s is taken from the
output records' broker timestamps (first to last send), so start-up and the group join
are not in it; the CPU each role of process used per record is read from /proc. With --kill-after N the app's first process ends itself after its N-th
message (see the app); the run then counts, on the output topic, the sends made more
than once (duplicates) and the input records never sent (missing)."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
PARTITIONS = 8
KINDS = ("native", "adaptor")


def produce_input(bootstrap, topic, count):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(count):
        p.produce(topic, value=json.dumps({"id": i, "item": "x" * 60}).encode(), key=b"k%d" % (i % 100),
                  partition=i % PARTITIONS)
        if i % 10000 == 0:
            p.poll(0)
    p.flush(60)


def lambda_toml(kind, bootstrap, group, out_topic, rundir, kill_after, marker, native_window):
    env = {"OUT_TOPIC": out_topic, "PYTHONPATH": os.path.join(SOURCE, "worker", "python")}
    if kill_after:
        env.update({"KILL_AFTER": str(kill_after), "KILL_MARKER": marker})
    window = "max_concurrency = %d\n" % native_window if kind == "native" else ""
    if kind == "native":
        command = ["/usr/bin/python3", "-m", "sluice_handler", "--amgi", os.path.join(HERE, "amgi_count_app.py")]
        shape = 'format = "raw"\n'
    else:
        command = ["/usr/bin/python3", "-m", "sluice_handler", os.path.join(HERE, "aws_amgi_adaptor.py"), "handler"]
        env.update({"AMGI_APP": os.path.join(HERE, "amgi_count_app.py"), "BOOTSTRAP": bootstrap})
        shape = 'format = "aws"\nbatch_size = 100\nbatch_window_ms = 50\n'
    env_toml = ", ".join('%s = "%s"' % kv for kv in env.items())
    return ('instance = "amgi%d%s"\nruntime_dir = "%s"\n[kafka]\nbootstrap_servers = "%s"\n'
            '[kafka.properties]\n"fetch.wait.max.ms" = "10"\n'
            '[[lambda]]\nname = "%s"\ntopics = ["orders"]\ngroup_id = "%s"\nworkers = 1\n%s'
            'max_attempts = 5\n[lambda.handler]\ntype = "exec"\ntimeout_ms = 30000\n%scommand = %s\nenv = { %s }\n'
            % (os.getpid(), kind, rundir, bootstrap, kind, group, shape, window, json.dumps(command), env_toml))


def descendants(pid):
    """{pid: command line} of every process under `pid`."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            try:
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    out[c] = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            todo.append(c)
    return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(daemon_pid):
    """CPU seconds so far of the daemon's processes, by role."""
    roles = {"supervisor": cpu_seconds(daemon_pid)}
    for pid, cmd in descendants(daemon_pid).items():
        program = os.path.basename(cmd.split(" ")[0])
        role = "consumer" if " consumer " in cmd else "worker" if program.endswith("worker") else "handler"
        try:
            roles[role] = roles.get(role, 0.0) + cpu_seconds(pid)
        except OSError:
            pass
    return roles


def read_output(bootstrap, topic, want, deadline_s):
    """{id: times sent}, and the first and last broker timestamps (ms)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + topic, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    seen = {}
    first = last = None
    end = time.monotonic() + deadline_s
    idle_since = None
    while time.monotonic() < end:
        msgs = c.consume(1000, 0.5)
        if not msgs:
            if len(seen) >= want:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:  # late duplicates have had time to land
                    break
            continue
        idle_since = None
        for m in msgs:
            if m.error():
                continue
            i = json.loads(m.value())["id"]
            seen[i] = seen.get(i, 0) + 1
            ts = m.timestamp()[1]
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
    c.close()
    return seen, first, last


def main():
    args = sys.argv[1:]
    if not args:
        sys.stderr.write(__doc__)
        return 2
    sluice = args[0]
    opts = dict(zip(args[1::2], args[2::2]))
    runs = int(opts.get("--runs", 3))
    count = int(opts.get("--messages", 50000))
    kill_after = int(opts.get("--kill-after", 0))
    window = int(opts.get("--window", 16))  # the native runner's max_concurrency
    work = tempfile.mkdtemp(prefix="sluice-amgi-bench-")
    topics = ["orders:%d" % PARTITIONS] + ["out-%s-%d:1" % (k, r) for k in KINDS for r in range(runs)]
    broker_out = open(os.path.join(work, "broker.out"), "w+")
    broker = subprocess.Popen([sluice, "dev-broker"] + [a for t in topics for a in ("--topic", t)], stdout=subprocess.PIPE,
                              stderr=broker_out, stdin=subprocess.PIPE, text=True)
    bootstrap = broker.stdout.readline().strip()
    results = {k: [] for k in KINDS}
    failed = False
    try:
        produce_input(bootstrap, "orders", count)
        for r in range(runs):
            for kind in KINDS:
                rundir = os.path.join(work, "%s-%d" % (kind, r))
                os.makedirs(rundir)
                out_topic = "out-%s-%d" % (kind, r)
                config = os.path.join(rundir, "sluice.toml")
                with open(config, "w") as f:
                    f.write(lambda_toml(kind, bootstrap, "amgi-%s-%d" % (kind, r), out_topic, rundir, kill_after,
                                        os.path.join(rundir, "killed"), window))
                with open(os.path.join(rundir, "sluice.log"), "w") as log:
                    daemon = subprocess.Popen([sluice, "run", "-c", config], stdout=log, stderr=log)
                    seen, first, last = read_output(bootstrap, out_topic, count, 600)
                    cpu = cpu_by_role(daemon.pid)
                    daemon.send_signal(signal.SIGTERM)
                    daemon.wait(60)
                sends = sum(seen.values())
                missing = count - len(seen)
                duplicates = sends - len(seen)
                rate = (sends - 1) * 1000.0 / (last - first) if last and last > first else 0.0
                results[kind].append((rate, duplicates, missing))
                print("run %d %-7s %9.0f records/s  sends %d  duplicates %d  missing %d%s" % (
                    r, kind, rate, sends, duplicates, missing,
                    "  (killed once)" if os.path.exists(os.path.join(rundir, "killed")) else ""), flush=True)
                print("        CPU us per record: %s" % ", ".join(
                    "%s %.1f" % (role, secs * 1e6 / count) for role, secs in sorted(cpu.items())), flush=True)
                if missing:
                    failed = True
                    print("  log kept in %s" % rundir, flush=True)
    finally:
        broker.terminate()
        broker.wait(30)
    ratios = [n[0] / a[0] for n, a in zip(results["native"], results["adaptor"]) if a[0] > 0]
    print("native / adaptor records/s: median %.2fx of %d runs (each pair interleaved)" % (
        statistics.median(ratios) if ratios else 0.0, len(ratios)))
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
