"""Tell a Scheduled Event (its rule, the time it was due) from a constant input."""


def handler(event, context):
    if event.get("detail-type") == "Scheduled Event":
        rule = event["resources"][0].rsplit("/", 1)[-1]
        print(f"report for rule {rule}, scheduled at {event['time']}")
        return {"report": "written", "rule": rule, "scheduled": event["time"]}
    print(f"input: {event}")
    return {"kind": event.get("kind", "unknown")}
