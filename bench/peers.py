"""Peer consumers for the benchmark, each with a no-op callback and at-least-once
commits, reporting every record into the counters file (bench/bench_counters.h):

  peers.py confluent|confluent-json|kafka-python BOOTSTRAP TOPIC GROUP COUNTERS_FILE

confluent-kafka-python does what the bare C consumer does (store each offset after its
callback, auto-commit every second); kafka-python auto-commits what poll() returned once
the callbacks for it ran (its documented at-least-once pattern). All stop on SIGTERM.

confluent-json is the loop a Python user would write by hand instead of running a
`def f(event)` under sluice: consume(1000), json.loads each value, call f (the same work
as bench/count_handler.py's f with sluice's json format), store its offset. The values
are JSON objects whose "id" is the benchmark prefix (bench_util's produce_json_backlog).
"""

import mmap
import os
import signal
import struct
import sys
import time

HEADER = 4096
PREFIX = 32


class Counters:
    def __init__(self, path):
        fd = os.open(path, os.O_RDWR)
        self.m = mmap.mmap(fd, 0)
        os.close(fd)
        self.capacity, self.timeline = struct.unpack_from("<QQ", self.m, 40)
        self.latency_at = HEADER + (self.capacity + 63) // 64 * 8
        self.count = 0
        self.duplicates = 0
        self.malformed = 0
        self.first = 0

    def mark(self, value, now):
        try:
            seq = int(value[:16], 16)
            sent = int(value[16:PREFIX], 16)
        except (TypeError, ValueError):
            seq = -1
        if value is None or len(value) < PREFIX or not 0 <= seq < self.capacity:
            self.malformed += 1
        else:
            # One bit per sequence number; byte seq >> 3 of the little-endian u64 words.
            at = HEADER + (seq >> 3)
            bit = 1 << (seq & 7)
            old = self.m[at]
            if old & bit:
                self.duplicates += 1
            else:
                self.m[at] = old | bit
                # As bench_counters.h: latency, or if asked a backlog record's handling time.
                if sent or self.timeline:
                    struct.pack_into("<Q", self.m, self.latency_at + 8 * seq, max(now - sent, 0) if sent else now)
        self.count += 1

    def publish(self, now):
        """After each batch: stamps, then the count the benchmark waits on."""
        if self.first == 0:
            self.first = now
            struct.pack_into("<Q", self.m, 8, now)
        struct.pack_into("<QQ", self.m, 24, self.duplicates, self.malformed)
        struct.pack_into("<Q", self.m, 16, now)
        struct.pack_into("<Q", self.m, 0, self.count)


def callback(value):
    """The lambda: does nothing."""


running = True


def stop(*_):
    global running
    running = False


def run_confluent(bootstrap, topic, group, counters):
    from confluent_kafka import Consumer

    c = Consumer(_confluent_settings(bootstrap, group))
    c.subscribe([topic])
    while running:
        batch = c.consume(num_messages=1000, timeout=0.1)
        if not batch:
            continue
        now = time.monotonic_ns()
        for m in batch:
            if m.error():
                continue
            callback(m.value())
            counters.mark(m.value(), now)
            c.store_offsets(message=m)
        counters.publish(now)
    c.close()


def _confluent_settings(bootstrap, group):
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.offset.store": False,
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "fetch.wait.max.ms": 10,
        "fetch.error.backoff.ms": 10,
        "socket.nagle.disable": True,
        "queued.min.messages": 1000000,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }


def run_confluent_json(bootstrap, topic, group, counters):
    import json

    from confluent_kafka import Consumer

    def f(event):
        now = time.monotonic_ns()
        counters.mark(event["id"].encode(), now)
        counters.publish(now)

    c = Consumer(_confluent_settings(bootstrap, group))
    c.subscribe([topic])
    while running:
        for m in c.consume(num_messages=1000, timeout=0.1):
            if m.error():
                continue
            f(json.loads(m.value()))
            c.store_offsets(message=m)
    c.close()


def run_kafka_python(bootstrap, topic, group, counters):
    from kafka import KafkaConsumer

    c = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=1000,
        fetch_max_wait_ms=10,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        max_poll_records=1000,
    )
    while running:
        batch = c.poll(timeout_ms=100)
        if not batch:
            continue
        now = time.monotonic_ns()
        for records in batch.values():
            for m in records:
                callback(m.value)
                counters.mark(m.value, now)
        counters.publish(now)
    c.close()


def main():
    kind, bootstrap, topic, group, path = sys.argv[1:6]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    counters = Counters(path)
    {"confluent": run_confluent, "confluent-json": run_confluent_json, "kafka-python": run_kafka_python}[kind](bootstrap, topic, group, counters)


if __name__ == "__main__":
    main()
