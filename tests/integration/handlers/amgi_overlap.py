"""An AMGI app that shows which records ran together, for `sluice_handler --amgi`.

Each payload is JSON: {"id": "a", "beside": ["b"], "after": ["c"]}.
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


async def app(scope, receive, send):
    if scope["type"] != "message":
        raise RuntimeError("no lifespan here")
    record = json.loads(scope["payload"])
    me = record["id"]
    for other in record.get("after", []):
        if other not in ended:
            await send({"type": "message.nack", "message": "%s started before %s ended" % (me, other)})
            return
    event_of(me).set()
    try:
        for other in record.get("beside", []):
            try:
                await asyncio.wait_for(event_of(other).wait(), WAIT_S)
            except asyncio.TimeoutError:
                await send({"type": "message.nack", "message": "%s ran without %s" % (me, other)})
                return
        # Give the others a turn, so that one that should not have started beside this
        # one has the chance to.
        await asyncio.sleep(0)
        await send({"type": "message.ack"})
    finally:
        ended.add(me)
