"""The exec benchmark's Python handler: an OpenLambda `def f(event)` that reports each
record into STATS_FILE (bench/bench_counters.h) through bench/peers.py's Counters."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import Counters  # noqa: E402

_counters = Counters(os.environ["STATS_FILE"])


def f(event):
    now = time.monotonic_ns()
    _counters.mark(event.encode() if isinstance(event, str) else event, now)
    _counters.publish(now)
