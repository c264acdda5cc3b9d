def handler(event, context):
    for record in event["Records"]:
        sns = record["Sns"]
        attributes = {k: v["Value"] for k, v in sns["MessageAttributes"].items()}
        print(f"[{sns['Subject'] or 'no subject'}] {sns['Message']} {attributes or ''}".rstrip())
    return {"messages": len(event["Records"])}
