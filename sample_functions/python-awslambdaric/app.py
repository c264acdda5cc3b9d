import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)  # as under Lambda, the root logger shows WARNING and up by default


def handler(event, context):
    name = event.get("name", "world")
    logger.info("greeting %s from %s", name, context.function_name)
    return {
        "message": f"Hello, {name}!",
        "client": "awslambdaric",
        "request_id": context.aws_request_id,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
