"""Encodes records the way Confluent's Protobuf serializer frames them, with Debian's
protoc (`protoc --encode`, independent of the code sluice decodes with).

Usage: protobuf_frame.py < JOBS   where JOBS is a JSON list of {"schema": .proto text,
"id": n, "type": "pkg.Message", "indexes": [i, ...], "text": the message in protobuf's
text format, "imports": {file name: .proto text} (optional)}; prints one hex line per job: 00, the id in 4 bytes big-endian, the message
indexes (a zigzag varint count, then each index; [0] is written as the single count 0,
as Confluent writes it), then the message's binary encoding.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


with tempfile.TemporaryDirectory() as tmp:
    for job in json.load(sys.stdin):
        proto = os.path.join(tmp, "schema.proto")
        with open(proto, "w") as f:
            f.write(job["schema"])
        for name, text in job.get("imports", {}).items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        data = subprocess.run(["protoc", "-I", tmp, "--encode=" + job["type"], proto],
                              input=job["text"].encode(), capture_output=True, check=True).stdout
        indexes = job["indexes"]
        head = varint(0) if indexes == [0] else varint(zigzag(len(indexes))) + b"".join(varint(zigzag(i)) for i in indexes)
        print((struct.pack(">bI", 0, job["id"]) + head + data).hex())
