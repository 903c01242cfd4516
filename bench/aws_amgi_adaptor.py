"""An AWS-style adaptor for bench/amgi_compare.py: what an AMGI app gets when it runs as
an AWS Lambda function behind a Kafka event source mapping adaptor, here run by sluice
as a `def handler(event, context)` with format = "aws" (sluice's AWS event). Like such
adaptors it turns each record of the batch into an AMGI message scope, produces each
`message.send` on its own producer as the app calls it (flushed before the invocation
returns, so a returned batch's sends are on the broker), and reports nacked records as
partial batch failures. Written for the comparison from the adaptor's documented
behaviour; not a copy of it."""

import asyncio
import base64
import importlib.util
import os

from confluent_kafka import Producer

_spec = importlib.util.spec_from_file_location("amgi_app", os.environ["AMGI_APP"])
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
app = _module.app
loop = asyncio.new_event_loop()
producer = Producer({"bootstrap.servers": os.environ["BOOTSTRAP"], "linger.ms": 5})


async def _record(topic, record):
    acked = []

    async def receive():
        raise RuntimeError("the message scope carries its message")

    async def send(message):
        if message["type"] == "message.send":
            kafka = (message.get("bindings") or {}).get("kafka") or {}
            producer.produce(message["address"], value=message.get("payload"), key=kafka.get("key"),
                             headers=list(message.get("headers") or []))
            producer.poll(0)
        elif message["type"] in ("message.ack", "message.nack"):
            acked[:] = [message["type"] == "message.ack"]

    scope = {
        "type": "message",
        "amgi": {"version": "2.0", "spec_version": "2.0"},
        "address": topic,
        "payload": None if record.get("value") is None else base64.b64decode(record["value"]),
        "headers": [(name.encode(), bytes(value)) for h in record.get("headers", []) for name, value in h.items()],
        "bindings": {"kafka": {"key": base64.b64decode(record["key"]) if "key" in record else None}},
        "state": {},
    }
    await app(scope, receive, send)
    return bool(acked and acked[0])


def handler(event, context):
    failures = []
    for records in event["records"].values():
        for record in records:
            if not loop.run_until_complete(_record(record["topic"], record)):
                failures.append({"itemIdentifier": "%s-%d-%d" % (record["topic"], record["partition"], record["offset"])})
    producer.flush()
    return {"batchItemFailures": failures}
