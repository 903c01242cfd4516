"""A Flask app written for OpenLambda's Kafka triggers, run by sluice unchanged.

OpenLambda delivers each Kafka record as a POST whose body is the record's value and
whose X-Kafka-Topic / X-Kafka-Partition / X-Kafka-Offset / X-Kafka-Group-Id headers say
where it came from. sluice makes the same request, either over HTTP to wherever the app
is served (an `http` handler), or by hosting the WSGI app itself in its exec handler:

    python3 -m sluice_handler --wsgi app.py app

A 2xx answer is success; 429 and 5xx are retried; any other status fails the record.
"""

from urllib.parse import unquote

from flask import Flask, request

app = Flask(__name__)


@app.route("/", methods=["POST"])
def on_record():
    topic = request.headers["X-Kafka-Topic"]
    partition = int(request.headers["X-Kafka-Partition"])
    offset = int(request.headers["X-Kafka-Offset"])
    # The key arrives percent-encoded (binary keys survive); absent for a null key.
    key = unquote(request.headers.get("X-Kafka-Key", "(null)"))
    body = request.get_data(as_text=True)
    if not body:
        return {"error": "empty value"}, 400
    print("%s[%d]@%d key=%s value=%s" % (topic, partition, offset, key, body), flush=True)
    return {"topic": topic, "offset": offset}, 200


if __name__ == "__main__":
    # Served over HTTP instead: point an `http` handler at http://127.0.0.1:5000/.
    app.run(port=5000)
