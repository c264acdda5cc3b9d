import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)  # Lambda's root logger shows WARNING and up unless you lower it


def handler(event, context):
    name = event.get("name", "world")
    print(f"Saying hello to {name}")
    logger.info("INFO lines appear because the level is set to INFO")
    logger.warning("this is a WARNING line")
    return {"message": f"Hello, {name}!"}
