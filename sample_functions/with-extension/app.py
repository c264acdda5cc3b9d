"""A plain handler: the interest is in the extension beside it (layers/lifecycle-logger)."""


def handler(event, context):
    print(f"handler: request {context.aws_request_id}")
    return {"handled": context.aws_request_id}
