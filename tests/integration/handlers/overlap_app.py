"""An app that shows which records ran together, for `sluice_handler --amgi` (each
record a message scope: ack or nack) and `--asgi` (each event an http scope: 200 or 500
with the reason).

Each payload (request body) is JSON: {"id": "a", "beside": ["b"], "after": ["c"]}.
  beside  these records must be under way at the same time as this one: it waits for
          each to have started (up to WAIT_S), else nacks "<id> ran without <other>"
  after   these records must have ended before this one starts, else it nacks
          "<id> started before <other> ended"
Otherwise it acks. The answers' order shows the runner kept request order.
"""

import asyncio
import json

WAIT_S = 10.0
started = {}  # id -> asyncio.Event
ended = set()


def event_of(name):
    return started.setdefault(name, asyncio.Event())


async def outcome(record):
    """None when the record ran as it says it must, else why not."""
    me = record["id"]
    for other in record.get("after", []):
        if other not in ended:
            return "%s started before %s ended" % (me, other)
    event_of(me).set()
    try:
        for other in record.get("beside", []):
            try:
                await asyncio.wait_for(event_of(other).wait(), WAIT_S)
            except asyncio.TimeoutError:
                return "%s ran without %s" % (me, other)
        # Give the others a turn, so that one that should not have started beside this
        # one has the chance to.
        await asyncio.sleep(0)
        return None
    finally:
        ended.add(me)


async def app(scope, receive, send):
    if scope["type"] == "message":
        why = await outcome(json.loads(scope["payload"]))
        await send({"type": "message.ack"} if why is None else {"type": "message.nack", "message": why})
    elif scope["type"] == "http":
        why = await outcome(json.loads((await receive())["body"]))
        await send({"type": "http.response.start", "status": 200 if why is None else 500, "headers": []})
        await send({"type": "http.response.body", "body": (why or "").encode()})
    else:
        raise RuntimeError("no lifespan here")
