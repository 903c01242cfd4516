"""A FastAPI app receiving Kafka records as OpenLambda's triggers deliver them, run by
sluice without an HTTP server:

    python3 -m sluice_handler --asgi app.py app

Each record is a POST whose body is the record's value and whose X-Kafka-Topic /
X-Kafka-Partition / X-Kafka-Offset / X-Kafka-Key headers say where it came from. A 2xx
answer is success; 429, 502, 503 and 504 are retried without counting attempts (a
dependency is down); other 5xx are retried; any other status fails the record. The app's
startup and shutdown handlers run once per worker, when sluice starts and stops it.
"""

from urllib.parse import unquote

from fastapi import FastAPI, Request, Response

app = FastAPI()
seen = {"records": 0}


@app.on_event("startup")
async def connect():
    # Open connections, load models: before sluice sends the first record.
    print("fastapi-app: lifespan startup", flush=True)


@app.on_event("shutdown")
async def disconnect():
    print("fastapi-app: lifespan shutdown after %d records" % seen["records"], flush=True)


@app.post("/")
async def on_record(request: Request):
    topic = request.headers["x-kafka-topic"]
    partition = int(request.headers["x-kafka-partition"])
    offset = int(request.headers["x-kafka-offset"])
    # The key arrives percent-encoded (binary keys survive); absent for a null key.
    key = unquote(request.headers.get("x-kafka-key", "(null)"))
    body = (await request.body()).decode("utf-8", "replace")
    if not body:
        return Response("empty value", status_code=400)
    seen["records"] += 1
    print("%s[%d]@%d key=%s value=%s" % (topic, partition, offset, key, body), flush=True)
    return {"topic": topic, "offset": offset}


if __name__ == "__main__":
    # Served over HTTP instead (uvicorn): point an `http` handler at http://127.0.0.1:8000/.
    import uvicorn

    uvicorn.run(app, port=8000)
