"""What ``function.toml`` says about starting environments ahead of calls: ``snap_start`` and
``provisioned_concurrency`` (checked here so ``function.py`` keeps to its parser).

Lambda's rules, matched: SnapStart applies to published versions only and runs on Python
3.12 and later; provisioned concurrency is set on a version or an alias, never on ``$LATEST``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal

SnapStart = Literal["PublishedVersions", "None"]
SNAP_START_VALUES: tuple[str, ...] = ("PublishedVersions", "None")
SNAP_START_MIN_PYTHON = 12  # python3.12 and later (Lambda's SnapStart for Python)
# Lambda's refusals, word for word where known
LATEST_REFUSAL = (
    "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
)
# UNVERIFIED wording: Lambda refuses provisioned concurrency on a SnapStart version
SNAP_START_WITH_PROVISIONED = (
    "Provisioned Concurrency is not supported for functions with SnapStart enabled."
)
_QUALIFIER_RE = re.compile(r"[0-9]+|(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}")

# (key path, value, message) -> the located error to raise
Fail = Callable[[tuple[str | int, ...], object, str], Exception]


def snap_start_supported(runtime: str) -> bool:
    """Does Lambda offer SnapStart for ``runtime``? (Java and .NET are not run here.)"""
    if not runtime.startswith("python3."):
        return False
    minor = runtime.removeprefix("python3.")
    return minor.isdigit() and int(minor) >= SNAP_START_MIN_PYTHON


def snap_start_refusal(runtime: str) -> str:
    """Lambda's words when SnapStart is asked for a runtime it does not support.

    UNVERIFIED: seen as ``python3.12 is not supported for SnapStart enabled functions.`` in a
    Region without it; the same wording is assumed for a runtime without it.
    """
    return f"{runtime} is not supported for SnapStart enabled functions."


def check_snap_start(path: tuple[str | int, ...], value: Any, fail: Fail) -> SnapStart:
    if value not in SNAP_START_VALUES or not isinstance(value, str):
        raise fail(
            path,
            value,
            'must be "PublishedVersions" (published versions start from a snapshot of their '
            'initialised environment) or "None"',
        )
    return value  # type: ignore[return-value]  # one of SNAP_START_VALUES, checked above


def check_provisioned(path: tuple[str | int, ...], value: Any, fail: Fail) -> Mapping[str, int]:
    """``[provisioned_concurrency]``: alias name or version number -> environments (>= 1)."""
    if not isinstance(value, dict):
        raise fail(
            path,
            value,
            'must be a table of qualifier = environments, e.g. { live = 2, "3" = 1 } (an '
            "alias name or a published version number)",
        )
    for qualifier, count in value.items():
        item = (*path, qualifier)
        if qualifier == "$LATEST":
            raise fail(item, count, LATEST_REFUSAL)
        if not _QUALIFIER_RE.fullmatch(qualifier):
            raise fail(item, count, "the key must be an alias name or a version number")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise fail(item, count, "must be an integer >= 1 (environments kept initialised)")
    return MappingProxyType(dict(value))


def check_fits(
    runtime: str,
    snap_start: str,
    provisioned: Mapping[str, int],
    reserved: int | None,
    fail: Fail,
) -> None:
    """The checks across keys: SnapStart's runtimes; provisioned within reserved concurrency."""
    if snap_start == "PublishedVersions" and not snap_start_supported(runtime):
        raise fail(("snap_start",), snap_start, snap_start_refusal(runtime))
    if snap_start == "PublishedVersions" and provisioned:
        raise fail(("provisioned_concurrency",), None, SNAP_START_WITH_PROVISIONED)
    total = sum(provisioned.values())
    if reserved is not None and total > reserved:
        raise fail(
            ("provisioned_concurrency",),
            None,
            f"{total} provisioned environments in all exceed reserved_concurrency = {reserved} "
            "(provisioned concurrency counts against the function's reserved concurrency)",
        )
