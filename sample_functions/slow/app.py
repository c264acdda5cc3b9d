import time


def handler(event, context):
    print(f"sleeping 3 s with {context.get_remaining_time_in_millis()} ms left")
    time.sleep(3)
    return {"finished": True}  # never reached
