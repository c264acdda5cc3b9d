"""What the debugger pane shows, kept apart from the widgets: the TUI's copy of each open pdb
session (built from the engine's ``DebugEvent``s), the source around the current line, and the
input line's history.

Pure and small, so it is tested without an app.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from textual.content import Content

from ..engine import DebugEvent
from ..engine.runtime import OUTPUT_CAP  # the TUI keeps as much pdb output as the engine

CONTEXT_LINES = 8  # the source shown either side of the current line
HISTORY_CAP = 500
HIGHLIGHT_WHOLE = 5_000  # lines: a bigger file has only its window highlighted


@dataclass
class PdbSession:
    """One open pdb session as the TUI follows it."""

    request_id: str
    function: str
    env_id: str
    state: str = "running"  # running | paused | ended
    file: str | None = None
    line: int | None = None
    code: str | None = None
    prompt: str = "(Pdb) "
    output: deque[str] = field(default_factory=deque)
    output_chars: int = 0

    def add_output(self, text: str) -> None:
        """Keep the newest ``OUTPUT_CAP`` chars (whole chunks dropped from the front)."""
        self.output.append(text)
        self.output_chars += len(text)
        while self.output_chars > OUTPUT_CAP and len(self.output) > 1:
            self.output_chars -= len(self.output.popleft())

    def text(self) -> str:
        return "".join(self.output)


def echo(before: str, prompt: str, command: str) -> str:
    """A sent command as a terminal shows it: after pdb's prompt (printed, or not, before)."""
    return f"{command}\n" if before.endswith(prompt) else f"{prompt}{command}\n"


class PdbSessions:
    """The open sessions, in the order they started, fed with the engine's ``DebugEvent``s."""

    def __init__(self) -> None:
        self.open: dict[str, PdbSession] = {}

    def take(self, event: DebugEvent) -> PdbSession:
        """Apply one event; returns the session it belongs to (dropped from ``open`` on ended)."""
        session = self.open.get(event.request_id)
        if session is None:
            session = PdbSession(event.request_id, event.function, event.env_id)
            if event.kind != "ended":
                self.open[event.request_id] = session
        if event.kind == "output":
            session.add_output(event.text)
        elif event.kind == "paused":
            session.state = "paused"
            session.file, session.line, session.code = event.file, event.line, event.code
            session.prompt = event.prompt
        elif event.kind == "resumed":
            session.state = "running"
            tail = session.output[-1] if session.output else ""
            session.add_output(echo(tail, session.prompt, event.text))
        elif event.kind == "ended":
            session.state = "ended"
            self.open.pop(event.request_id, None)
        return session

    def paused(self) -> list[PdbSession]:
        return [s for s in self.open.values() if s.state == "paused"]

    def waiting(self, shown: str | None) -> int:
        """How many paused sessions wait besides the one shown."""
        return sum(1 for s in self.paused() if s.request_id != shown)

    def next_paused(self, shown: str | None = None) -> PdbSession | None:
        """The oldest paused session other than ``shown``."""
        return next((s for s in self.paused() if s.request_id != shown), None)


class CommandHistory:
    """An input line's history, recalled with up and down as in a shell.

    ``up`` walks back from the newest entry; ``down`` walks forward and, past the newest,
    gives back what was being typed before the walk began.
    """

    def __init__(self, cap: int = HISTORY_CAP) -> None:
        self.entries: deque[str] = deque(maxlen=cap)
        self._at: int | None = None  # index into entries while walking, else None
        self._draft = ""

    def add(self, line: str) -> None:
        self._at = None
        if line.strip() and (not self.entries or self.entries[-1] != line):
            self.entries.append(line)

    def up(self, current: str) -> str:
        if not self.entries:
            return current
        if self._at is None:
            self._draft = current
            self._at = len(self.entries)
        self._at = max(0, self._at - 1)
        return self.entries[self._at]

    def down(self, current: str) -> str:
        if self._at is None:
            return current
        self._at += 1
        if self._at >= len(self.entries):
            self._at = None
            return self._draft
        return self.entries[self._at]


def shown_path(file: str, roots: list[Path]) -> str:
    """``file`` relative to the function root holding it, else as it is."""
    path = Path(file)
    for root in roots:
        try:
            return str(path.relative_to(root.resolve()))
        except ValueError:
            continue
    return file


def source_window(file: str | None, line: int | None, context: int = CONTEXT_LINES) -> Content:
    """The lines around ``line`` of ``file``, numbered, highlighted, the current one marked.

    A file that cannot be read (gone, ``<string>``, not UTF-8) says so instead.
    """
    from textual.highlight import highlight  # Pygments: ~50 ms, not on the TUI's start

    if file is None or line is None:
        return Content.styled("No source: pdb did not say where it stopped.", "dim")
    try:
        lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        return Content.styled(f"Source not available: {file}: {reason}.", "$warning")
    if not 1 <= line <= len(lines):
        return Content.styled(
            f"Source not available: {file} has {len(lines)} lines, pdb is at line {line}.",
            "$warning",
        )
    first = max(1, line - context)
    last = min(len(lines), line + context)
    # the whole file when it is small, so a window opening inside a docstring reads right
    start = 1 if len(lines) <= HIGHLIGHT_WHOLE else first
    code = highlight("\n".join(lines[start - 1 : last]), language="python")
    shown = code.split("\n", allow_blank=True)[first - start :]
    width = len(str(last))
    out: list[Content] = []
    for number, text in enumerate(shown, start=first):
        if number == line:
            gutter = Content.styled(f"▶ {number:>{width}} ", "bold $accent")
            out.append((gutter + text).stylize("on $accent 20%"))
        else:
            out.append(Content.styled(f"  {number:>{width}} ", "dim") + text)
    return Content("\n").join(out)
