"""A WSGI app for the exec handler tests, hosted by `sluice_handler --wsgi`.

Writes the recorder's outcome line ("topic partition offset attempt outcome key value")
for each request to OUTCOMES_DIR/<lambda>.<worker>.<pid>. While the file DOWN_FILE names
exists it answers 503 with Retry-After: 1, as a service behind a proxy whose backend is
down would; otherwise 200.
"""

import os

LOG = open(
    os.path.join(os.environ["OUTCOMES_DIR"], "%s.%s.%d" % (os.environ["SLUICE_LAMBDA"], os.environ["SLUICE_WORKER"], os.getpid())),
    "a",
    buffering=1,
)


def app(environ, start_response):
    value = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode("utf-8", "replace")
    down = os.path.exists(os.environ["DOWN_FILE"])
    LOG.write(
        "%s %s %s %s %s %s %s\n"
        % (
            environ.get("HTTP_X_KAFKA_TOPIC"),
            environ.get("HTTP_X_KAFKA_PARTITION"),
            environ.get("HTTP_X_KAFKA_OFFSET"),
            environ.get("HTTP_X_SLUICE_ATTEMPT", "0"),
            "unavailable" if down else "ok",
            environ.get("HTTP_X_KAFKA_KEY", "-"),
            value,
        )
    )
    if down:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
        return [b"backend down"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
