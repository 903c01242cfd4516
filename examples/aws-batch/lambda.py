"""An AWS Lambda handler for a Kafka event source, with partial batch failures.

With `format = "aws"` the event is AWS's Kafka event: records grouped by
"<topic>-<partition>", keys and values base64. Returning
{"batchItemFailures": [{"itemIdentifier": ...}]} fails only the records named; sluice
retries them and then sends them down the lambda's failure path (a dead-letter topic
here); the others count as handled. Raising fails the whole batch, which is retried.
"""

import base64


def lambda_handler(event, context):
    failures = []
    for records in event["records"].values():
        for record in records:
            value = base64.b64decode(record.get("value", "")).decode("utf-8", "replace")
            key = base64.b64decode(record["key"]).decode("utf-8", "replace") if "key" in record else None
            where = "%s[%d]@%d" % (record["topic"], record["partition"], record["offset"])
            if "invalid" in value:
                failures.append({"itemIdentifier": "%s-%d-%d" % (record["topic"], record["partition"], record["offset"])})
                continue
            print("%s key=%s value=%s" % (where, key, value))
    return {"batchItemFailures": failures}
