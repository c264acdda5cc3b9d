"""Versions and aliases in the TUI, driven by Pilot: publish, create / edit / delete an alias,
invoke a version or an alias, and a broken save shown on its function with no invoke.

A real engine and real runtimes; every wait polls the app's or the engine's own state.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets.data_table import ColumnKey

from tests.tui.pilot import palette_offers, wait_until
from workbench.engine import Engine, EngineSettings
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.dialogs.alias import AliasDialog, AliasRequest, ConfirmAliasDelete
from workbench.tui.dialogs.publish import PublishPrompt
from workbench.tui.widgets.functions import FunctionsPane

from ..helpers import make_function

ONE = """
def handler(event, context):
    return {"version": "one"}
"""

TWO = """
def handler(event, context):
    return {"version": "two"}
"""

LATEST_CODE = """
def handler(event, context):
    return {"version": "latest"}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", ONE, timeout=5)
    make_function(root, "other", ONE, timeout=5)
    return root


@pytest.fixture
def app(root: Path, tmp_path: Path) -> WorkbenchApp:
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def pane(app: WorkbenchApp) -> FunctionsPane:
    return app.query_one(FunctionsPane)


def keys(app: WorkbenchApp) -> list[str]:
    return [r.key for r in pane(app).all_rows()]


def cell(app: WorkbenchApp, key: str, column: str) -> str:
    return str(app.query_one("#functions-table", DataTable).get_cell(key, column))


def fits(app: WorkbenchApp) -> bool:
    """The functions table needs no horizontal scrolling: every column is in view."""
    table = app.query_one("#functions-table", DataTable)
    return table.virtual_size.width <= table.scrollable_content_region.width


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def detail(app: WorkbenchApp) -> str:
    return text_of(app, "#function-detail")


def toasts(messages: list[Message]) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


async def publish_two(pilot: Pilot, root: Path) -> None:
    """hello version 1 returns "one", version 2 "two"; both shown (dialogs offer what is shown)."""
    app = pilot.app
    await app.engine.publish("hello", "first")
    (root / "hello" / "app.py").write_text(TWO.lstrip())
    await app.engine.publish("hello", "second")
    await wait_until(pilot, lambda: "hello:2" in keys(app))


async def select(pilot: Pilot, key: str) -> None:
    await wait_until(pilot, lambda: key in keys(pilot.app))
    pane(pilot.app).select(key)
    await pilot.pause()
    assert pane(pilot.app).selected_key == key


async def open_alias_dialog(pilot: Pilot, key: str) -> AliasDialog:
    await pilot.press(key)
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, AliasDialog)
    return dialog


async def type_into(pilot: Pilot, dialog: AliasDialog, selector: str, text: str) -> None:
    field = dialog.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)


def hint(dialog: AliasDialog) -> str:
    return str(dialog.query_one("#alias-hint", Static).content)


# --------------------------------------------------------------------------- publish


async def test_publish_shows_the_version_with_its_code_sha(app: WorkbenchApp) -> None:
    messages: list[Message] = []
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await pilot.pause()
        assert pane(app).selected_key == "hello"
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PublishPrompt)
        assert "Nothing published yet" in str(app.screen.query_one("#publish-hint", Static).content)
        await pilot.press(*"first release", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, PublishPrompt))
        [version] = app.engine.versions("hello")
        assert (version.number, version.description) == (1, "first release")
        assert keys(app) == ["hello", "hello:1", "other"]
        assert "v1" in cell(app, "hello:1", "name")
        # the new version is selected: its details are below the table
        assert pane(app).selected_key == "hello:1"
        shown = detail(app)
        assert version.code_sha256 in shown and len(version.code_sha256) == 44
        assert "first release" in shown
        assert f"{version.code_size:,} bytes" in shown
        assert time.strftime("%Y-%m-%d", time.localtime(version.created_at)) in shown
        assert "Published hello version 1." in toasts(messages)

        # unchanged code and config: Lambda returns the last version, and the user is told
        await pilot.press("p")
        await pilot.pause()
        assert "Latest: version 1" in str(app.screen.query_one("#publish-hint", Static).content)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, PublishPrompt))
        assert len(app.engine.versions("hello")) == 1
        assert any(t.startswith("No change since version 1") for t in toasts(messages))
        assert keys(app) == ["hello", "hello:1", "other"]


async def test_publish_of_a_broken_function_is_refused_with_its_reason(
    root: Path, tmp_path: Path
) -> None:
    (root / "hello" / "function.toml").write_text('handler = "app.handler"\ntimeout = "soon"\n')
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    messages: list[Message] = []
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await pilot.pause()
        assert "hello" in app.engine.problems
        await select(pilot, "hello")
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, PublishPrompt)
        assert any("function.toml is invalid" in t for t in toasts(messages))
        assert app.engine.versions("hello") == []


# --------------------------------------------------------------------------- aliases


async def test_create_an_alias_with_a_weight_from_the_keyboard(
    app: WorkbenchApp, root: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        await select(pilot, "hello:2")
        dialog = await open_alias_dialog(pilot, "a")
        # the selected version is the default target
        assert dialog.query_one("#alias-version", Select).value == "2"
        assert app.focused is dialog.query_one("#alias-name", Input)
        await pilot.press(*"live", "tab", "tab")  # name, then past the version to "also route to"
        assert app.focused is dialog.query_one("#alias-extra", Select)
        await pilot.press("enter", "down", "enter")  # blank, 1 (2 is its own): version 1
        await pilot.pause()
        assert dialog.query_one("#alias-extra", Select).value == "1"
        await pilot.press("tab", *"0.1")
        await pilot.pause()
        assert "90% of invocations run version 2, 10% version 1" in hint(dialog)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AliasDialog))
        [alias] = app.engine.aliases("hello")
        assert (alias.name, alias.function_version, dict(alias.routing)) == (
            "live",
            "2",
            {"1": 0.1},
        )
        assert keys(app) == ["hello", "hello:1", "hello:2", "hello:live", "other"]
        assert "@live" in cell(app, "hello:live", "name")
        assert cell(app, "hello:live", "runtime") == "→ 2 +1 10%"
        assert fits(app)
        assert pane(app).selected_key == "hello:live"
        assert "→ v2 90% · v1 10%" in detail(app)
        assert "recent: no invocations through it yet" in detail(app)


@pytest.mark.parametrize(
    ("name", "version", "extra", "weight", "expected"),
    [
        ("123", "2", None, "", ["ValidationException", "not all digits"]),
        ("live", "2", "1", "1.5", ["ValidationException", "less than or equal to 1.0"]),
        ("live", "2", "1", "-0.2", ["ValidationException", "greater than or equal to 0.0"]),
        ("live", "$LATEST", "1", "0.1", ["InvalidParameterValueException", "$LATEST"]),
        ("live", "2", "1", "lots", ["not a number"]),
        ("live", "2", "1", "", ["Give version 1 a weight"]),
        ("", "2", None, "", ["ValidationException", "length between 1 and 128"]),
    ],
    ids=[
        "digits-only-name",
        "weight-above-1",
        "weight-below-0",
        "latest-with-routing",
        "weight-not-a-number",
        "weight-missing",
        "empty-name",
    ],
)
async def test_bad_alias_input_is_explained_in_the_dialog_and_creates_nothing(
    app: WorkbenchApp,
    root: Path,
    name: str,
    version: str,
    extra: str | None,
    weight: str,
    expected: list[str],
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        await select(pilot, "hello")
        dialog = await open_alias_dialog(pilot, "a")
        await type_into(pilot, dialog, "#alias-name", name)
        dialog.query_one("#alias-version", Select).value = version
        if extra is not None:
            dialog.query_one("#alias-extra", Select).value = extra
        await pilot.pause()
        await type_into(pilot, dialog, "#alias-weight", weight)
        dialog.query_one("#alias-ok").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog, "the dialog stays open"
        for part in expected:
            assert part in hint(dialog)
        assert dialog.query_one("#alias-hint").has_class("error")
        assert app.engine.aliases("hello") == []
        assert "hello:live" not in keys(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_the_alias_s_own_version_is_never_offered_as_the_other_one(
    app: WorkbenchApp, root: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        await select(pilot, "hello:2")
        dialog = await open_alias_dialog(pilot, "a")
        version = dialog.query_one("#alias-version", Select)
        extra = dialog.query_one("#alias-extra", Select)

        def offered() -> list[str]:
            return [str(value) for _, value in extra._options if value is not Select.NULL]

        assert version.value == "2" and offered() == ["1"]
        await type_into(pilot, dialog, "#alias-name", "live")
        extra.value = "1"
        await type_into(pilot, dialog, "#alias-weight", "0.1")
        assert "90% of invocations run version 2, 10% version 1" in hint(dialog)
        # the alias now points at 1: 1 is no longer offered, nor still picked, nor its weight
        version.value = "1"
        await pilot.pause()
        assert offered() == ["2"]
        assert extra.value is Select.NULL
        assert dialog.query_one("#alias-weight", Input).value == ""
        assert "Every invocation of the alias runs version 1." in hint(dialog)
        assert "version 1, 10% version 1" not in hint(dialog)
        # another pick the alias's version leaves alone
        extra.value = "2"
        version.value = "$LATEST"
        await pilot.pause()
        assert offered() == ["2", "1"] and extra.value == "2"
        # and the form refuses the same version twice before the engine is asked
        version.value = "2"
        await pilot.pause()
        with dialog.prevent(Select.Changed):  # as if the picker had offered it
            extra.set_options([("2", "2")])
            extra.value = "2"
        await type_into(pilot, dialog, "#alias-weight", "0.1")
        dialog.query_one("#alias-ok").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "Version 2 is the alias's own version" in hint(dialog)
        assert dialog.query_one("#alias-hint").has_class("error")
        assert app.engine.aliases("hello") == []


async def test_an_unknown_version_is_the_engines_error(app: WorkbenchApp) -> None:
    """A version that vanished between opening and saving (the pickers only offer real ones)."""
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        problem = app.query_one(FunctionsPane).apply_alias(
            AliasRequest("hello", "live", "7", None, None, "", False)
        )
        assert problem is not None
        assert problem.startswith("ResourceNotFoundException: Function not found")
        assert problem.endswith("function:hello:7")
        assert app.engine.aliases("hello") == []


async def test_edit_an_alias_weight_then_remove_its_routing(app: WorkbenchApp, root: Path) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        app.engine.create_alias("hello", "live", "2", routing={"1": 0.1}, description="prod")
        await select(pilot, "hello:live")  # the engine's RegistryChanged brings the row
        dialog = await open_alias_dialog(pilot, "e")
        # pre-filled from the alias; its name cannot change
        assert dialog.query_one("#alias-name", Input).disabled
        assert dialog.query_one("#alias-version", Select).value == "2"
        assert dialog.query_one("#alias-extra", Select).value == "1"
        assert dialog.query_one("#alias-weight", Input).value == "0.1"
        assert dialog.query_one("#alias-description", Input).value == "prod"
        await type_into(pilot, dialog, "#alias-weight", "30%")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AliasDialog))
        alias = app.engine.alias("hello", "live")
        assert (alias.function_version, dict(alias.routing), alias.description) == (
            "2",
            {"1": 0.3},
            "prod",
        )
        assert cell(app, "hello:live", "runtime") == "→ 2 +1 30%"
        assert "→ v2 70% · v1 30%" in detail(app)

        # no other version: the weight goes with it, and the routing is removed
        dialog = await open_alias_dialog(pilot, "e")
        dialog.query_one("#alias-extra", Select).value = Select.NULL
        await pilot.pause()
        assert dialog.query_one("#alias-weight", Input).value == ""
        assert "Every invocation of the alias runs version 2" in hint(dialog)
        dialog.query_one("#alias-ok").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AliasDialog))
        assert dict(app.engine.alias("hello", "live").routing) == {}
        assert cell(app, "hello:live", "runtime") == "→ 2"


async def test_edit_and_delete_need_an_alias_row(app: WorkbenchApp, root: Path) -> None:
    messages: list[Message] = []
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await publish_two(pilot, root)
        await select(pilot, "hello:1")
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert sum("Select an alias" in t for t in toasts(messages)) == 2


async def test_delete_an_alias_asks_first(app: WorkbenchApp, root: Path) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        app.engine.create_alias("hello", "live", "1")
        await select(pilot, "hello:live")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAliasDelete)
        await pilot.press("n")
        await pilot.pause()
        assert [a.name for a in app.engine.aliases("hello")] == ["live"]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.engine.aliases("hello") == []
        assert "hello:live" not in keys(app)
        assert pane(app).selected_key == "hello"  # back to its function


# --------------------------------------------------------------------------- invoke


async def test_a_selected_version_or_alias_is_what_ctrl_r_invokes(
    app: WorkbenchApp, root: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        (root / "hello" / "app.py").write_text(LATEST_CODE.lstrip())
        app.engine.create_alias("hello", "live", "1", routing={"2": 1.0})  # all to version 2

        async def invoke(key: str) -> dict[str, object]:
            await select(pilot, key)
            before = app.engine.store.count("hello")
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"))
            await wait_until(pilot, lambda: app.engine.store.count("hello") == before + 1)
            assert text_of(app, "#response-status").startswith(key + " ")
            return json.loads(text_of(app, "#response-body"))

        assert await invoke("hello:1") == {"version": "one"}
        [record] = app.engine.store.recent("hello", limit=1)
        assert (record.version, record.qualifier) == ("1", "1")
        await wait_until(pilot, lambda: cell(app, "hello:1", "last") == "success")

        assert await invoke("hello") == {"version": "latest"}
        assert app.engine.store.recent("hello", limit=1)[0].version == "$LATEST"

        for _ in range(3):
            assert await invoke("hello:live") == {"version": "two"}
        [record] = app.engine.store.recent("hello", limit=1)
        assert (record.version, record.qualifier) == ("2", "live")
        # configured: all to 2 through the routing; recent: what actually ran
        await wait_until(pilot, lambda: "(n=3)" in detail(app))
        assert "→ v1 0% · v2 100%" in detail(app)
        assert "recent: v2 100% (n=3)" in detail(app)
        assert cell(app, "hello:2", "last") == "success"


async def test_the_live_split_is_seeded_from_stored_invocations(root: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with Engine([root], EngineSettings(state_dir=state)) as engine:
        await engine.publish("hello")
        engine.create_alias("hello", "live", "1")
        for _ in range(2):
            await engine.invoke("hello", b"{}", qualifier="live")
        await engine.invoke("hello", b"{}")  # not through the alias: not counted
    app = WorkbenchApp([root], state_dir=state)
    async with app.run_test(size=(160, 45)) as pilot:
        await select(pilot, "hello:live")
        assert "recent: v1 100% (n=2)" in detail(app)
        assert cell(app, "hello:live", "last") == "success"


async def test_another_process_publishing_shows_up(app: WorkbenchApp, root: Path) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert keys(app) == ["hello", "other"]
        other = Engine([root], EngineSettings(state_dir=app.settings.state_dir))
        async with other:
            await other.publish("other", "from elsewhere")
            other.create_alias("other", "beta", "1")
        await wait_until(pilot, lambda: "other:beta" in keys(app))
        assert keys(app) == ["hello", "other", "other:1", "other:beta"]


# --------------------------------------------------------------------------- reload errors


async def test_a_syntax_error_shows_on_the_function_the_moment_it_is_saved(
    app: WorkbenchApp, root: Path
) -> None:
    messages: list[Message] = []
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await app.engine.wait_watching()
        await select(pilot, "hello")
        assert cell(app, "hello", "last") == ""
        (root / "hello" / "app.py").write_text("def handler(event, context)\n    return 1\n")
        await wait_until(pilot, lambda: app.engine.problem("hello") is not None, timeout=10)
        await wait_until(pilot, lambda: cell(app, "hello", "last") == "syntax error", timeout=5)
        await pilot.pause()
        table = app.query_one("#functions-table", DataTable)
        assert table.columns[ColumnKey("last")].content_width >= len("syntax error")
        assert fits(app)
        shown = detail(app)
        assert "syntax error" in shown and "app.py:1" in shown
        assert "SyntaxError: expected ':'" in shown
        assert any("app.py:1: SyntaxError" in t for t in toasts(messages))
        state = app.engine.function_state("hello")
        assert state is None or state.invocations == 0  # nothing was invoked
        # publishing it now would freeze the broken code: the dialog says so
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PublishPrompt)
        warning = str(app.screen.query_one("#publish-warning", Static).content)
        assert "does not compile" in warning and "app.py:1" in warning
        await pilot.press("escape")
        await pilot.pause()
        assert app.engine.versions("hello") == []
        # fixed: the error goes, and the row shows its last result again
        (root / "hello" / "app.py").write_text(ONE.lstrip())
        await wait_until(pilot, lambda: app.engine.problem("hello") is None, timeout=10)
        await wait_until(pilot, lambda: cell(app, "hello", "last") == "", timeout=5)
        assert "syntax error" not in detail(app)


# --------------------------------------------------------------------------- reachability


async def test_versions_actions_are_keys_footer_entries_and_palette_commands(
    app: WorkbenchApp, root: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await publish_two(pilot, root)
        app.engine.create_alias("hello", "live", "1")
        await wait_until(pilot, lambda: "hello:live" in keys(app))
        for binding in FunctionsPane.BINDINGS:
            assert binding.id and binding.tooltip, binding
        # the footer shows the bindings of the focused functions table
        active = {b.binding.action for b in app.screen.active_bindings.values()}
        assert {"publish", "new_alias", "edit_alias", "delete_alias"} <= active
        names = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        for expected in (
            "function: Publish version",
            "alias: Create…",
            "alias: Edit…",
            "alias: Delete…",
            "function: Select hello:1",
            "function: Select hello:2",
            "function: Select hello:live",
        ):
            assert expected in names
        assert "(p)" in names["function: Publish version"].help
        names["function: Select hello:live"].run()
        await pilot.pause()
        assert pane(app).selected_key == "hello:live"
        # the palette runs the action as the key does
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"alias: Edit")
        await palette_offers(pilot, "alias: Edit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AliasDialog))
        assert app.screen.alias is not None and app.screen.alias.name == "live"
