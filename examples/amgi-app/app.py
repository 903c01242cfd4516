"""An AMGI app (the asynchronous message gateway interface) taking orders from Kafka,
hosted by sluice without an adaptor:

    python3 -m sluice_handler --amgi app.py app

Each record is a `message` scope: the topic as `address`, the value as `payload`, the
Kafka headers and key as bytes. The app acks an order it accepted, after asking for an
"accepted" record on another topic (`message.send`): sluice produces it only because the
order was acked, and commits the order only once the broker has the accepted record. It
nacks an order it cannot read; sluice retries it, then dead-letters it with the reason.
"""

import json

accepted_topic = "orders-accepted"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                print("amgi-app: lifespan startup", flush=True)
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                print("amgi-app: lifespan shutdown", flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "message":
        return
    where = scope.get("extensions", {}).get("sluice", {})
    key = scope["bindings"]["kafka"]["key"]
    order = (scope["payload"] or b"").decode("utf-8", "replace")
    if "invalid" in order:
        await send({"type": "message.nack", "message": "order %r cannot be read" % order[:40]})
        return
    print("%s[%s]@%s key=%s value=%s" % (scope["address"], where.get("partition"), where.get("offset"),
                                          "(null)" if key is None else key.decode("utf-8", "replace"), order), flush=True)
    await send({
        "type": "message.send",
        "address": accepted_topic,
        "headers": [(b"content-type", b"application/json")],
        "payload": json.dumps({"order": order, "status": "accepted"}).encode(),
        "bindings": {"kafka": {"key": key}},
    })
    await send({"type": "message.ack"})
