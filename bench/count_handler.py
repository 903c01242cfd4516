"""The exec benchmark's Python handler: an OpenLambda `def f(event)` that reports each
record into STATS_FILE (bench/bench_counters.h) through bench/peers.py's Counters: a
raw value, or (format json) the "id" of a JSON value, as peers.py's confluent-json loop
does."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import Counters  # noqa: E402

# With STATS_PER_WORKER each worker's child reports into STATS_FILE.<worker>: a Python
# Counters cannot be shared between processes (its count is not an atomic add).
_counters = Counters(os.environ["STATS_FILE"] + ("." + os.environ["SLUICE_WORKER"] if os.environ.get("STATS_PER_WORKER") else ""))


def f(event):
    now = time.monotonic_ns()
    if isinstance(event, dict):  # format json: sluice's envelope, the value parsed as "message"
        event = event["message"]["id"]
    _counters.mark(event.encode() if isinstance(event, str) else event, now)
    _counters.publish(now)
