from urllib.parse import unquote_plus


def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])  # keys arrive URL-encoded, as from S3
        if record["eventName"].startswith("ObjectCreated"):
            print(f"s3://{bucket}/{key}: {obj['size']} bytes, eTag {obj['eTag']}")
        else:
            print(f"s3://{bucket}/{key}: deleted")
    return {"objects": len(event["Records"])}
