"""The debugger pane driven by Pilot: a real handler stopped at ``breakpoint()`` in a real runtime.

Invoke from the app (ctrl+r), the pane opens on the paused line; commands typed or sent with
the keys reach pdb and its answers show; the pane closes when the handler runs on, and the
response pane shows the result. The pure parts (history, source window, sessions) are tested
without an app.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import aiohttp
import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Log, Static

from tests.tui.pilot import wait_until
from workbench.api import start_api
from workbench.engine import DebugEvent
from workbench.tui.app import WorkbenchApp
from workbench.tui.debug_view import CommandHistory, PdbSessions, source_window
from workbench.tui.screens.debugger import CommandInput, DebuggerScreen
from workbench.tui.screens.help import HelpScreen
from workbench.tui.widgets.functions import FunctionsPane

from ..helpers import make_function

BREAKER = """
def handler(event, context):
    name = event.get("name", "world")
    breakpoint()
    greeting = "hello " + name
    return {"greeting": greeting}
"""  # breakpoint() on line 3: pdb stops on line 4

HELLO = """
def handler(event, context):
    return {"hi": event.get("name")}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "breaker", BREAKER, timeout=2)
    make_function(root, "breaker2", BREAKER, timeout=2)
    make_function(root, "hello", HELLO, timeout=5)
    return root


@pytest.fixture
def app(root: Path, tmp_path: Path) -> WorkbenchApp:
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def text_of(app: App[object], selector: str) -> str:
    found = app.screen.query(selector)  # nothing while the pane is still mounting
    return str(found.first(Static).content) if found else ""


def main_text(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)  # the workbench screen, under the pane


def pane(app: App[object]) -> DebuggerScreen:
    assert isinstance(app.screen, DebuggerScreen), app.screen
    return app.screen


def output(app: App[object]) -> str:
    return "\n".join(pane(app).query_one(Log).lines)


def marked_line(app: App[object]) -> str:
    """The source line carrying the ▶ marker."""
    source = text_of(app, "#debug-source")
    return next(line for line in source.splitlines() if line.startswith("▶"))


async def invoke(pilot: Pilot, name: str) -> None:
    pilot.app.query_one(FunctionsPane).select(name)
    await pilot.pause()
    await pilot.press("ctrl+r")


async def paused_pane(pilot: Pilot, name: str = "breaker") -> DebuggerScreen:
    await invoke(pilot, name)
    return await wait_paused(pilot)


async def wait_paused(pilot: Pilot) -> DebuggerScreen:
    await wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, DebuggerScreen)
            and pilot.app.screen.session.state == "paused"
            and "paused" in text_of(pilot.app, "#debug-header")
        ),
    )
    return pane(pilot.app)


async def type_line(pilot: Pilot, line: str) -> None:
    for key in line:
        await pilot.press("space" if key == " " else key)
    await pilot.press("enter")


async def test_pane_opens_steps_prints_and_closes_with_the_result(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_pane(pilot)
        assert "paused" in text_of(app, "#debug-header")
        assert "breaker" in text_of(app, "#debug-header")
        assert "handler()" in text_of(app, "#debug-header")
        assert 'greeting = "hello " + name' in marked_line(app)
        assert " 4 " in marked_line(app)
        assert "breakpoint()" in text_of(app, "#debug-source")  # the lines around it
        assert app.focused is screen.query_one(CommandInput)

        await type_line(pilot, "p event")
        await wait_until(pilot, lambda: "{'name': 'world'}" in output(app))
        assert "\n(Pdb) p event\n" in output(app)  # the command, echoed after the prompt

        await pilot.press("f10")
        await wait_until(
            pilot, lambda: screen.session.state == "paused" and screen.session.line == 5
        )
        await pilot.pause()
        assert "return" in marked_line(app) and " 5 " in marked_line(app)

        await pilot.press("f5")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))
        await wait_until(pilot, lambda: "success" in main_text(app, "#response-status"))
        assert json.loads(main_text(app, "#response-body")) == {"greeting": "hello world"}
        # the time it sat at the prompt is shown apart from the (unbilled) duration
        assert "Paused " in main_text(app, "#response-status")
        assert "(not billed)" in main_text(app, "#response-status")
        assert not app.engine.debugger.sessions()


async def test_another_invocation_completes_while_one_is_paused(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_pane(pilot)
        # ctrl+r from the pane invokes what is selected on the workbench under it
        app.query_one(FunctionsPane).select("hello")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "success" in main_text(app, "#response-status"))
        assert "hello" in main_text(app, "#response-status")
        assert app.screen is screen and screen.session.state == "paused"  # still waiting
        await pilot.press("f5")
        await wait_until(pilot, lambda: "breaker" in main_text(app, "#response-status"))
        # the session's end and the invocation's response come by separate paths: either first
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))


async def test_escape_detaches_and_the_invocation_completes(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await paused_pane(pilot)
        footer_keys = {
            b.binding.key: b.binding.description for b in app.screen.active_bindings.values()
        }
        assert footer_keys["escape"] == "Detach"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))
        await wait_until(pilot, lambda: "success" in main_text(app, "#response-status"))
        assert json.loads(main_text(app, "#response-body")) == {"greeting": "hello world"}


async def test_history_recalls_earlier_commands(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_pane(pilot)
        field = screen.query_one(CommandInput)
        await type_line(pilot, "p name")
        await wait_until(pilot, lambda: "'world'" in output(app))
        await type_line(pilot, "p 1 + 1")
        await wait_until(pilot, lambda: screen.session.state == "paused" and "2" in output(app))
        assert field.value == ""
        await pilot.press("up")
        assert field.value == "p 1 + 1"
        await pilot.press("up")
        assert field.value == "p name"
        await pilot.press("down", "down")
        assert field.value == ""
        await pilot.press("up", "up", "enter")  # a recalled command is sent like a typed one
        await wait_until(pilot, lambda: output(app).count("'world'") == 2)
        await pilot.press("f5")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))


async def test_a_command_while_running_is_refused_with_a_note(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_pane(pilot)
        # as if the handler had not stopped yet: the engine refuses, the pane says why
        session = app.engine.debugger.session(screen.request_id)
        assert session is not None
        session.state = "running"
        field = screen.query_one(CommandInput)
        await type_line(pilot, "p event")
        assert "running" in text_of(app, "#debug-note")
        assert field.value == "p event"  # kept, to send at the prompt
        session.state = "paused"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "{'name': 'world'}" in output(app))
        assert text_of(app, "#debug-note") == ""
        await pilot.press("f5")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))


async def test_two_paused_invocations_show_one_and_then_the_next(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        first = await paused_pane(pilot, "breaker")
        await invoke(pilot, "breaker2")
        await wait_until(
            pilot, lambda: "1 more paused invocation waits" in text_of(app, "#debug-header")
        )
        assert first.session.function == "breaker"
        await pilot.press("f5")
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, DebuggerScreen) and app.screen.session.function == "breaker2"
            ),
        )
        assert "more paused" not in text_of(app, "#debug-header")
        await pilot.press("f5")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))
        await wait_until(pilot, lambda: "breaker2" in main_text(app, "#response-status"))


async def test_f6_goes_back_to_the_workbench_and_returns(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await paused_pane(pilot)
        await pilot.press("f6")
        await pilot.pause()
        assert not isinstance(app.screen, DebuggerScreen)
        assert app.engine.debugger.sessions()[0].state == "paused"  # still waits
        # the response pane says why the invocation takes so long
        await wait_until(
            pilot, lambda: "paused at the debugger" in main_text(app, "#response-status")
        )
        await pilot.press("f6")
        await pilot.pause()
        pane(app)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = app.screen.text()
        assert "f10" in help_text and "Next" in help_text and "Continue" in help_text
        await pilot.press("escape")
        await pilot.press("f5")
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))


async def test_a_breakpoint_in_an_invocation_the_tui_did_not_start(app: WorkbenchApp) -> None:
    """An invocation from elsewhere (a queue; the Lambda API's with "debug API calls" on) stops
    at a breakpoint before the TUI ever invoked: the pane opens and the response pane, showing no
    invocation, stays as it is (it used to take Textual's own running flag for an invocation and
    crash the app)."""
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = main_text(app, "#response-status")
        elsewhere = asyncio.ensure_future(
            app.engine.invoke("breaker", b"{}", trigger="queue:orders")
        )
        screen = await wait_paused(pilot)
        assert screen.session.function == "breaker"
        assert main_text(app, "#response-status") == before
        await pilot.press("f5")
        await wait_until(pilot, elsewhere.done)
        result = elsewhere.result()
        assert json.loads(result.payload) == {"greeting": "hello world"}
        await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))
        assert app.is_running and main_text(app, "#response-status") == before


# ------------------------------------------------------------------ pure parts


def test_history_walks_back_and_gives_back_the_draft() -> None:
    h = CommandHistory()
    assert h.up("typed") == "typed"  # nothing yet
    for line in ["p a", "n", "n", "", "p b"]:
        h.add(line)
    assert list(h.entries) == ["p a", "n", "p b"]  # no blanks, no repeats in a row
    assert h.up("dra") == "p b"
    assert h.up("p b") == "n"
    assert h.up("n") == "p a"
    assert h.up("p a") == "p a"  # the oldest stays
    assert h.down("p a") == "n"
    assert h.down("n") == "p b"
    assert h.down("p b") == "dra"
    assert h.down("dra") == "dra"


def test_source_window_marks_the_line_and_says_when_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("\n".join(f"x{i} = {i}" for i in range(1, 31)) + "\n")
    lines = source_window(str(path), 15).plain.splitlines()
    assert len(lines) == 17
    assert lines[0].split() == ["7", "x7", "=", "7"]
    assert lines[8].startswith("▶") and lines[8].split()[1:3] == ["15", "x15"]
    assert len(source_window(str(path), 2).plain.splitlines()) == 10  # cut at the top
    assert "No such file" in source_window(str(tmp_path / "gone.py"), 3).plain
    assert "has 30 lines" in source_window(str(path), 99).plain
    assert "did not say" in source_window(None, None).plain


def test_sessions_follow_the_events() -> None:
    def ev(kind: str, rid: str, **kw: object) -> DebugEvent:
        return DebugEvent(kind, rid, "f", "env", 0.0, **kw)  # type: ignore[arg-type]

    s = PdbSessions()
    s.take(ev("output", "a", text="> here\n"))
    s.take(ev("paused", "a", file="/x.py", line=3, code="handler"))
    s.take(ev("paused", "b", file="/x.py", line=3, code="handler"))
    assert [p.request_id for p in s.paused()] == ["a", "b"]
    assert s.waiting("a") == 1 and s.next_paused("a").request_id == "b"  # type: ignore[union-attr]
    s.take(ev("resumed", "a", text="n"))
    assert s.open["a"].text() == "> here\n(Pdb) n\n"  # the command after pdb's prompt
    s.take(ev("output", "a", text="> there\n(Pdb) "))  # the prompt printed, as pdb does
    s.take(ev("paused", "a", file="/x.py", line=4, code="handler"))
    s.take(ev("resumed", "a", text="c"))
    assert s.open["a"].text().endswith("> there\n(Pdb) c\n")
    assert s.waiting("a") == 1 and s.waiting("b") == 0
    s.take(ev("ended", "a"))
    assert list(s.open) == ["b"]


# ------------------------------------------------------------------ snapshot


class PaneApp(App[None]):
    """The pane alone, on a made-up session: nothing in it differs between runs."""

    def __init__(self, source: Path) -> None:
        super().__init__()
        sessions = PdbSessions()
        rid = "0d5e7c1a-5b3f-4c1e-9a7d-2f6b8e4c9a10"
        sessions.take(
            DebugEvent(
                "output",
                rid,
                "breaker",
                "env",
                0.0,
                text='> app.py(4)handler()\n-> greeting = "hello " + name\n',
            )
        )
        sessions.take(
            DebugEvent(
                "paused", rid, "breaker", "env", 0.0, file=str(source), line=4, code="handler"
            )
        )
        sessions.take(DebugEvent("resumed", rid, "breaker", "env", 0.0, text="p event"))
        sessions.take(DebugEvent("output", rid, "breaker", "env", 0.0, text="{'name': 'world'}\n"))
        sessions.take(
            DebugEvent(
                "paused", rid, "breaker", "env", 0.0, file=str(source), line=4, code="handler"
            )
        )
        self.session = sessions.open[rid]
        self.roots = [source.parent.parent]

    def compose(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.push_screen(
            DebuggerScreen(
                self.session,
                send=lambda rid, line: None,
                detach=lambda rid: None,
                roots=self.roots,
                waiting=2,
            )
        )


def test_debugger_pane_snapshot(snap_compare, root: Path) -> None:
    assert snap_compare(PaneApp(root / "breaker" / "app.py"), terminal_size=(120, 40))


async def test_an_api_callers_breakpoint_stops_only_when_asked_for(
    root: Path, tmp_path: Path
) -> None:
    """A breakpoint() reached by a Lambda API call would block its HTTP caller and open the
    pane over whatever the user does: skipped with the warning, as under serve, unless the
    function's "debug API calls" is on (b)."""
    serve = functools.partial(start_api, host="127.0.0.1", port=0)
    app = WorkbenchApp([root], state_dir=tmp_path / "state", serve=serve, serve_address="x")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.api_server is not None)
        url = f"{app.api_server.url}/2015-03-31/functions/breaker/invocations"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=b'{"name": "api"}') as response:
                assert response.status == 200
                assert await response.json() == {"greeting": "hello api"}
            assert not isinstance(app.screen, DebuggerScreen)
            assert app.engine.store is not None
            app.engine.store.flush()
            [record] = app.engine.store.recent("breaker", 1)
            assert record.trigger == "api"
            [warning] = [line for line in record.log_lines if "skipped" in line]
            assert "breakpoint() at app.py:3 skipped: an API caller waits" in warning
            assert "debugging API calls is off for breaker" in warning

            app.query_one(FunctionsPane).select("breaker")
            app.query_one("#functions-table").focus()
            await pilot.press("b")
            await pilot.pause()
            assert app.engine.debugger.debug_api == {"breaker"}
            assert "debug API calls: on" in main_text(app, "#function-detail")
            calling = asyncio.ensure_future(http.post(url, data=b'{"name": "api"}'))
            screen = await wait_paused(pilot)
            assert screen.session.function == "breaker" and not calling.done()
            await pilot.press("f5")  # continue: the caller gets its answer
            async with await calling as response:
                assert await response.json() == {"greeting": "hello api"}
            await wait_until(pilot, lambda: not isinstance(app.screen, DebuggerScreen))

            app.query_one("#functions-table").focus()
            await pilot.press("b")  # off again
            await pilot.pause()
            assert not app.engine.debugger.debug_api
            assert "debug API calls" not in main_text(app, "#function-detail")
