"""What the functions pane shows: a row per function, its versions and aliases under it.

Each row is something to invoke: the function (``$LATEST``), one version (``name:3``) or one
alias (``name:live``), keyed by that qualified name. Built from the engine's public state and
the TUI's ``RegistryView``; rendered to table cells and to the detail text below the table.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text

from ...engine import Alias, CodeProblem, ConfigProblem, Engine, FunctionConfig, Version
from ...engine.runtime import HOST, cannot_start, enters_namespaces
from ..fields import together
from ..log_rows import STATUS_STYLES as RECORD_STYLES
from ..registry_view import RegistryView, configured_split, short_split

# an invocation's statuses as the log shows them, and a function's own problems
STATUS_STYLES = {**RECORD_STYLES, "config error": "bold red", "syntax error": "bold red"}
BRANCH, LAST_BRANCH = " ├ ", " └ "
CANNOT_START_CELL = "✕ setup"  # the Last cell of a function whose runtime cannot start yet
RERUN_MARK = " ↻"  # after the name of a function re-run on save
# the local credentials (the default) reach only the workbench; the host's are worth a warning
HOST_CREDENTIALS_TEXT = "AWS credentials: this machine's (its SDK calls reach real AWS)"


@dataclass(frozen=True)
class VersionRow:
    function: str
    version: Version
    warm: int = 0
    last_status: str | None = None

    @property
    def qualifier(self) -> str:
        return str(self.version.number)

    @property
    def key(self) -> str:
        return f"{self.function}:{self.qualifier}"


@dataclass(frozen=True)
class AliasRow:
    function: str
    alias: Alias
    last_status: str | None = None
    live: str = ""  # the split of its recent invocations, as text

    @property
    def qualifier(self) -> str:
        return self.alias.name

    @property
    def key(self) -> str:
        return f"{self.function}:{self.qualifier}"


@dataclass(frozen=True)
class FunctionRow:
    name: str
    config: FunctionConfig | None
    problem: ConfigProblem | None
    warm: int = 0
    busy: int = 0
    last_status: str | None = None
    code_problem: CodeProblem | None = None  # the latest save does not compile
    rerun: bool = False  # re-run on save is on (the TUI's ``w``)
    children: tuple[VersionRow | AliasRow, ...] = field(default=())
    debug_wait: int | None = None  # an environment waits for an IDE's debugger on this port
    isolation: str = ""  # what limits its environments, and how (runtime/isolation.py)
    # which AWS credentials its handlers get: "host" (this machine's) is shown, it reaches AWS
    aws_credentials: str = "local"
    runs_on: str | None = None  # the declared runtime is not what runs it: the notice saying so
    cannot_start: str | None = None  # its runtime cannot start as it is (e.g. a client to vendor)
    debug_api: bool = False  # a breakpoint() reached by an API call stops (the TUI's ``b``)
    label: str | None = None  # what the pane shows, where not the name (a second definition)

    @property
    def function(self) -> str:
        return self.name

    @property
    def qualifier(self) -> None:
        return None

    @property
    def key(self) -> str:
        return self.name


Row = FunctionRow | VersionRow | AliasRow


def debug_waits(engine: Engine) -> dict[str, int]:
    """Function -> the port of one of its environments that waits for a debugger to attach."""
    waits: dict[str, int] = {}
    for env in engine.environments():
        if env.waiting_for_debugger and env.ide is not None:
            waits.setdefault(env.fn.name, env.ide.port)
    return waits


def debug_wait_text(port: int) -> str:
    return f"waiting for debugger on {HOST}:{port}"


def function_rows(
    engine: Engine, view: RegistryView | None = None, rerun: Collection[str] = ()
) -> list[FunctionRow]:
    """What the pane shows, from the engine's public state, sorted by name; ``rerun``: the
    functions re-run on save."""
    rows = []
    waits = debug_waits(engine)
    for name, fn in engine.functions.items():
        interpreter = engine.interpreters.find(fn.runtime)
        state = engine.function_state(name)
        problem = engine.problem(name)
        status = state.last_status if state else None
        if problem is not None and problem.kind == "syntax":
            status = "syntax error"
        rows.append(
            FunctionRow(
                name,
                fn,
                None,
                warm=len(state.idle) + len(state.busy) if state else 0,
                busy=len(state.busy) if state else 0,
                last_status=status,
                code_problem=problem,
                rerun=name in rerun,
                children=_children(engine, view, name),
                debug_wait=waits.get(name),
                isolation=_isolation(engine, fn),
                aws_credentials=fn.aws_credentials or engine.settings.aws_credentials,
                runs_on=interpreter.notice if interpreter is not None else None,
                cannot_start=_cannot_start(fn),
                debug_api=name in engine.debugger.debug_api,
            )
        )
    defined = collections.Counter(list(engine.functions))
    for name, broken in engine.problems.items():
        defined[broken.name] += 1
        # another definition of a name (keyed "name (its file)"): shown "name (2)", its file
        # in its detail with the error
        label = f"{broken.name} ({defined[broken.name]})" if name != broken.name else None
        rows.append(
            FunctionRow(
                name,
                None,
                broken,
                last_status="config error",
                rerun=name in rerun,
                children=_children(engine, view, name),
                label=label,
            )
        )
    # by the function's name (a problem's key may add its file): stable, so (2), (3) in order
    return sorted(rows, key=lambda r: r.problem.name if r.problem is not None else r.name)


def _cannot_start(fn: FunctionConfig) -> str | None:
    """Said before any invoke: what its first cold start would fail with (a stat or two)."""
    problem = cannot_start(fn)
    return str(problem) if problem is not None else None


def _isolation(engine: Engine, fn: FunctionConfig) -> str:
    isolation = engine.pool.isolation
    if isolation is None:
        return ""
    return isolation.for_function(fn.memory_size, fn.freeze, namespaced=enters_namespaces(fn))


def _children(
    engine: Engine, view: RegistryView | None, name: str
) -> tuple[VersionRow | AliasRow, ...]:
    if view is None:
        return ()
    state = engine.function_state(name)
    envs = [*state.idle, *state.busy] if state else []
    out: list[VersionRow | AliasRow] = []
    for version in view.versions(name):
        number = str(version.number)
        warm = sum(1 for env in envs if env.version == number)
        out.append(VersionRow(name, version, warm, view.last_status(name, number)))
    for alias in view.aliases(name):
        out.append(
            AliasRow(
                name, alias, view.last_status(name, alias.name), view.live_split(name, alias.name)
            )
        )
    return tuple(out)


def flatten(rows: list[FunctionRow]) -> list[Row]:
    """Every row in table order: each function, then its versions and aliases."""
    out: list[Row] = []
    for row in rows:
        out.append(row)
        out.extend(row.children)
    return out


# --------------------------------------------------------------------------- cells


def _status(status: str | None) -> Text:
    return Text(status or "", style=STATUS_STYLES.get(status or "", ""))


def cells(row: Row, last_child: bool = False) -> tuple[object, ...]:
    """(name, runtime, warm, last) for one table row."""
    branch = LAST_BRANCH if last_child else BRANCH
    if isinstance(row, VersionRow):
        fn = row.version.config
        label = Text.assemble((branch, "dim"), f"v{row.version.number}")
        warm = str(row.warm) if row.warm else ""
        return (label, fn.runtime, warm, _status(row.last_status))
    if isinstance(row, AliasRow):
        label = Text.assemble((branch, "dim"), ("@" + row.alias.name, "cyan"))
        return (label, Text(short_split(row.alias), style="cyan"), "", _status(row.last_status))
    last = _status(row.last_status)
    mark = (RERUN_MARK, "bold magenta") if row.rerun else ""
    if row.config is None:
        return (Text.assemble((row.label or row.name, "bold red"), mark), "-", "-", last)
    fn = row.config
    warm = f"{row.warm}" + (f" ({row.busy} busy)" if row.busy else "")
    if row.debug_wait is not None:
        last = Text(f"debugger :{row.debug_wait}", style="bold magenta")
    elif row.cannot_start is not None and row.last_status is None:
        last = Text(CANNOT_START_CELL, style="bold red")
    name: Text | str = Text.assemble(row.name, mark) if row.rerun else row.name
    if fn.resource is not None:  # where it came from: a template (the detail says which)
        name = Text.assemble(name, (f" ·{fn.config_file.name}", "dim cyan"))
    elif fn.from_api:  # created through the deploy API (CreateFunction)
        name = Text.assemble(name, (" ·API", "dim cyan"))
    return (name, fn.runtime, warm, last)


# --------------------------------------------------------------------------- detail


def _where(path: Path, folder: Path | None, line: int | None) -> str:
    shown = str(path)
    if folder is not None:
        try:
            shown = str(path.relative_to(folder))
        except ValueError:
            pass
    return shown + (f":{line}" if line else "")


def detail(row: Row) -> Text:
    """The text below the table for the selected row."""
    if isinstance(row, VersionRow):
        return _version_detail(row)
    if isinstance(row, AliasRow):
        return _alias_detail(row)
    text = _function_detail(row)
    if row.rerun:
        text.append(f"\n{RERUN_MARK.strip()} re-run on save: on", style="bold magenta")
        text.append(" (w turns it off)", style="dim")
    if row.debug_api:
        text.append("\ndebug API calls: on", style="bold magenta")
        text.append(" (b turns it off)", style="dim")
    return text


def _function_detail(row: FunctionRow) -> Text:
    if row.problem is not None:
        err = row.problem.error
        where = f"{err.file}" + (f":{err.line}" if err.line else "")
        key = f"\nkey: {err.key}" if err.key else ""
        return Text.assemble(
            ("config error\n", "bold red"), (f"{err.message}\n", ""), (where, "dim"), key
        )
    fn = row.config
    assert fn is not None
    reserved = fn.reserved_concurrency
    reserved_text = "" if reserved is None else "  " + together("reserved", reserved)
    text = Text.assemble(
        (fn.name, "bold"),
        f"  {fn.handler}\n",
        (
            f"{fn.runtime}  {together(fn.memory_size, 'MB')}  {together(fn.timeout, 's')}"
            f"  {together('/tmp', fn.ephemeral_storage, 'MB')}",
            "dim",
        ),
        (reserved_text, "dim"),
    )
    if row.runs_on is not None:
        text.append(f"\n{row.runs_on}", style="yellow")
    if row.cannot_start is not None:
        text.append(f"\ncannot start: {row.cannot_start}", style="bold red")
    if fn.description:
        text.append(f"\n{fn.description}")
    if fn.from_api:
        text.append("\nfrom the deploy API (CreateFunction; kept in the state dir)", style="cyan")
    if fn.resource is not None:  # from a SAM / CloudFormation template
        text.append(f"\nfrom {fn.origin}", style="cyan")
        for note in fn.notes:
            text.append(f"\n  {note}", style="dim")
    if row.isolation:
        text.append(f"\nisolation: {row.isolation}", style="dim")
    if row.debug_wait is not None:
        text.append("\n" + debug_wait_text(row.debug_wait), style="bold magenta")
    if row.aws_credentials == "host":
        text.append("\n" + HOST_CREDENTIALS_TEXT, style="bold yellow")
    problem = row.code_problem
    if problem is not None and problem.kind == "syntax":
        text.append("\nsyntax error (saved; not run) ", style="bold red")
        text.append(_where(problem.file, fn.folder, problem.line), style="red")
        text.append(f"\n{problem.message}", style="red")
    return text


def _version_detail(row: VersionRow) -> Text:
    v = row.version
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.created_at))
    fn = v.config
    return Text.assemble(
        (f"{row.function}:{v.number}", "bold"),
        (
            f"  {v.description}" if v.description else "  (no description)",
            "" if v.description else "dim",
        ),
        "\n",
        (f"created {created}  ", "dim"),
        f"{v.code_size:,} bytes",
        (f"\n{fn.runtime}  {fn.memory_size} MB  {fn.timeout} s  {fn.handler}", "dim"),
        ("\nCodeSha256\n", "dim"),
        v.code_sha256,
    )


def _alias_detail(row: AliasRow) -> Text:
    a = row.alias
    return Text.assemble(
        (f"{row.function}:{a.name}", "bold"),
        (f"  {a.description}" if a.description else "", ""),
        "\n",
        (configured_split(a), "cyan"),
        ("  configured", "dim"),
        "\n",
        row.live,
        ("\nctrl+r invokes it · e edits · d deletes", "dim"),
    )
