"""The exec benchmark's Python handler: an OpenLambda `def f(event)` that only counts.

Stamps the count and CLOCK_MONOTONIC of the first and last event into STATS_FILE, laid
out as bench/bench_util.hpp's Counters, so the benchmark times it like the others.
"""

import mmap
import os
import struct
import time

_stats = mmap.mmap(os.open(os.environ["STATS_FILE"], os.O_RDWR), 4096)
_count = 0


def f(event):
    global _count
    now = time.monotonic_ns()
    if _count == 0:
        struct.pack_into("Q", _stats, 8, now)
    _count += 1
    struct.pack_into("Q", _stats, 16, now)  # last before count: the reader waits on count
    struct.pack_into("Q", _stats, 0, _count)
