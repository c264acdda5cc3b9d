"""The debugger pane: a handler paused at ``breakpoint()``, driven like pdb in a terminal.

The source around the current line (marked), pdb's output (a bounded log), an input line with
history, and pdb's stepping commands on the keys IDEs use. It is a (non-modal) screen over the
workbench: the app's keys keep working and other invocations keep running under it.

It talks to the engine only through the ``send`` and ``detach`` callables it is given (as the
dialogs in ``dialogs/`` are); ``pdb_front_end.py`` opens it and feeds it the session's events
with ``take``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Log, Static

from ...engine import DebugEvent
from ..debug_view import CommandHistory, PdbSession, shown_path, source_window
from ..widgets.key_bar import KeyBar

LOG_LINES = 5_000

# send(request_id, line) -> None when sent, else why not (the handler runs, the session is over)
Send = Callable[[str, str], str | None]

HIDDEN = "hidden"  # dismissed with this: back to the workbench, the session stays paused


class CommandInput(Input):
    """pdb's input line; up and down recall earlier commands."""

    BINDINGS = [
        Binding(
            "up",
            "recall(-1)",
            "Earlier",
            id="pdb-history-up",
            show=False,
            tooltip="Earlier command",
        ),
        Binding(
            "down", "recall(1)", "Later", id="pdb-history-down", show=False, tooltip="Later command"
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history = CommandHistory()

    def action_recall(self, step: int) -> None:
        recall = self.history.up if step < 0 else self.history.down
        self.value = recall(self.value)
        self.cursor_position = len(self.value)


class DebuggerScreen(Screen[str | None]):
    """One paused invocation's pdb session; dismissed when it ends (the next then opens)."""

    DEFAULT_CSS = """
    DebuggerScreen { layout: vertical; }
    DebuggerScreen #debug-header {
        height: auto; padding: 0 1; border: round $warning; border-title-color: $warning;
        border-subtitle-color: $text-muted;
    }
    DebuggerScreen #debug-header.running { border: round $primary 50%; }
    DebuggerScreen #debug-source-box {
        height: auto; max-height: 19; border: round $primary 50%; padding: 0 1;
        border-title-color: $primary;
    }
    DebuggerScreen #debug-output {
        height: 1fr; border: round $primary 50%; padding: 0 1; border-title-color: $primary;
    }
    DebuggerScreen #debug-output:focus { border: round $accent; }
    DebuggerScreen #debug-input { border: round $accent 50%; }
    DebuggerScreen #debug-input:focus { border: round $accent; }
    DebuggerScreen #debug-note { height: auto; padding: 0 1; color: $text-muted; }
    DebuggerScreen #debug-note.refused { color: $warning; }
    """

    AUTO_FOCUS = "#debug-input"  # not the log, the first focusable widget

    DETACH = Binding(
        "escape",
        "detach",
        "Detach",
        id="pdb-detach",
        tooltip="Detach: clear the breakpoints and let the handler run on to its response",
    )
    BINDINGS = [
        Binding("f5", "pdb('c')", "Continue", id="pdb-continue", tooltip="Continue (pdb c)"),
        Binding("f10", "pdb('n')", "Next", id="pdb-next", tooltip="Next line (pdb n)"),
        Binding("f11", "pdb('s')", "Step", id="pdb-step", tooltip="Step into (pdb s)"),
        # a terminal sends shift+f5 / shift+f11 as f17 / f23
        Binding(
            "shift+f11,f23",
            "pdb('r')",
            "Return",
            id="pdb-return",
            tooltip="Run to the end of this function (pdb r)",
        ),
        Binding(
            "shift+f5,f17",
            "pdb('q')",
            "Quit pdb",
            id="pdb-quit",
            tooltip="Quit pdb: the handler fails with BdbQuit",
        ),
        DETACH,
        Binding(
            "f6",
            "hide",
            "Workbench",
            id="pdb-hide",
            tooltip="Back to the workbench; the handler stays paused (f6 there comes back)",
        ),
    ]

    def __init__(
        self,
        session: PdbSession,
        *,
        send: Send,
        detach: Callable[[str], None],
        roots: list[Path] | None = None,
        waiting: int = 0,
    ) -> None:
        super().__init__()
        self.session = session
        self._send_line = send
        self._detach_session = detach
        self.roots = roots or []
        self.waiting = waiting
        self.closing = False  # ended while another screen was on top: dismissed on resume

    @property
    def request_id(self) -> str:
        return self.session.request_id

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer shows escape as Detach: the app's escape (cancel, a priority binding that
        declines on any other screen) would otherwise hide it."""
        bindings = super().active_bindings
        bindings["escape"] = ActiveBinding(self, self.DETACH, True, self.DETACH.tooltip)
        return bindings

    def compose(self) -> ComposeResult:
        header = Static(id="debug-header")
        header.border_title = "Debugger"
        header.border_subtitle = "enter sends a pdb command · ↑↓ history · esc detaches"
        yield header
        with Vertical(id="debug-source-box") as box:
            box.border_title = "Source"
            yield Static(id="debug-source")
        output = Log(max_lines=LOG_LINES, highlight=False, id="debug-output")
        output.border_title = "pdb"
        yield output
        yield CommandInput(placeholder="pdb command, e.g. p event", id="debug-input")
        yield Static(id="debug-note")
        yield KeyBar()

    def on_mount(self) -> None:
        self.show(self.session, self.waiting)

    def on_screen_resume(self) -> None:
        if self.closing:
            self.dismiss(None)

    # ----------------------------------------------------------------- fed by the front end

    def show(self, session: PdbSession, waiting: int) -> None:
        """Show ``session``: its output so far replaces the log."""
        log = self.query_one(Log)
        log.clear()
        log.write(session.text())
        self.session = session
        self.closing = False
        self.waiting = waiting
        self.note("")
        self._show_state()

    def take(self, event: DebugEvent) -> None:
        """One event of the session shown (already applied to the session)."""
        if event.kind == "output":
            self.query_one(Log).write(event.text)
        elif event.kind == "resumed":
            self.query_one(Log).write(self.session.output[-1])  # the command, as echoed
            self._show_state()
        elif event.kind == "paused":
            self._show_state()

    def set_waiting(self, waiting: int) -> None:
        if waiting != self.waiting:
            self.waiting = waiting
            self._show_state()

    def _show_state(self) -> None:
        s = self.session
        paused = s.state == "paused"
        where = shown_path(s.file, self.roots) if s.file else "?"
        parts: list[str | tuple[str, str]] = [
            ("⏸ paused" if paused else "▶ running", "bold $warning" if paused else "bold $success"),
            "  ",
            (s.function, "bold"),
        ]
        if paused:
            parts += ["  in ", (f"{s.code or '?'}()", "bold"), f" at {where}:{s.line}"]
        else:
            parts += [("  the handler runs until pdb stops again", "dim")]
        parts += ["  ", (f"request {s.request_id}", "dim")]
        if self.waiting:
            others = "invocation waits" if self.waiting == 1 else "invocations wait"
            parts += [
                "\n",
                (f"{self.waiting} more paused {others}", "bold $warning"),
                (": the next opens when this one ends", "dim"),
            ]
        header = self.query_one("#debug-header", Static)
        header.update(Content.assemble(*parts))
        header.set_class(not paused, "running")
        if paused:
            box = self.query_one("#debug-source-box")
            box.border_title = f"Source · {where}"
            self.query_one("#debug-source", Static).update(source_window(s.file, s.line))

    def note(self, text: str, *, refused: bool = False) -> None:
        note = self.query_one("#debug-note", Static)
        note.update(text)
        note.set_class(refused, "refused")
        note.display = bool(text)

    def close(self) -> None:
        """The session is over: go, now if on top, else when this screen comes back."""
        if self.is_current:
            self.dismiss(None)
        else:
            self.closing = True

    # ----------------------------------------------------------------- keys

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        field = self.query_one(CommandInput)
        line = event.value
        if self.send(line):
            field.history.add(line)
            field.value = ""

    def action_pdb(self, command: str) -> None:
        self.send(command)

    def send(self, line: str) -> bool:
        refusal = self._send_line(self.request_id, line)
        if refusal is not None:
            self.note(refusal, refused=True)
            return False
        self.note("")
        return True

    def action_detach(self) -> None:
        self._detach_session(self.request_id)
        self.note("Detached: the breakpoints are cleared and the handler runs on.")

    def action_hide(self) -> None:
        self.dismiss(HIDDEN)
