"""The outbound-records tests' handler: answers each record with records to produce.

Seqs listed in BIG_SEQS produce 300 records of 10 KiB each instead. A batch holding a
seq listed in SPLIT_SEQS fails as a whole (an exception), and that seq alone fails for
good (sluice_handler.Fail), so that sluice splits the batch to find it.

For format raw: one record to events-out per input (two for every tenth), keyed like
the input, value "out-<input value>", header source = "<partition>/<offset>".
For format aws: the same for each record of the batch, except that values containing
"invalid" are named in batchItemFailures and produce nothing.
"""

import base64
import os

import sluice_handler

BIG = {int(s) for s in os.environ.get("BIG_SEQS", "").split(",") if s}
SPLIT = {int(s) for s in os.environ.get("SPLIT_SEQS", "").split(",") if s}


def seq_of(value):
    return int(value[1 : value.index("-")])


def out_records(topic, partition, offset, key, value):
    rec = {"topic": "events-out", "key": key, "value": "out-" + value,
           "headers": {"source": "%s/%d/%d" % (topic, partition, offset)}}
    seq = seq_of(value)
    if seq in BIG:  # 300 records of 10 KiB: more than the 1 MiB reply ring holds at once
        return [dict(rec, value="big-%d-" % i + value + "b" * 10240) for i in range(300)]
    return [rec, dict(rec, value="extra-" + value)] if seq % 10 == 0 else [rec]


def f(event, context):
    if isinstance(event, dict) and "records" in event:
        batch = [r for records in event["records"].values() for r in records]
        split = [r for r in batch if seq_of(base64.b64decode(r["value"]).decode()) in SPLIT]
        if split and len(batch) > 1:
            raise RuntimeError("a batch of %d with a record that fails" % len(batch))
        if split:
            raise sluice_handler.Fail("this record fails alone too")
        produce, failures = [], []
        for records in event["records"].values():
            for r in records:
                value = base64.b64decode(r["value"]).decode()
                if "invalid" in value:
                    failures.append({"itemIdentifier": "%s-%d-%d" % (r["topic"], r["partition"], r["offset"])})
                    continue
                key = base64.b64decode(r["key"]).decode() if "key" in r else None
                produce += out_records(r["topic"], r["partition"], r["offset"], key, value)
        return {"batchItemFailures": failures, "produce": produce}
    from urllib.parse import unquote
    key = unquote(context.headers["x-kafka-key"]) if "x-kafka-key" in context.headers else None
    return {"produce": out_records(context.topic, context.partition, context.offset, key, event)}
