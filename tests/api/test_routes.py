"""The Lambda API's routes: every operation's path, with and without the trailing slash boto3
sends on some, reaches its handler with its variables; a wrong method is 405, no path 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from workbench.api.server import ROUTES, build_app
from workbench.engine import Engine, EngineSettings

VARIABLE = re.compile(r"\{(\w+)\}")


@pytest.fixture
async def app(tmp_path: Path) -> web.Application:
    engine = Engine([], EngineSettings(state_dir=tmp_path / "state"))
    application = build_app(engine)
    application.freeze()
    return application


def concrete(path: str) -> tuple[str, dict[str, str]]:
    """``path`` with each variable given a value (its name, upper-cased)."""
    values = {name: name.upper() for name in VARIABLE.findall(path)}
    return VARIABLE.sub(lambda m: values[m.group(1)], path), values


# (the root, POST / for SQS and Kinesis, is its own trailing slash)
CASES = [(m, p, h, slash) for m, p, h in ROUTES for slash in ("", "/") if p != "/" or not slash]


@pytest.mark.parametrize(
    ("method", "path", "handler", "slash"), CASES, ids=[f"{m} {p}{s}" for m, p, _, s in CASES]
)
async def test_each_operation_is_routed_with_its_variables(
    app: web.Application, method: str, path: str, handler: object, slash: str
) -> None:
    url, values = concrete(path)
    match = await app.router.resolve(make_mocked_request(method, url + slash, app=app))
    assert match.http_exception is None, (method, url + slash)
    assert match.handler is handler
    assert {k: v for k, v in match.items() if not k.startswith("_")} == values


async def test_a_wrong_method_is_405_and_an_unknown_path_404(app: web.Application) -> None:
    wrong = await app.router.resolve(
        make_mocked_request("PATCH", "/2015-03-31/functions/f/aliases/live/", app=app)
    )
    assert isinstance(wrong.http_exception, web.HTTPMethodNotAllowed)
    assert wrong.http_exception.allowed_methods == {"GET", "PUT", "DELETE"}
    for path in ("/2015-03-31/functions/f/nothing", "/2015-03-31/functions/f//", "/nowhere"):
        missing = await app.router.resolve(make_mocked_request("GET", path, app=app))
        assert isinstance(missing.http_exception, web.HTTPNotFound), path
