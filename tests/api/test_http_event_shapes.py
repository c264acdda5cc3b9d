"""The HTTP trigger's events and ``generate-event apigateway``'s have one shape.

Payload format 2.0: a live request and ``http-api-proxy`` agree key for key, in order. Payload
format 1.0 is HTTP API's, and ``aws-proxy`` is a REST API's: the live event is the sample's
shape plus exactly what HTTP API adds (LAMBDA_REFERENCE §8), nothing missing, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import make_function, structure
from workbench.api.http_trigger import HttpTriggerServer, start_http
from workbench.engine import Engine
from workbench.engine.shapes import generate

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# what HTTP API's payload 1.0 carries beyond a REST API's proxy event, as key paths
HTTP_API_V1_EXTRAS = {
    "version",
    "requestContext.domainName",
    "requestContext.domainPrefix",
    "requestContext.extendedRequestId",
    "requestContext.identity.cognitoAmr",
    "requestContext.identity.principalOrgId",
}


def key_paths(value: object, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    paths = set()
    for key, inner in value.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if key not in ("headers", "multiValueHeaders") and isinstance(inner, dict):
            paths |= key_paths(inner, f"{path}.")
    return paths


@pytest.fixture
async def server(function_root: Path, engine: Engine) -> AsyncIterator[HttpTriggerServer]:
    routes = {
        "echo2": {"type": "http", "path": "/v2/{id}/{proxy+}"},
        "echo1": {"type": "http", "path": "/v1/{id}", "method": "POST", "payload_format": "1.0"},
    }
    for name, trigger in routes.items():
        make_function(function_root, name, ECHO, triggers=[trigger])
    engine.load_functions()
    http = await start_http(engine, "127.0.0.1", 0)
    try:
        yield http
    finally:
        await http.close()


async def echoed(server: HttpTriggerServer, path: str) -> dict:
    headers = {"Cookie": "a=1; b=2", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.post(f"{server.url}{path}", data=b'{"x":1}', headers=headers) as r:
            assert r.status == 200
            return json.loads(await r.text())


async def test_payload_2_0_has_the_http_api_proxy_samples_shape(server: HttpTriggerServer) -> None:
    live = await echoed(server, "/v2/7/a/b?q=1&q=2")
    sample = generate("apigateway", "http-api-proxy", route="ANY /v2/{id}/{proxy+}", path="/v2/7/a")
    assert structure(live) == structure(sample)
    assert live["pathParameters"] == {"id": "7", "proxy": "a/b"}  # live values, not the sample's


async def test_payload_1_0_is_the_rest_samples_shape_plus_what_http_api_adds(
    server: HttpTriggerServer,
) -> None:
    live = await echoed(server, "/v1/7?q=1")
    sample = generate("apigateway", "aws-proxy", resource="/v1/{id}", path="/v1/7", query="q=1")
    assert key_paths(live) - key_paths(sample) == HTTP_API_V1_EXTRAS
    assert key_paths(sample) - key_paths(live) == set()
    for path in key_paths(sample):
        *parents, last = path.split(".")
        live_value, sample_value = live, sample
        for part in parents:
            live_value, sample_value = live_value[part], sample_value[part]
        assert type(live_value[last]) is type(sample_value[last]), path
    assert live["pathParameters"] == {"id": "7"}
