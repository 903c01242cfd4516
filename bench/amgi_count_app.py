"""The AMGI app of bench/amgi_compare.py, the same app behind both hosts: for each message
it sends one record (its payload, to OUT_TOPIC) and acks. With KILL_AFTER=N its first
process ends itself (os._exit) 200 ms into its N-th message, after sending and before
acking it: a record that crashes its process after some I/O, as an OOM kill or a
segfault in a library would."""

import asyncio
import os

OUT_TOPIC = os.environ["OUT_TOPIC"]
KILL_AFTER = int(os.environ.get("KILL_AFTER", "0"))
MARKER = os.environ.get("KILL_MARKER", "")
handled = 0


async def app(scope, receive, send):
    global handled
    if scope["type"] != "message":
        raise RuntimeError("no lifespan")  # both hosts then run without it
    await send({"type": "message.send", "address": OUT_TOPIC, "headers": [], "payload": scope["payload"]})
    handled += 1
    if KILL_AFTER and handled == KILL_AFTER and MARKER and not os.path.exists(MARKER):
        open(MARKER, "w").close()
        await asyncio.sleep(0.2)
        os._exit(9)
    await send({"type": "message.ack"})
