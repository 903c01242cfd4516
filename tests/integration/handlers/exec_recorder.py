"""The recorder of the exec handler tests, as a Python `f(event, context)`.

Writes one outcome line per call ("topic partition offset attempt outcome key value",
the recorder plugin's format) to OUTCOMES_DIR/<lambda>.<worker>.<pid>, and misbehaves on
the sequence numbers listed in its environment:
  CRASH_SEQS  kills its own process with SIGSEGV     HANG_SEQS   sleeps for an hour
  RETRY_SEQS  raises on every attempt                FAIL_SEQS   raises sluice_handler.Fail
  FLAKY_SEQS  raises on the first attempt only
and, while the file DOWN_FILE names exists, raises sluice_handler.Unavailable for every
record (a dependency that is down).
At SIGTERM (lifespan end) it writes OUTCOMES_DIR/lifespan-end.<pid> and exits.
"""

import os
import signal
import sys
import time

import sluice_handler

OUT_DIR = os.environ["OUTCOMES_DIR"]
LOG = open(
    os.path.join(OUT_DIR, "%s.%s.%d" % (os.environ["SLUICE_LAMBDA"], os.environ["SLUICE_WORKER"], os.getpid())),
    "a",
    buffering=1,
)


def seqs(name):
    return {int(s) for s in os.environ.get(name, "").split(",") if s}


CRASH, HANG, RETRY, FAIL, FLAKY = (seqs(n) for n in ("CRASH_SEQS", "HANG_SEQS", "RETRY_SEQS", "FAIL_SEQS", "FLAKY_SEQS"))
DOWN_FILE = os.environ.get("DOWN_FILE")


def on_term(signum, frame):
    with open(os.path.join(OUT_DIR, "lifespan-end.%d" % os.getpid()), "w") as f:
        f.write("SIGTERM\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)


def f(event, context):
    value = event if isinstance(event, str) else repr(event)
    seq = int(value[1 : value.index("-")])
    key = context.headers.get("x-kafka-key", "-")

    def record(outcome):
        LOG.write("%s %d %d %d %s %s %s\n" % (context.topic, context.partition, context.offset, context.attempt, outcome, key, value))

    if DOWN_FILE and os.path.exists(DOWN_FILE):
        record("unavailable")
        raise sluice_handler.Unavailable("the database is down")
    if seq in CRASH:
        record("crash")
        os.kill(os.getpid(), signal.SIGSEGV)
    if seq in HANG:
        record("hang")
        time.sleep(3600)
    if seq in RETRY or (seq in FLAKY and context.attempt == 1):
        record("retry")
        raise RuntimeError("transient trouble with %d" % seq)
    if seq in FAIL:
        record("fail")
        raise sluice_handler.Fail("record %d is invalid" % seq)
    record("ok")
