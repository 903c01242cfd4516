"""A Python lambda for Avro records: `def f(event)` with no Avro or registry code.

sluice fetches each record's schema from the schema registry (once per schema id),
decodes the Avro data and hands the function the json envelope, whose `message` is the
record as JSON in Avro's JSON encoding: records are dicts, and a union's non-null value
is wrapped in a dict naming its branch ({"string": "..."}).

Run by sluice's exec handler (see lambda.toml):
    python3 -m sluice_handler lambda.py
"""


def f(event):
    order = event["message"]
    coupon = order["coupon"]["string"] if order["coupon"] is not None else "-"
    print("%s[%d]@%d key=%s value=%s coupon=%s total=%d" % (event["topic"], event["partition"], event["offset"],
                                                            event["key"], order["note"], coupon, order["total"]))
