"""An exec handler speaking the frame protocol by hand (not sluice_handler), to see how
sluice writes requests. It lists the `pipeline` feature when PIPELINE=1, answers each
request ok in turn, and logs for each one to PROBE_LOG "<partition> <offset> <ahead>":
ahead is 1 when the next request had already begun to arrive (bytes after this frame in
what it read, or more waiting in the pipe) when it answered this one.
"""

import os
import select
import sys

log = open(os.environ["PROBE_LOG"], "a", buffering=1)
buf = bytearray()


def fill():
    chunk = os.read(0, 65536)
    if not chunk:
        sys.exit(0)
    buf.extend(chunk)


def frame():
    while b"\n" not in buf:
        fill()
    line, _, _ = bytes(buf).partition(b"\n")
    hlen, blen = (int(n) for n in line.split())
    need = len(line) + 1 + hlen + blen
    while len(buf) < need:
        fill()
    block = bytes(buf[len(line) + 1 : len(line) + 1 + hlen]).decode()
    del buf[:need]
    return dict(l.split(": ", 1) for l in block.split("\n") if l)


def answer(headers):
    block = "".join("%s: %s\n" % kv for kv in headers).encode()
    os.write(1, b"%d 0\n" % len(block) + block)


ready = [("Status", "ready")]
if os.environ.get("PIPELINE") == "1":
    ready.append(("Features", "pipeline"))
answer(ready)
while True:
    h = frame()
    ahead = len(buf) > 0 or bool(select.select([0], [], [], 0)[0])
    log.write("%s %s %d\n" % (h.get("X-Kafka-Partition"), h.get("X-Kafka-Offset"), int(ahead)))
    answer([("Status", "ok")])
