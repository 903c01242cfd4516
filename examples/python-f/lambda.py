"""An OpenLambda-style Python lambda: `def f(event)` is called once per Kafka record.

With `format = "json"` the event is the workflow-engine envelope
{topic, partition, offset, timestamp, key, message, headers}, where `message` is the
record's value parsed as JSON, or {"raw_message": "..."} when it is not JSON.

Run by sluice's exec handler (see lambda.toml):
    python3 -m sluice_handler lambda.py
What it prints goes to sluice's log. Raising an exception retries the record (with
backoff, up to max_attempts); raising sluice_handler.Fail sends it down the lambda's
failure path at once.
"""


def f(event):
    message = event["message"]
    if isinstance(message, dict) and "raw_message" in message:
        text = message["raw_message"]
    else:
        text = str(message)
    print("%s[%d]@%d key=%s value=%s" % (event["topic"], event["partition"], event["offset"], event["key"], text))
    return {"handled": event["offset"]}
