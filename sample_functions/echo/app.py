def handler(event, context):
    print(f"function_name: {context.function_name}")
    print(f"memory_limit_in_mb: {context.memory_limit_in_mb}")
    print(f"aws_request_id: {context.aws_request_id}")
    print(f"remaining time: {context.get_remaining_time_in_millis()} ms")
    return event
