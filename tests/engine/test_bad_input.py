"""Bad input reaching the engine from any front end is Lambda's error, never a crash (#14)."""

from __future__ import annotations

import pytest

from workbench.engine import (
    Engine,
    InvalidRequestContent,
    ResourceNotFound,
    ValidationError,
)

from ..helpers import add_function

ECHO = "def handler(event, context):\n    return event\n"
DEEP = b"[" * 100_000


async def test_deeply_nested_json_is_invalid_request_content(engine: Engine) -> None:
    add_function(engine, "echo", ECHO)
    with pytest.raises(InvalidRequestContent, match="nest too deeply"):
        await engine.invoke("echo", DEEP)
    with pytest.raises(InvalidRequestContent, match="nest too deeply"):
        engine.invoke_event("echo", DEEP)


@pytest.mark.parametrize("version", ["99999999999999999999999", "9" * 5000, "0"])
async def test_a_version_no_version_can_have_is_function_not_found(
    engine: Engine, version: str
) -> None:
    add_function(engine, "echo", ECHO)
    with pytest.raises(ResourceNotFound, match="Function not found"):
        await engine.invoke("echo", b"{}", qualifier=version)
    with pytest.raises(ResourceNotFound, match="Function not found"):
        engine.dry_run(f"echo:{version}")
    with pytest.raises(ResourceNotFound, match="Function not found"):
        engine.create_alias("echo", "live", version)


async def test_a_routing_key_of_thousands_of_digits_is_refused(engine: Engine) -> None:
    add_function(engine, "echo", ECHO)
    first, _ = await engine.publish("echo")
    with pytest.raises((ResourceNotFound, ValidationError)):
        engine.create_alias("echo", "live", str(first.number), routing={"9" * 5000: 0.5})
