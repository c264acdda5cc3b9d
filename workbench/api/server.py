"""The API server: routes, the loopback guard, Lambda's error responses, start and stop.

aiohttp on the engine's own event loop: an invocation over HTTP costs one hop into the engine,
no thread and no copy of the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from ..engine import Engine
from ..engine.model import AccessDenied, LambdaError, new_uuid
from . import (
    aliases,
    deploy,
    function_urls,
    functions,
    invoke_config,
    kinesis,
    layers,
    mappings,
    resources,
    sqs,
)
from .defaults import DEFAULT_HOST, DEFAULT_PORT
from .guard import client_gone, guard_middleware
from .invoke import invoke
from .keys import ENGINE
from .limits import ConnectionLimits
from .listen import Served
from .security import HostPolicy
from .streaming_invoke import invoke_with_response_stream

CONTROL_BODY_LIMIT = 1024 * 1024  # control-plane JSON bodies (Invoke streams its own, see invoke)
log = logging.getLogger("workbench.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def aws_json(request: web.Request) -> web.StreamResponse:
    """``POST /``: a JSON-protocol service named by ``X-Amz-Target`` (Kinesis or SQS)."""
    if request.headers.get("X-Amz-Target", "").startswith(kinesis.TARGET_PREFIX):
        return await kinesis.handle(request)
    return await sqs.handle(request)


_F = "/2015-03-31/functions/{function}"
_EIC = "/2019-09-25/functions/{function}/event-invoke-config"
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", f"{_F}/invocations", invoke),
    (
        "POST",
        "/2021-11-15/functions/{function}/response-streaming-invocations",
        invoke_with_response_stream,
    ),
    ("GET", "/2015-03-31/functions", functions.list_functions),
    ("POST", "/2015-03-31/functions", deploy.create_function),
    ("PUT", f"{_F}/code", deploy.update_function_code),
    ("DELETE", _F, deploy.delete_function),
    ("GET", _F, functions.get_function),
    ("GET", f"{_F}/configuration", functions.get_configuration),
    ("PUT", f"{_F}/configuration", functions.update_configuration),
    ("POST", f"{_F}/versions", functions.publish_version),
    ("GET", f"{_F}/versions", functions.list_versions),
    ("POST", f"{_F}/aliases", aliases.create_alias),
    ("GET", f"{_F}/aliases", aliases.list_aliases),
    ("GET", f"{_F}/aliases/{{alias}}", aliases.get_alias),
    ("PUT", f"{_F}/aliases/{{alias}}", aliases.update_alias),
    ("DELETE", f"{_F}/aliases/{{alias}}", aliases.delete_alias),
    ("PUT", "/2017-10-31/functions/{function}/concurrency", functions.put_concurrency),
    ("GET", "/2019-09-30/functions/{function}/concurrency", functions.get_concurrency),
    ("DELETE", "/2017-10-31/functions/{function}/concurrency", functions.delete_concurrency),
    ("GET", "/2016-08-19/account-settings", functions.account_settings),
    ("GET", "/workbench/code/{function}", functions.code_zip),
    ("POST", "/2017-03-31/tags/{resource}", resources.tag_resource),
    ("DELETE", "/2017-03-31/tags/{resource}", resources.untag_resource),
    ("GET", "/2017-03-31/tags/{resource}", resources.list_tags),
    ("POST", f"{_F}/policy", resources.add_permission),
    ("GET", f"{_F}/policy", resources.get_policy),
    ("DELETE", f"{_F}/policy/{{sid}}", resources.remove_permission),
    ("PUT", "/2019-09-30/functions/{function}/provisioned-concurrency", resources.put_provisioned),
    ("GET", "/2019-09-30/functions/{function}/provisioned-concurrency", resources.get_provisioned),
    (
        "DELETE",
        "/2019-09-30/functions/{function}/provisioned-concurrency",
        resources.delete_provisioned,
    ),
    ("POST", "/2015-03-31/event-source-mappings", mappings.create_mapping),
    ("GET", "/2015-03-31/event-source-mappings", mappings.list_mappings),
    ("GET", "/2015-03-31/event-source-mappings/{uuid}", mappings.get_mapping),
    ("PUT", "/2015-03-31/event-source-mappings/{uuid}", mappings.update_mapping),
    ("DELETE", "/2015-03-31/event-source-mappings/{uuid}", mappings.delete_mapping),
    ("PUT", f"{_EIC}", invoke_config.put_config),
    ("POST", f"{_EIC}", invoke_config.update_config),
    ("GET", f"{_EIC}", invoke_config.get_config),
    ("DELETE", f"{_EIC}", invoke_config.delete_config),
    ("GET", f"{_EIC}/list", invoke_config.list_configs),
    ("POST", "/2018-10-31/layers/{layer}/versions", layers.publish_layer_version),
    ("GET", "/2018-10-31/layers/{layer}/versions", layers.list_layer_versions),
    ("GET", "/2018-10-31/layers/{layer}/versions/{version}", layers.get_layer_version),
    ("DELETE", "/2018-10-31/layers/{layer}/versions/{version}", layers.delete_layer_version),
    ("GET", "/2018-10-31/layers", layers.list_layers),  # and GetLayerVersionByArn (?find=)
    ("GET", "/workbench/layer-code/{layer}/{version}", layers.layer_code),
    ("POST", "/2021-10-31/functions/{function}/url", function_urls.create_url),
    ("GET", "/2021-10-31/functions/{function}/url", function_urls.get_url),
    ("PUT", "/2021-10-31/functions/{function}/url", function_urls.update_url),
    ("DELETE", "/2021-10-31/functions/{function}/url", function_urls.delete_url),
    ("GET", "/2021-10-31/functions/{function}/urls", function_urls.list_urls),
    ("PUT", "/2024-08-31/functions/{function}/recursion-config", function_urls.put_recursion),
    ("GET", "/2024-08-31/functions/{function}/recursion-config", function_urls.get_recursion),
    ("POST", "/", aws_json),  # SQS's and Kinesis's JSON protocols: X-Amz-Target names both
)


# The IAM action of each operation, named in an AccessDeniedException's message.
ACTIONS: dict[Handler, str] = {
    invoke: "lambda:InvokeFunction",
    invoke_with_response_stream: "lambda:InvokeFunction",
    functions.list_functions: "lambda:ListFunctions",
    functions.get_function: "lambda:GetFunction",
    deploy.create_function: "lambda:CreateFunction",
    deploy.update_function_code: "lambda:UpdateFunctionCode",
    deploy.delete_function: "lambda:DeleteFunction",
    functions.get_configuration: "lambda:GetFunctionConfiguration",
    functions.update_configuration: "lambda:UpdateFunctionConfiguration",
    functions.publish_version: "lambda:PublishVersion",
    functions.list_versions: "lambda:ListVersionsByFunction",
    aliases.create_alias: "lambda:CreateAlias",
    aliases.list_aliases: "lambda:ListAliases",
    aliases.get_alias: "lambda:GetAlias",
    aliases.update_alias: "lambda:UpdateAlias",
    aliases.delete_alias: "lambda:DeleteAlias",
    functions.put_concurrency: "lambda:PutFunctionConcurrency",
    functions.get_concurrency: "lambda:GetFunctionConcurrency",
    functions.delete_concurrency: "lambda:DeleteFunctionConcurrency",
    functions.code_zip: "lambda:GetFunction",
    resources.tag_resource: "lambda:TagResource",
    resources.untag_resource: "lambda:UntagResource",
    resources.list_tags: "lambda:ListTags",
    resources.add_permission: "lambda:AddPermission",
    resources.get_policy: "lambda:GetPolicy",
    resources.remove_permission: "lambda:RemovePermission",
    resources.put_provisioned: "lambda:PutProvisionedConcurrencyConfig",
    resources.get_provisioned: "lambda:GetProvisionedConcurrencyConfig",
    resources.delete_provisioned: "lambda:DeleteProvisionedConcurrencyConfig",
    mappings.create_mapping: "lambda:CreateEventSourceMapping",
    mappings.list_mappings: "lambda:ListEventSourceMappings",
    mappings.get_mapping: "lambda:GetEventSourceMapping",
    mappings.update_mapping: "lambda:UpdateEventSourceMapping",
    mappings.delete_mapping: "lambda:DeleteEventSourceMapping",
    invoke_config.put_config: "lambda:PutFunctionEventInvokeConfig",
    invoke_config.update_config: "lambda:UpdateFunctionEventInvokeConfig",
    invoke_config.get_config: "lambda:GetFunctionEventInvokeConfig",
    invoke_config.delete_config: "lambda:DeleteFunctionEventInvokeConfig",
    invoke_config.list_configs: "lambda:ListFunctionEventInvokeConfigs",
    layers.publish_layer_version: "lambda:PublishLayerVersion",
    layers.list_layer_versions: "lambda:ListLayerVersions",
    layers.get_layer_version: "lambda:GetLayerVersion",
    layers.delete_layer_version: "lambda:DeleteLayerVersion",
    layers.list_layers: "lambda:ListLayers",
    layers.layer_code: "lambda:GetLayerVersion",
    function_urls.create_url: "lambda:CreateFunctionUrlConfig",
    function_urls.get_url: "lambda:GetFunctionUrlConfig",
    function_urls.update_url: "lambda:UpdateFunctionUrlConfig",
    function_urls.delete_url: "lambda:DeleteFunctionUrlConfig",
    function_urls.list_urls: "lambda:ListFunctionUrlConfigs",
    function_urls.put_recursion: "lambda:PutFunctionRecursionConfig",
    function_urls.get_recursion: "lambda:GetFunctionRecursionConfig",
}


def error_response(error: LambdaError, request_id: str) -> web.Response:
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id}
    if error.status == 429:
        headers["Retry-After"] = "1"
    return web.Response(
        body=error.to_json(), status=error.status, headers=headers, content_type="application/json"
    )


def _service_error(message: str, code: str, status: int) -> LambdaError:
    error = LambdaError(message)
    error.code, error.status = code, status
    return error


def build_app(engine: Engine, bind_host: str = DEFAULT_HOST) -> web.Application:
    policy = HostPolicy(bind_host)

    @web.middleware
    async def lambda_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = policy.refusal(request.headers.get("Host"), request.headers.get("Origin"))
        if refusal is not None:
            error = _service_error(refusal, "AccessDeniedException", 403)
            return error_response(error, new_uuid())
        try:
            return await handler(request)
        except AccessDenied as e:
            action = ACTIONS.get(request.match_info.route.handler, e.action)
            return error_response(e.for_action(action), new_uuid())
        except LambdaError as e:
            return error_response(e, new_uuid())
        except web.HTTPNotFound:
            message = (
                f"The workbench does not implement {request.method} {request.path}; it serves "
                "Invoke and the control-plane operations boto3 and the AWS CLI use for "
                "functions (create, update code, delete), versions, aliases, concurrency, "
                "layers, event-invoke configs, event source mappings, tags, permissions, "
                "function URL and recursion configs and account settings"
            )
            return error_response(
                _service_error(message, "UnknownOperationException", 404), new_uuid()
            )
        except web.HTTPMethodNotAllowed:
            message = f"{request.method} is not an operation on {request.path}"
            return error_response(
                _service_error(message, "UnknownOperationException", 405), new_uuid()
            )
        except web.HTTPRequestEntityTooLarge:
            message = f"Request must be smaller than {CONTROL_BODY_LIMIT} bytes for this operation"
            error = _service_error(message, "RequestEntityTooLargeException", 413)
            return error_response(error, new_uuid())
        except web.HTTPException:
            raise
        except web.RequestPayloadError:
            raise  # a broken body: guard_middleware answers it and closes the connection
        except ConnectionError:
            if client_gone(request):
                raise  # nobody to answer: guard_middleware ends it quietly
            log.exception("API error on %s %s", request.method, request.path)
            error = _service_error("the service lost a connection", "ServiceException", 500)
            return error_response(error, new_uuid())
        except Exception as e:  # noqa: BLE001 - a bug here must not take the server down
            log.exception("API error on %s %s", request.method, request.path)
            error = _service_error(f"{type(e).__name__}: {e}", "ServiceException", 500)
            return error_response(error, new_uuid())

    app = web.Application(
        middlewares=[guard_middleware, lambda_errors], client_max_size=CONTROL_BODY_LIMIT
    )
    app[ENGINE] = engine
    add_routes(app.router, ROUTES)
    return app


def add_routes(router: web.UrlDispatcher, routes: Iterable[tuple[str, str, Handler]]) -> None:
    """Each path once, with and without a trailing slash (boto3 sends some with one), its
    methods on it: a path with a variable is one pattern whose slash is optional (aiohttp
    compiles a regex for each: 25 instead of 50, ~2.5 ms of a start), a plain path two plain
    resources."""
    methods: dict[str, list[tuple[str, Handler]]] = {}
    for method, path, handler in routes:
        methods.setdefault(path, []).append((method, handler))
    for path, handlers in methods.items():
        for resource in (
            [router.add_resource(path + "{_slash:/?}")]
            if "{" in path
            else [router.add_resource(path), router.add_resource(path + "/")]
        ):
            for method, handler in handlers:
                resource.add_route(method, handler)


class LambdaAPIServer(Served):
    """A running API server; ``close()`` stops it."""

    name = "Lambda API"
    engine: Engine | None = None  # whose handlers it is the endpoint of, while it listens

    @property
    def local_url(self) -> str:
        """Where a process on this machine (a handler) reaches it: a wildcard bind's loopback."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def be_endpoint(self, engine: Engine) -> None:
        """Make this server the endpoint of ``engine``'s handlers (AWS_ENDPOINT_URL, and the
        Lambda and SQS ones: both APIs are served here), for environments started from now."""
        self.engine = engine
        engine.settings.aws_endpoint_url = self.local_url

    async def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None and engine.settings.aws_endpoint_url == self.local_url:
            engine.settings.aws_endpoint_url = None  # gone: new environments get no endpoint
        await super().close()


async def start_api(
    engine: Engine,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    limits: ConnectionLimits | None = None,
) -> LambdaAPIServer:
    """Serve the Lambda API for ``engine`` on ``host:port`` (port 0: any free port); its
    handlers' SDKs are pointed at it (``be_endpoint``).

    ``limits``: connections and timeouts (``ConnectionLimits()``'s defaults when None).
    Raises ``OSError`` when the port cannot be bound (in use, or not allowed).
    """
    server = LambdaAPIServer(host, limits)
    await server.listen(build_app(engine, host), port)
    server.be_endpoint(engine)
    return server
