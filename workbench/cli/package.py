"""``workbench package NAME``: the function's deployment package, the zip Lambda takes.

Its ``CodeSha256`` is what Lambda computes for it (base64 of the zip's SHA-256: Lambda hashes the
bytes uploaded). A folder or template function is zipped the way a publish zips it
(deterministically: the same code gives the same bytes and digest, so a tool comparing digests
sees no change where there is none), without its ``function.toml``; a function created through
the deploy API is the zip that was uploaded.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, discover_of, roots_of, state_dir_of

if TYPE_CHECKING:
    from ..engine import FunctionConfig


def function_of(args: argparse.Namespace, name: str) -> FunctionConfig:
    """The function ``name`` as discovery finds it; ``BadInput`` if there is none."""
    found = discover_of(args)
    fn = found.functions.get(name)
    if fn is None:
        problem = found.problems.get(name)
        if problem is not None:
            raise BadInput(f"function {name!r} cannot be packaged: {problem.error}")
        known = ", ".join(sorted(found.functions)) or "none"
        raise BadInput(f"no function named {name!r} (functions: {known})")
    return fn


def package_bytes(args: argparse.Namespace, fn: FunctionConfig) -> bytes:
    """``fn``'s deployment zip (see the module docstring)."""
    from ..engine.config import API_DIR, ApiFunctions
    from ..engine.registry import zip_code

    if fn.from_api:
        return (
            ApiFunctions(state_dir_of(args, roots_of(args)) / API_DIR)
            .zip_path(fn.name)
            .read_bytes()
        )
    return zip_code(fn)


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def cmd_package(args: argparse.Namespace) -> int:
    name = args.name
    fn = function_of(args, name)
    out = Path(args.output) if args.output else Path.cwd() / f"{name}.zip"
    if not out.parent.is_dir():
        raise BadInput(f"--output {out}: folder {out.parent} does not exist")
    data = package_bytes(args, fn)
    try:
        out.write_bytes(data)
    except OSError as e:
        raise BadInput(f"--output {out}: {e.strerror}") from None
    sha = code_sha256(data)
    print(f"{out}\nCodeSize: {len(data)}\nCodeSha256: {sha}", file=sys.stdout)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``package`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "package",
        parents=[common],
        help="write a function's deployment zip (as Lambda takes it) and its CodeSha256",
        description="Write NAME's deployment package: the zip Lambda takes (CreateFunction, "
        "UpdateFunctionCode), and print its size and CodeSha256, as Lambda computes it.",
    )
    p.add_argument("name", metavar="NAME", help="the function")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="where to write the zip (default: ./NAME.zip)"
    )
    p.set_defaults(func=cmd_package)
