"""The event a function URL hands its function: HTTP API's payload format 2.0 (``apigateway``'s
builder, reused) with what a URL changes (DG: urls-invocation, "Request payload format"):
``routeKey`` ``$default``, ``apiId`` and ``domainPrefix`` the url-id, ``domainName`` the URL's
host, and for an ``AWS_IAM`` URL ``requestContext.authorizer.iam`` naming the signer.
"""

from __future__ import annotations

from .apigateway import HttpRequest, http_api_event


def function_url_event(
    request: HttpRequest,
    *,
    url_id: str,
    domain: str,
    account_id: str,
    iam: dict[str, object] | None = None,
) -> dict:
    """``domain``: the URL's host as the client reached it (``<url-id>.lambda-url.<region>
    .localhost:3000`` locally; Lambda's is ``<url-id>.lambda-url.<region>.on.aws``)."""
    event = http_api_event(
        request, route_key="$default", path_parameters=None, account_id=account_id, api_id=url_id
    )
    context = event["requestContext"]
    rebuilt: dict[str, object] = {"accountId": context["accountId"], "apiId": url_id}
    if iam is not None:
        rebuilt["authorizer"] = {"iam": iam}
    rebuilt["domainName"] = domain
    rebuilt["domainPrefix"] = url_id
    rebuilt.update({k: v for k, v in context.items() if k not in rebuilt})
    event["requestContext"] = rebuilt
    return event
