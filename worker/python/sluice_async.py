"""Hosting asynchronous Python apps for ``python3 -m sluice_handler``, without a server:

* ``--asgi``: an ASGI 3 application (FastAPI, Starlette, any ``async def app(scope,
  receive, send)``). Each event is the POST sluice's ``http`` handler would send: an
  ``http`` scope with the request's headers exactly as they would arrive (lower-case
  names, values as sent), the event as the body, then ``http.disconnect`` once the
  response is complete.
* ``--amgi``: an AMGI 2.0 application (AsyncFast, or any ``async def app(scope, receive,
  send)`` taking ``message`` scopes). Each record is one ``message`` scope: ``address``
  the topic, ``payload`` the value's bytes (None for a tombstone), ``headers`` the Kafka
  headers as (bytes, bytes) in record order, ``bindings.kafka.key`` the key's bytes,
  ``extensions.sluice`` its partition, offset, attempt and group id.
  ``message.ack`` is success, ``message.nack`` a failure with its message (retried, then
  the lambda's on_failure), neither a failure saying so; ``message.send`` becomes a
  record sluice produces, and commits the source record only after the broker has it.

With sluice's coalesced answers (SLUICE_EXEC_FEATURES lists `coalesce`), the requests
sluice writes ahead of their answers run concurrently on the app's event loop, where the
lambda's ordering (SLUICE_ORDERING) lets them: one at a time per partition, or per key,
or all together (``serve``). Answers still go back in request order.

For both, the app's lifespan runs once per runner process: startup before the runner
reports ready (a failed startup is a handler that cannot start), shutdown when sluice
stops it. An app that does not take part in lifespan (it raises on the scope, or returns
without answering) runs without it, as the ASGI specification asks of a server.

Only the standard library is used.
"""

import asyncio
import base64
import collections
import json
import sys
from urllib.parse import unquote_to_bytes

ASGI = {"version": "3.0", "spec_version": "2.3"}
AMGI = {"version": "2.0", "spec_version": "2.0"}
# Lifespan shutdown must end within sluice's stop grace (5 s from SIGTERM to SIGKILL).
SHUTDOWN_S = 4.0

_KAFKA_HEADER = "x-kafka-header-"
_NULL_HEADER = "x-kafka-null-header"


class Lifespan:
    """An app's lifespan scope (the same protocol in ASGI and AMGI) on `loop`; `state` is
    what startup left in scope["state"], copied into every later scope."""

    def __init__(self, app, loop, versions):
        self.app = app
        self.loop = loop
        self.versions = versions  # (scope key, versions): ("asgi", ASGI) or ("amgi", AMGI)
        self.state = {}
        self._task = None  # the running lifespan scope, while the app takes part
        self._events = None  # its receive() queue
        self._answer = None  # resolved by the app's next lifespan reply

    def _reply(self, message):
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(message)

    async def _run(self):
        async def receive():
            return await self._events.get()

        async def send(message):
            self._reply(message)

        key, versions = self.versions
        try:
            await self.app({"type": "lifespan", key: versions, "state": self.state}, receive, send)
        except Exception as exc:  # noqa: BLE001 - an app without lifespan support raises here
            self._reply({"type": "unsupported", "error": exc})
        else:
            self._reply({"type": "unsupported"})

    def startup(self):
        """Runs lifespan startup; returns None, or why the app said it failed."""
        self._events = asyncio.Queue()
        self._answer = self.loop.create_future()
        self._events.put_nowait({"type": "lifespan.startup"})
        self._task = self.loop.create_task(self._run())
        reply = self.loop.run_until_complete(self._answer)
        if reply["type"] == "lifespan.startup.failed":
            return reply.get("message") or "lifespan startup failed"
        if reply["type"] != "lifespan.startup.complete":
            self._task = None  # nothing to shut down
            error = reply.get("error")
            sys.stderr.write("sluice_handler: the app does not take part in lifespan%s; running without it\n"
                             % (" (%s: %s)" % (type(error).__name__, error) if error is not None else ""))
        return None

    def shutdown(self):
        """Runs lifespan shutdown if the app took part in startup; returns None, or why it
        failed."""
        if self._task is None or self._task.done():
            return None
        self._answer = self.loop.create_future()
        self._events.put_nowait({"type": "lifespan.shutdown"})
        try:
            reply = self.loop.run_until_complete(asyncio.wait_for(asyncio.shield(self._answer), SHUTDOWN_S))
        except asyncio.TimeoutError:
            return "lifespan shutdown did not finish within %.0f s" % SHUTDOWN_S
        if reply["type"] == "lifespan.shutdown.failed":
            return reply.get("message") or "lifespan shutdown failed"
        return None


def asgi_headers(block):
    """A frame's header block as ASGI headers: [(lower-case name, value)] as bytes,
    values exactly as sent (no decoding, a trailing "\\r" dropped as the protocol allows)."""
    out = []
    for line in block.split(b"\n"):
        if not line:
            continue
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        out.append((name.strip().lower(), value[:-1] if value.endswith(b"\r") else value))
    return out


class AsgiHost:
    """One ASGI app, its event loop and its lifespan, for the runner's lifetime."""

    def __init__(self, app, path):
        self.app = app
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.lifespan = Lifespan(app, self.loop, ("asgi", ASGI))

    async def request(self, block, body, originals):
        """One event as a POST; returns (status line, [(name, value)] as str, body)."""
        headers = asgi_headers(block)
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": ASGI,
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode("utf-8"),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": None,
            "server": None,
            "state": dict(self.lifespan.state),
            # what Context.original() gives a function
            "extensions": {"sluice.original": lambda part="value", index=0: originals.get((index, part))},
        }
        responded = asyncio.Event()
        asked = False
        status = None
        answer_headers = []
        chunks = []

        async def receive():
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": body, "more_body": False}
            await responded.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            nonlocal status, answer_headers
            kind = message.get("type")
            if kind == "http.response.start":
                status = int(message["status"])
                answer_headers = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in message.get("headers", [])]
            elif kind == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    responded.set()

        try:
            await self.app(scope, receive, send)
        finally:
            responded.set()  # a receive() still waiting sees the disconnect
        if status is None:
            return "500 the app sent no response", [], b""
        return str(status), answer_headers, b"".join(chunks)


class SendRefused(OSError):
    """What a ``message.send`` sluice cannot carry raises in the app, as AMGI asks of a
    server that fails to send."""


def _utf8(data, what):
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise SendRefused("message.send: %s is not UTF-8, and Kafka header names are text" % what)


def produce_record(event):
    """A ``message.send`` event as an entry of sluice's produce answer (docs/formats.md)."""
    address = event.get("address")
    if not isinstance(address, str) or not address:
        raise SendRefused("message.send: address (the topic) must be a non-empty string")
    record = {"topic": address}
    kafka = (event.get("bindings") or {}).get("kafka") or {}
    key = kafka.get("key")
    if key is not None:
        record["key_base64"] = base64.b64encode(key.encode("utf-8") if isinstance(key, str) else bytes(key)).decode("ascii")
    if isinstance(kafka.get("partition"), int):
        record["partition"] = kafka["partition"]
    payload = event.get("payload")
    record["value_base64"] = None if payload is None else base64.b64encode(bytes(payload)).decode("ascii")
    if record["value_base64"] is None:
        del record["value_base64"]  # absent: a tombstone
    # The list form of the produce answer's headers: repeats, order and bytes kept.
    headers = [{"name": _utf8(name, "a header name"),
                "value_base64": base64.b64encode(bytes(value)).decode("ascii")}
               for name, value in event.get("headers") or []]
    if headers:
        record["headers"] = headers
    return record


def amgi_headers(header_list):
    """The record's Kafka headers from a raw-format request: [(name, value)] as bytes, in
    record order, repeats kept; a null value (X-Kafka-Null-Header) becomes b"", AMGI's
    headers being bytes."""
    out = []
    for name, value in header_list:
        lower = name.lower()
        if lower.startswith(_KAFKA_HEADER):
            out.append((unquote_to_bytes(name[len(_KAFKA_HEADER):]), unquote_to_bytes(value)))
    return out


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


class AmgiHost:
    """One AMGI app, its event loop and its lifespan, for the runner's lifetime."""

    def __init__(self, app):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.lifespan = Lifespan(app, self.loop, ("amgi", AMGI))

    async def message(self, header_list, body):
        """One record as a message scope; returns (frame headers, answer body)."""
        fields = {name.lower(): value for name, value in header_list}
        key = fields.get("x-kafka-key")
        tombstone = fields.get("x-kafka-tombstone") == "true"
        scope = {
            "type": "message",
            "amgi": AMGI,
            "address": fields.get("x-kafka-topic", ""),
            "headers": amgi_headers(header_list),
            "payload": None if tombstone else body,
            "bindings": {"kafka": {"key": None if key is None else unquote_to_bytes(key)}},
            "state": dict(self.lifespan.state),
            # What AMGI's scope has no place for: where the record came from.
            "extensions": {"sluice": {"partition": _int(fields.get("x-kafka-partition")),
                                      "offset": _int(fields.get("x-kafka-offset")),
                                      "attempt": _int(fields.get("x-sluice-attempt")) or 1,
                                      "group_id": fields.get("x-kafka-group-id")}},
        }
        outcome = []  # the app's last ack or nack
        produce = []

        async def receive():
            raise RuntimeError("an AMGI message scope carries its message: receive() has nothing to give")

        async def send(event):
            kind = event.get("type")
            if kind in ("message.ack", "message.nack"):
                outcome[:] = [event]
            elif kind == "message.send":
                produce.append(produce_record(event))

        await self.app(scope, receive, send)
        if not outcome:
            return [("Status", "retry"), ("Error", "amgi: the app neither acked nor nacked the message")], b""
        if outcome[0]["type"] == "message.nack":
            # Its sends go with it: only an acked record's are produced.
            return [("Status", "retry"), ("Error", "amgi: nack: %s" % outcome[0].get("message", ""))], b""
        return [("Status", "ok")], json.dumps({"produce": produce}).encode() if produce else b""


def order_chain(header_list, ordering):
    """Which requests must not overlap this one, by the rule sluice's http handler keeps:
    requests with the same chain run one after another, in request order; None runs
    beside anything. `partition`: its topic and partition; `key`: its key (a record
    without one keeps its partition's order); `none`: None. A request without a partition
    header (a batch of records) runs alone among such requests."""
    if ordering == "none":
        return None
    fields = {name.lower(): value for name, value in header_list}
    if ordering == "key" and "x-kafka-key" in fields:
        return ("key", fields["x-kafka-key"])
    return ("partition", fields.get("x-kafka-topic"), fields.get("x-kafka-partition"))


class _Request:
    """One request between its arrival and its answer: its task once started."""

    __slots__ = ("chain", "frame", "headers", "task")

    def __init__(self, chain, frame, headers):
        self.chain = chain
        self.frame = frame
        self.headers = headers
        self.task = None


async def serve(inp, parse, chain_of, call, write, flush):
    """Reads requests from `inp` (sluice_handler.Requests) until the end of input and runs
    each as a task, `call(block, parsed headers, body)` -> (frame headers, body); of those
    with the same `chain_of(parsed headers)`, one runs at a time, in request order (the
    next is started when the one before ends: a task per waiting request that awaited its
    predecessor cost more than the app). Answers are written in request order, because
    that is how sluice matches them, so an answer done early waits for the ones before
    it; what is due is written and flushed before every wait.

    sluice writes at most `max_concurrency` requests ahead, which bounds the tasks. If the
    process ends with answers owed, sluice (coalesce) charges nobody and calls those
    records again one at a time. `call` turns the app's exceptions into answers; anything
    that escapes it (SystemExit, os._exit) ends the runner, as it would one at a time."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    eof = False

    def readable():
        nonlocal eof
        if not inp.fill():  # the fd is readable: this read does not block
            eof = True
            loop.remove_reader(inp.fd)
        wake.set()

    pending = collections.deque()  # every _Request, in request order
    waiting = {}  # chain -> deque of _Requests not started, while one of the chain runs

    def ended(request):
        wake.set()
        queue = waiting.get(request.chain)
        if queue is None:
            return
        if queue:
            start(queue.popleft())
        else:
            del waiting[request.chain]

    def start(request):
        request.task = loop.create_task(call(request.frame[0], request.headers, request.frame[1]))
        request.task.add_done_callback(lambda _: ended(request))
        request.frame = request.headers = None

    loop.add_reader(inp.fd, readable)
    answering = True  # until sluice stops reading (a broken pipe at its stop)
    try:
        while True:
            frame = inp.frame()
            while frame is not None:
                headers = parse(frame[0])
                request = _Request(chain_of(headers), frame, headers)
                pending.append(request)
                if request.chain is None:
                    start(request)
                elif request.chain in waiting:
                    waiting[request.chain].append(request)
                else:
                    waiting[request.chain] = collections.deque()  # the chain is busy
                    start(request)
                frame = inp.frame()
            wrote = False
            while pending and pending[0].task is not None and pending[0].task.done():
                answer = pending.popleft().task.result()  # SystemExit and the like end the runner here
                if answering:
                    try:
                        write(*answer)
                        wrote = True
                    except BrokenPipeError:
                        answering = False
            if wrote:
                try:
                    flush()
                except BrokenPipeError:
                    answering = False
            if eof and not pending:
                return
            # Callbacks run only while this waits, so nothing is missed between the
            # checks above and the clear.
            wake.clear()
            await wake.wait()
    finally:
        if not eof:
            loop.remove_reader(inp.fd)
