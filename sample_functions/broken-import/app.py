import requests_that_do_not_exist  # noqa: F401  (not installed anywhere)


def handler(event, context):
    return "never reached"
