import json


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            total = order["qty"] * 10
            print(f"order {order['id']}: {order['qty']} items, total {total}")
        except (ValueError, KeyError, TypeError) as e:
            print(f"message {record['messageId']} failed: {e!r}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
