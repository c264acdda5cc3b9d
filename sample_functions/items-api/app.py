"""An HTTP API (payload format 2.0) handler: reads the route, path parameters, query string and
cookies of the event, and answers with a status code, headers, cookies and a JSON body."""

import json

ITEMS = {"42": {"id": "42", "name": "towel"}}  # module level: kept while the environment is warm


def handler(event, context):
    route = event["routeKey"]
    params = event.get("pathParameters", {})
    if route == "GET /items/{id}":
        item = ITEMS.get(params["id"])
        if item is None:
            return _json(404, {"message": f"no item {params['id']}"})
        return _json(200, item)
    # ANY /items/{proxy+}: PUT /items/<id> stores an item, anything else echoes the request
    method = event["requestContext"]["http"]["method"]
    if method == "PUT" and "/" not in params["proxy"]:
        item = {**json.loads(event.get("body") or "{}"), "id": params["proxy"]}
        ITEMS[params["proxy"]] = item
        return _json(201, item, cookies=[f"last-item={params['proxy']}; Path=/"])
    return _json(
        200,
        {
            "route": route,
            "method": method,
            "proxy": params["proxy"],
            "query": event.get("queryStringParameters", {}),
            "cookies": event.get("cookies", []),
        },
    )


def _json(status, body, cookies=()):
    response = {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
    if cookies:
        response["cookies"] = list(cookies)
    return response
