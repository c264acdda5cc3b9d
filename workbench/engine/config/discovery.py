"""Find the functions under the workbench's roots: every folder holding a ``function.toml``,
and the function resources of the templates there (``templates/``).

A broken config becomes a ``ConfigProblem`` beside the good functions instead of an exception,
so one bad file never hides the rest.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .api_functions import ApiFunctions
from .function import (
    CONFIG_FILENAME,
    NAME_RE,
    ConfigError,
    FunctionConfig,
    load_function,
    printable,
)
from .source_filter import BUCKETS_DIR
from .templates import QueueResource, TemplateOptions, load_all

# Never functions, and often huge: walking them would make start-up slow.
IGNORED_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """A function folder whose config could not be loaded."""

    name: str  # the `name` key if it could be read, else the folder's name
    folder: Path  # absolute, resolved
    error: ConfigError


@dataclass
class Discovery:
    """What a scan found; both dicts are ordered by key."""

    functions: dict[str, FunctionConfig]
    problems: dict[str, ConfigProblem]
    # the templates' AWS::SQS::Queue resources, by name: created locally when missing
    queues: dict[str, QueueResource] = field(default_factory=dict)
    topics: frozenset[str] = frozenset()  # ... their AWS::SNS::Topic names
    buckets: frozenset[str] = frozenset()  # ... their AWS::S3::Bucket names


def discover(
    roots: Sequence[Path],
    *,
    account_limit: int = 1000,
    templates: TemplateOptions | None = None,
    api: ApiFunctions | None = None,
) -> Discovery:
    """Load every function under ``roots`` and in their templates (and ``templates.files``),
    and those created through the deploy API (``api``); raise ValueError only for a missing
    root."""
    paths = [Path(root) for root in roots]
    for root in paths:
        if not root.exists():
            raise ValueError(f"function root not found: {root}")
        if not root.is_dir():
            raise ValueError(f"function root is not a directory: {root}")

    functions: dict[str, FunctionConfig] = {}
    defined_in: dict[str, Path] = {}
    problems: list[ConfigProblem] = []

    def add(fn: FunctionConfig, file: Path, where: Path, resource: str | None = None) -> None:
        """``fn`` under its name; a second definition of a name is a problem (the first stays)."""
        if fn.name in functions:
            message = f"duplicate function name {fn.name!r} (also defined in {defined_in[fn.name]})"
            duplicate = ConfigError(file, None, resource, None, message)
            problems.append(ConfigProblem(fn.name, where, duplicate))
            return
        functions[fn.name] = fn
        defined_in[fn.name] = file

    for folder in find_function_folders(paths):
        try:
            config = load_function(folder, account_limit=account_limit)
        except ConfigError as error:
            problems.append(ConfigProblem(_problem_name(folder), folder.resolve(), error))
            continue
        add(config, folder / CONFIG_FILENAME, config.folder)
    loaded = load_all(paths or [Path.cwd()], templates or TemplateOptions(), account_limit)
    for fn in loaded.functions:
        add(fn, fn.config_file, fn.config_file, fn.resource)
    for problem in loaded.problems:
        problems.append(ConfigProblem(problem.name, problem.where, problem.error))
    if api is not None:
        api_functions, api_problems = api.load(account_limit)
        for fn in api_functions:
            add(fn, fn.config_file, fn.config_file)
        for broken in api_problems:
            name = broken.file.parent.name
            problems.append(ConfigProblem(name, broken.file.parent, broken))
    return Discovery(
        dict(sorted(functions.items())),
        dict(sorted(_keyed(problems, functions).items())),
        loaded.queues,
        frozenset(loaded.topics),
        frozenset(loaded.buckets),
    )


def find_function_folders(roots: Sequence[Path]) -> list[Path]:
    """Folders holding a ``function.toml``, as paths under the roots given, in sorted order.

    A function's own subfolders are its code, so the walk stops at a function; hidden folders,
    ``__pycache__``, ``node_modules`` and each root's ``buckets/`` (bucket objects) are
    skipped. Each real directory is visited once, so overlapping roots and symlink loops are
    harmless.
    """
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    stack = [Path(root) for root in roots]
    # a root's buckets/ folder holds bucket objects (buckets.py), never functions
    skipped = {os.path.abspath(Path(root) / BUCKETS_DIR) for root in roots}
    while stack:
        folder = stack.pop()
        if os.path.abspath(folder) in skipped:
            continue
        try:
            stat = folder.stat()
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            continue  # vanished or unreadable: nothing to load there
        identity = (stat.st_dev, stat.st_ino)
        if identity in seen:
            continue
        seen.add(identity)
        if any(entry.name == CONFIG_FILENAME and _is_file(entry) for entry in entries):
            found.append(folder)
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in IGNORED_DIRS:
                continue
            if _is_dir(entry):
                stack.append(Path(entry.path))
    found.sort(key=lambda path: Path(os.path.abspath(path)))
    return found


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _problem_name(folder: Path) -> str:
    """The name the function would have had: its `name` key if readable and a valid name, else
    its folder's, with any character a terminal would act on shown escaped (a name is printed
    by `list` and serve: a control sequence in a config must not reach the terminal as one)."""
    try:
        data = tomllib.loads((folder / CONFIG_FILENAME).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    name = data.get("name")
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        return name
    return printable(folder.resolve().name)


def _keyed(
    problems: list[ConfigProblem], functions: dict[str, FunctionConfig]
) -> dict[str, ConfigProblem]:
    """Each problem by its name; where that name is a loaded function's or an earlier
    problem's (a second definition), by its name and config file."""
    keyed: dict[str, ConfigProblem] = {}
    for problem in problems:
        key = problem.name
        if key in functions or key in keyed:
            key = f"{problem.name} ({problem.error.file})"
        keyed[key] = problem
    return keyed
