"""Encodes records the way Confluent's Avro serializer frames them, with Debian's
python3-avro (independent of the Avro C library sluice decodes with).

Usage: avro_frame.py < JOBS   where JOBS is a JSON list of {"schema": text, "id": n,
"datum": value}; prints one hex line per job: 00, the id in 4 bytes big-endian, then
the datum's Avro binary encoding.
"""

import io
import json
import struct
import sys

import avro.io
import avro.schema

for job in json.load(sys.stdin):
    schema = avro.schema.parse(job["schema"])
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, job["id"]))
    avro.io.DatumWriter(schema).write(job["datum"], avro.io.BinaryEncoder(out))
    print(out.getvalue().hex())
