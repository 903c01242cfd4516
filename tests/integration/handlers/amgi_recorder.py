"""An AMGI app for the exec handler tests, hosted by `sluice_handler --amgi` (format raw).

Each message's payload is a test value ("s<seq>-..."). By seq:
  seq % 10 == 3  sends a record, then nacks ("order <seq> is invalid"): nothing produced
  seq % 10 == 7  returns without acking or nacking
  seq == CRASH_SEQ, the first time only   ends its process (os._exit) mid-record
  otherwise      sends {address "out", payload the value, key the record's key, headers
                 source-seq, bytes (not UTF-8), tag twice} and acks
Lifespan: startup writes OUTCOMES_DIR/lifespan-start.<pid>, shutdown lifespan-stop.<pid>.
"""

import os

OUT_DIR = os.environ["OUTCOMES_DIR"]
CRASH_SEQ = int(os.environ.get("CRASH_SEQ", "-1"))


def mark(name):
    with open(os.path.join(OUT_DIR, "%s.%d" % (name, os.getpid())), "a") as f:
        f.write("x\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                mark("lifespan-start")
                scope["state"]["greeting"] = "started"
                await send({"type": "lifespan.startup.complete"})
            else:
                mark("lifespan-stop")
                await send({"type": "lifespan.shutdown.complete"})
                return
    value = scope["payload"]
    seq = int(value[1 : value.index(b"-")])
    assert scope["state"]["greeting"] == "started", "lifespan state missing"
    if seq == CRASH_SEQ:
        crashed = os.path.join(OUT_DIR, "crashed-once")
        if not os.path.exists(crashed):
            open(crashed, "w").close()
            os._exit(3)
    if seq % 10 == 3:
        await send({"type": "message.send", "address": "out", "headers": [], "payload": value})
        await send({"type": "message.nack", "message": "order %d is invalid" % seq})
        return
    if seq % 10 == 7:
        return
    await send({
        "type": "message.send",
        "address": "out",
        "headers": [(b"source-seq", str(seq).encode()), (b"bytes", b"\x00\xff\n"), (b"tag", b"a"), (b"tag", b"b")],
        "payload": value,
        "bindings": {"kafka": {"key": scope["bindings"]["kafka"]["key"]}},
    })
    await send({"type": "message.ack"})
