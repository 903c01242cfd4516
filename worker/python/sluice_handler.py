"""Run a Python function as a sluice exec handler.

    python3 -m sluice_handler /path/to/lambda.py [FUNCTION]
    python3 -m sluice_handler --wsgi /path/to/app.py [APP]
    python3 -m sluice_handler --asgi /path/to/app.py [APP]
    python3 -m sluice_handler --amgi /path/to/app.py [APP]
    (each with --no-coalesce: below)

loads the file, then calls FUNCTION (default ``f``) once per event, as OpenLambda does:

    def f(event):              # or f(event, context)
        ...

``event`` is the request body decoded: parsed JSON when the body is JSON (the ``json``
and ``aws`` formats always are) that Python's parser can take (not nested deeper than
its recursion limit), else ``str`` for UTF-8 text, else ``bytes``. With a
second parameter the function also gets a ``Context``: the request headers
(``X-Kafka-Topic``, ``X-Kafka-Partition``, ``X-Kafka-Offset``, ...) and the attempt number.

Outcomes: returning is success (a ``dict`` or ``list`` is sent back as JSON, so an
``aws``-format function can return ``{"batchItemFailures": [...]}``); raising ``Fail``
sends the record down the lambda's failure path at once; raising ``Unavailable`` says
something the function depends on is down (not the record's fault): it is called again
with backoff for as long as that lasts, without counting attempts; any other exception is
retried with backoff up to ``max_attempts``, as OpenLambda's HTTP 500 would be.

With ``--wsgi``, APP (default ``app``) is a WSGI application (Flask, for instance) that
gets each event as the POST OpenLambda would send it (path ``/``, or ``--path``): the
event body, ``X-Kafka-*`` headers. As with sluice's ``http`` handler, a 2xx status is
success, 429, 502, 503 and 504 are "unavailable" (retried without counting attempts,
honouring a ``Retry-After`` of whole seconds), other 5xx are retried, and any other status
fails the record.

With ``--asgi``, APP is an ASGI 3 application (FastAPI, Starlette) called the same way;
with ``--amgi``, an AMGI application getting each record as a message scope (format
"raw"). Their lifespan runs once per process (sluice_async.py).

Answers to requests that arrive together are written together (sluice's ``coalesce``
feature): much less work per record, at a price when the process dies (a crash in C
code, ``os._exit``, a kill for a timeout): records it had finished but not yet answered
are handled again. ``--no-coalesce`` answers each record at once instead.

Only the standard library is used. The protocol is in sluice's docs/exec-protocol.md.
"""

import importlib.util
import inspect
import io
import json
import os
import signal
import sys
import time
import traceback
from urllib.parse import unquote_to_bytes

__all__ = ["Fail", "Unavailable", "Context", "main"]


class Fail(Exception):
    """Raise to fail the record for good (no retries): it takes the lambda's on_failure."""


class Unavailable(Exception):
    """Raise when something the function needs is down: the record is called again, with
    backoff (at least ``retry_after`` seconds, when given), without counting an attempt."""

    def __init__(self, message="", retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class Context:
    """Where an event came from. ``headers`` maps lower-case header names to values as
    sent (the last of a repeated name, sluice's rule wherever a format has one value per
    name); ``key`` and ``kafka_headers`` are the record's own bytes (``raw`` and
    ``cloudevents`` formats), every header kept; ``original()`` gives the bytes a
    schema-registry decoded key or value came from."""

    def __init__(self, header_list, originals=None):
        headers = {}
        kafka_headers = []
        marked = None  # the encoded name of the field just read, if it was a Kafka header
        for name, value in header_list:
            lower = name.lower()
            headers[lower] = value
            if lower.startswith(_KAFKA_HEADER):
                kafka_headers.append((unquote_to_bytes(name[len(_KAFKA_HEADER):]).decode("utf-8", "replace"),
                                      unquote_to_bytes(value)))
            elif lower == _NULL_HEADER and marked == value.lower():
                # it marks the field just before it: that header's value was null, not empty
                kafka_headers[-1] = (kafka_headers[-1][0], None)
            marked = lower[len(_KAFKA_HEADER):] if lower.startswith(_KAFKA_HEADER) else None
        self.headers = headers
        key = headers.get("x-kafka-key")
        self.key = None if key is None else unquote_to_bytes(key)
        # Every Kafka header in the record's order, repeats kept: (name, value bytes or
        # None for a null value).
        self.kafka_headers = kafka_headers
        self.topic = headers.get("x-kafka-topic")
        self.partition = _int_or_none(headers.get("x-kafka-partition"))
        self.offset = _int_or_none(headers.get("x-kafka-offset"))
        self.group_id = headers.get("x-kafka-group-id")
        self.attempt = _int_or_none(headers.get("x-sluice-attempt")) or 1
        self._originals = originals or {}

    def original(self, part="value", index=0):
        """The bytes record ``index`` of the event (0 unless it is a batch) had as its
        ``part`` ("key" or "value") before sluice decoded it with the schema registry,
        framing included; None when that part was not decoded."""
        return self._originals.get((index, part))


_KAFKA_HEADER = "x-kafka-header-"
_ORIGINALS = "x-sluice-originals"
_NULL_HEADER = "x-kafka-null-header"


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _frame_from(stream):
    raw = _raw_frame_from(stream)
    return None if raw is None else (parse_headers(raw[0]), raw[1])


def _lengths(line):
    """A frame's "<H> <B>" line as two sizes; ValueError when it is not one."""
    try:
        header_len, body_len = (int(n) for n in line.split())
    except ValueError:
        raise ValueError("bad frame length line %r" % line[:40])
    if header_len < 0 or body_len < 0:
        raise ValueError("bad frame length line %r" % line[:40])
    return header_len, body_len


def _raw_frame_from(stream):
    line = stream.readline()
    if not line:
        return None
    header_len, body_len = _lengths(line)
    block = stream.read(header_len)
    body = stream.read(body_len)
    if len(block) != header_len or len(body) != body_len:
        return None  # input ended mid-frame: sluice is gone
    return block, body


def parse_headers(block):
    headers = []
    for raw in block.decode("utf-8", "replace").split("\n"):
        if raw:
            name, _, value = raw.partition(":")
            # "Name: value": one space after the colon; the value is kept as sent
            # (percent-encoded where it carries bytes), not trimmed.
            value = value[1:] if value.startswith(" ") else value
            headers.append((name, value[:-1] if value.endswith("\r") else value))
    return headers


def split_originals(headers, body):
    """The event's body, and {(record index, "key" or "value"): bytes} of the originals
    sluice appended after it (X-Sluice-Originals: their size; docs/exec-protocol.md)."""
    size = next((v for k, v in headers if k.lower() == _ORIGINALS), None)
    if size is None:
        return body, {}
    n = _int_or_none(size)
    if n is None or not 0 <= n <= len(body):
        raise ValueError("X-Sluice-Originals: %r does not fit a body of %d bytes" % (size[:40], len(body)))
    section = io.BytesIO(body[len(body) - n :])
    originals = {}
    while section.tell() < n:
        frame = _frame_from(section)
        if frame is None:
            raise ValueError("the originals section ends inside a frame")
        fields = {k.lower(): v for k, v in frame[0]}
        originals[(_int_or_none(fields.get("record")), fields.get("part"))] = frame[1]
    return body[: len(body) - n], originals


def write_frame(stream, headers, body=b""):
    block = "".join("%s: %s\n" % (k, _one_line(v)) for k, v in headers).encode("utf-8")
    stream.write(b"%d %d\n" % (len(block), len(body)) + block + body)


class Requests:
    """Request frames from a file descriptor, read in as large pieces as the pipe holds:
    sluice writes requests ahead of their answers (`pipeline`), and one read takes all
    that are waiting. frame() returns None when no whole frame is buffered; fill() then
    waits for more and returns False at end of input."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.at = 0  # where the next frame starts in buf

    def frame(self):
        nl = self.buf.find(b"\n", self.at)
        if nl < 0:
            return None
        # The two sizes read in place (int() takes bytes), as sluice writes them; any
        # other spelling, and every error, is _lengths()'s. This runs once per record.
        line = self.buf[self.at : nl]
        space = line.find(b" ")
        try:
            header_len, body_len = int(line[:space]), int(line[space + 1 :])
        except ValueError:
            header_len = body_len = -1
        if space <= 0 or header_len < 0 or body_len < 0:
            try:
                header_len, body_len = _lengths(bytes(line))
            except ValueError as exc:
                raise SystemExit("sluice_handler: %s" % exc)
        start = nl + 1
        end = start + header_len + body_len
        if end > len(self.buf):
            return None
        self.at = end
        with memoryview(self.buf) as view:
            return bytes(view[start : start + header_len]), bytes(view[start + header_len : end])

    def fill(self):
        # Only what is left of a frame not yet whole is kept, so a large body read in
        # pieces is appended to, not copied again at every piece.
        del self.buf[: self.at]
        self.at = 0
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return False
        self.buf += chunk
        return True


class Answers:
    """Where answers go. With `coalesce` (sluice lists it in SLUICE_EXEC_FEATURES) they are
    held while more requests are already buffered and written together before the runner
    waits for input: one write and one wake-up of the worker for a run of requests instead
    of one each. An answer is never held longer than HOLD_S after the first one held, past
    the record being handled then, so a slow record does not make its predecessors' answers
    late; if the process ends holding answers, sluice calls the records again one at a time
    (docs/exec-protocol.md)."""

    HOLD_S = 0.001

    def __init__(self, stream, coalesce):
        self.stream = stream
        self.coalesce = coalesce
        self.since = None  # when the first answer still held was written

    def wrote(self):
        """After each answer."""
        if not self.coalesce:
            self.stream.flush()
            return
        now = time.monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since >= self.HOLD_S:
            self.flush()

    def flush(self):
        self.stream.flush()
        self.since = None


def _one_line(text):
    return " ".join(str(text).split())[:1000]


# json.loads() reaches its C scanner through two Python calls and two regular-expression
# matches for white space around the document, a fifth of the runner's time per record.
# An event sluice wrote has none, so the scanner is called directly; anything it does
# not take whole goes through json.loads() as before.
_scan_json = json.JSONDecoder().scan_once


def decode_event(body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    try:
        value, end = _scan_json(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than Python's parser goes ("[" * 50000): the text.
        return text


def encode_result(result):
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result).encode("utf-8")


def describe(exc):
    """The exception and where it was raised, on one line."""
    where = traceback.extract_tb(exc.__traceback__)
    place = " (%s:%d)" % (os.path.basename(where[-1].filename), where[-1].lineno) if where else ""
    return "%s: %s%s" % (type(exc).__name__, exc, place)


def load(path, name):
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)  # so the lambda can import its neighbours
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    if spec is None:
        raise SystemExit("sluice_handler: cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SystemExit("sluice_handler: %s defines no function %s" % (path, name))
    return fn


def wsgi_caller(app, path):
    """Calls a WSGI app with each event as an HTTP POST; returns (status line, headers, body)."""

    def call(header_list, body, originals):
        environ = {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "sluice",
            "SERVER_PORT": "0",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            # what Context.original() gives a function
            "sluice.original": lambda part="value", index=0: originals.get((index, part)),
        }
        for name, value in header_list:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            elif key != "CONTENT_LENGTH":
                key = "HTTP_" + key
                environ[key] = environ[key] + "," + value if key in environ else value
        status = []

        def start_response(line, headers, exc_info=None):
            if exc_info is not None and status:
                raise exc_info[1].with_traceback(exc_info[2])
            status[:] = [line]
            answer_headers[:] = list(headers)
            return lambda data: chunks.append(data)

        chunks = []
        answer_headers = []
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return status[0] if status else "500 no status", answer_headers, b"".join(chunks)

    return call


def unavailable_frame(error, retry_after):
    headers = [("Status", "unavailable"), ("Error", error)]
    if retry_after is not None:
        try:
            seconds = int(retry_after)
        except (TypeError, ValueError):
            seconds = -1  # an HTTP date, or nonsense: the lambda's own backoff applies
        if seconds >= 0:
            headers.append(("Retry-After", str(seconds)))
    return headers


def http_outcome(status_line, answer_headers, body, kind="wsgi"):
    """The frame headers for a WSGI or ASGI (kind) answer, by the http handler's status rules."""
    try:
        code = int(status_line.split()[0])
    except (IndexError, ValueError):
        return [("Status", "retry"), ("Error", "%s: bad status line %r" % (kind, status_line))]
    if 200 <= code < 300:
        return [("Status", "ok")]
    what = "%s: status %s: %s" % (kind, status_line, body[:200].decode("utf-8", "replace"))
    if code in (429, 502, 503, 504):
        retry_after = next((v for k, v in answer_headers if k.lower() == "retry-after"), None)
        return unavailable_frame(what, retry_after)
    return [("Status", "retry" if code >= 500 else "fail"), ("Error", what)]


def wants_context(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def end_lifespan(lifespan):
    """At the end of input: the app's lifespan shutdown, and the runner's exit code."""
    why = lifespan.shutdown()
    if why is not None:
        sys.stderr.write("sluice_handler: the app's lifespan shutdown failed: %s\n" % why)
        return 1
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    return _run(argv, None)


def embedded(argv, log):
    """The runner inside a sluice worker (handler type "python"): sluice calls it once with
    the arguments `python3 -m sluice_handler` would get and a function taking one line
    for its log, and gets back the ready frame and a function that takes one request (its
    header block and body) and returns its answer frame. No pipe, no second process: the
    same code answers, one request at a time."""
    sys.stdout = sys.stderr = _Lines(log)
    calls = []
    ready = _run(list(argv), calls)
    return ready, calls[0]


class _Lines(io.TextIOBase):
    """sys.stdout and sys.stderr inside a worker: each whole line to sluice's log, as the
    exec handler logs a child's stderr; a line is cut at 4096 characters, so output
    without newlines cannot grow the worker's memory."""

    MAX = 4096

    def __init__(self, log):
        super().__init__()
        self.log = log
        self.part = ""

    def writable(self):
        return True

    def write(self, text):
        lines = (self.part + text).split("\n")
        self.part = lines.pop()
        for line in lines:
            self.log(line[: self.MAX].rstrip("\r"))
        while len(self.part) > self.MAX:
            self.log(self.part[: self.MAX])
            self.part = self.part[self.MAX :]
        return len(text)


def _run(argv, embed):
    wsgi = "--wsgi" in argv
    asgi = "--asgi" in argv
    amgi = "--amgi" in argv
    path = "/"
    if "--path" in argv:
        at = argv.index("--path")
        path = argv[at + 1] if at + 1 < len(argv) else "/"
        del argv[at : at + 2]
    no_coalesce = "--no-coalesce" in argv
    argv = [a for a in argv if a not in ("--wsgi", "--asgi", "--amgi", "--no-coalesce")]
    if not argv or argv[0] in ("-h", "--help") or wsgi + asgi + amgi > 1:
        if embed is not None:
            raise SystemExit("sluice_handler: no file to load (the handler's path)")
        sys.stderr.write("usage: python3 -m sluice_handler [--wsgi | --asgi [--path P] | --amgi] [--no-coalesce] FILE [FUNCTION or APP]\n")
        return 2
    if embed is not None:
        if asgi or amgi:
            # Their lifespan and event loop are a process's: they stay exec handlers.
            raise SystemExit("sluice_handler: ASGI and AMGI apps run as an exec handler, not inside the worker")
        # Answers go back to the worker as return values; print() goes to sluice's log
        # (embedded()); signals are the worker's (Python installed no handlers).
        out = io.BytesIO()
        no_coalesce = True
    else:
        # The protocol owns stdout: keep a private copy of it and point fd 1 (print(), and C
        # code writing to stdout) at stderr, which sluice logs.
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        # Every worker's handler shares sluice's log: one write per line keeps lines whole
        # (Python's own stderr writes a print()'s text and its newline separately).
        log = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False), 1 << 16), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
        sys.stdout = sys.stderr = log
        # sluice ends us with SIGTERM (or by closing stdin); Ctrl-C is the daemon's business.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if amgi and os.environ.get("SLUICE_FORMAT", "raw") != "raw":
        # The message's payload and headers are the record's own only in raw requests.
        raise SystemExit('sluice_handler: --amgi needs the lambda\'s format = "raw", not "%s"' % os.environ["SLUICE_FORMAT"])
    fn = load(argv[0], argv[1] if len(argv) > 1 else ("app" if wsgi or asgi or amgi else "f"))
    asgi_host = amgi_host = None
    if asgi or amgi:
        import sluice_async

        if asgi:
            asgi_host = sluice_async.AsgiHost(fn, path)
        else:
            amgi_host = sluice_async.AmgiHost(fn)
        lifespan = (asgi_host or amgi_host).lifespan
        why = lifespan.startup()
        if why is not None:
            # Before the ready frame: sluice reports a handler that cannot start.
            raise SystemExit("sluice_handler: the app's lifespan startup failed: %s" % why)
        # sluice stops a handler with SIGTERM, then closes its stdin: the end of input is
        # where lifespan shutdown runs, so SIGTERM itself must not end the process first.
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: None)
    call_wsgi = wsgi_caller(fn, path) if wsgi else None
    # An app's call: (the answer's frame headers, its body) for a request's raw header
    # block, parsed headers and body; whatever it raises is that record's retry.
    call_app = None
    kind = "wsgi" if wsgi else "asgi" if asgi else "amgi"
    if wsgi:
        def call_app(block, headers, body):
            event_body, originals = split_originals(headers, body)
            status_line, answer_headers, answer = call_wsgi(headers, event_body, originals)
            return http_outcome(status_line, answer_headers, answer, kind), answer
    elif asgi or amgi:
        async def call_async(block, headers, body):
            try:
                if amgi:
                    return await amgi_host.message(headers, body)
                event_body, originals = split_originals(headers, body)
                status_line, answer_headers, answer = await asgi_host.request(block, event_body, originals)
                return http_outcome(status_line, answer_headers, answer, kind), answer
            except Exception as exc:  # noqa: BLE001 - a crashing app is an HTTP 500: retry
                return [("Status", "retry"), ("Error", "%s: %s" % (kind, describe(exc)))], b""

        def call_app(block, headers, body):
            return lifespan.loop.run_until_complete(call_async(block, headers, body))
    with_context = call_app is None and wants_context(fn)
    inp = Requests(0)
    # pipeline: this loop takes requests in turn and answers each before reading on, so
    # sluice may write the next ones while one is being handled. Originals cost sluice a
    # copy and the pipe their bytes: asked for only where the code can reach them (a
    # context, a WSGI environ).
    features = ["pipeline"]
    if with_context or wsgi or asgi:
        features.append("originals")
    parse = with_context or call_app is not None
    if not parse:
        # f(event) reads nothing but the body: sluice need not build the headers.
        features.append("body-only")
    coalesce = not no_coalesce and "coalesce" in os.environ.get("SLUICE_EXEC_FEATURES", "").replace(",", " ").split()
    if coalesce:
        features.append("coalesce")

    def answer_one(frame):
        # f(event) never sees the headers, and no originals come unasked: its requests
        # are not parsed past their sizes (that parsing was most of the runner's time).
        headers = parse_headers(frame[0]) if parse else None
        body = frame[1]
        if call_app is not None:
            try:
                answer_headers, answer = call_app(frame[0], headers, body)
                write_frame(out, answer_headers, answer)
            except Exception as exc:  # noqa: BLE001 - a crashing WSGI app is an HTTP 500: retry
                write_frame(out, [("Status", "retry"), ("Error", "%s: %s" % (kind, describe(exc)))])
            return
        if with_context:
            try:
                body, originals = split_originals(headers, body)
                context = Context(headers, originals)
            except Exception as exc:  # noqa: BLE001 - a request it cannot read is that record's retry
                return write_frame(out, [("Status", "retry"), ("Error", describe(exc))])
            out.write(answer_for(fn, body, context) or _OK_EMPTY)
        else:
            out.write(answer_for(fn, body) or _OK_EMPTY)

    write_frame(out, [("Status", "ready"), ("Features", ", ".join(features))])
    out.flush()
    if embed is not None:
        if call_app is None and not with_context:
            embed.append(lambda block, body: answer_for(fn, body))
        else:
            embed.append(lambda block, body: _answer_embedded((block, body), answer_one, out))
        return _take(out)
    ordering = os.environ.get("SLUICE_ORDERING")
    if (asgi or amgi) and coalesce and ordering in ("partition", "key", "none"):
        # Only with coalesce: sluice then charges no neighbour when the process ends with
        # several requests under way (docs/exec-protocol.md).
        lifespan.loop.run_until_complete(sluice_async.serve(
            inp, parse_headers, lambda headers: sluice_async.order_chain(headers, ordering), call_async,
            lambda headers, body: write_frame(out, headers, body), out.flush))
        return end_lifespan(lifespan)
    answers = Answers(out, coalesce)
    while True:
        frame = inp.frame()
        if frame is None:
            answers.flush()  # before waiting for more requests
            if not inp.fill():
                return end_lifespan(lifespan) if asgi or amgi else 0
            continue
        answer_one(frame)
        answers.wrote()


def answer_for(fn, body, context=None):
    """The answer frame to one event: f's outcome, or None for the commonest one (ok,
    nothing returned)."""
    try:
        # Inside the try: whatever a record holds, it is that record's failure, never the
        # end of this process (which would cost a restart per attempt).
        event = decode_event(body)
        result = fn(event) if context is None else fn(event, context)
        if result is None:
            return None
        answer = encode_result(result)
    except Fail as exc:
        return _frame_bytes([("Status", "fail"), ("Error", describe(exc))])
    except Unavailable as exc:
        return _frame_bytes(unavailable_frame(describe(exc), exc.retry_after))
    except Exception as exc:  # noqa: BLE001 - any failure of the lambda is a retry
        return _frame_bytes([("Status", "retry"), ("Error", describe(exc))])
    return b"11 %d\nStatus: ok\n" % len(answer) + answer


_OK_EMPTY = b"11 0\nStatus: ok\n"


def _frame_bytes(headers, body=b""):
    out = io.BytesIO()
    write_frame(out, headers, body)
    return out.getvalue()


def _answer_embedded(frame, answer_one, out):
    """One request (its header block and body) in, its answer frame out (embedded())."""
    answer_one(frame)
    return _take(out)


def _take(out):
    """What an embedded runner wrote to its BytesIO, which is left empty for the next."""
    written = out.getvalue()
    out.seek(0)
    out.truncate()
    return written


if __name__ == "__main__":
    # Run as a file path rather than with -m: let `import sluice_handler` in the lambda
    # find this module, not a second copy with a different Fail class.
    sys.modules.setdefault("sluice_handler", sys.modules[__name__])
    sys.exit(main())
