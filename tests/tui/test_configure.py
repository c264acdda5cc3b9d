"""The configuration dialog (``c`` on the functions pane), driven by Pilot against a real engine:
the settings land in ``function.toml`` with its comments and other keys kept, the next
invocation runs with them, and what the Lambda API refuses is refused beside its field, in the
API's words, with the file untouched. A template's function is read-only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, Static, TextArea

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.dialogs.configure import ConfigureDialog, check_environment, check_number
from workbench.tui.screens.help import HelpScreen
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.gauge import ConcurrencyGauge

SIZE = (160, 45)
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
HANDLER = """\
import os


def handler(event, context):
    return {
        "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
        "stage": os.environ.get("STAGE"),
        "gone": os.environ.get("OLD"),
    }
"""
TOML = f"""\
# the thumbnail maker: keep this comment
name = "hello"
runtime = "{RUNTIME}"
handler = "app.handler"
memory_size = 128  # small on purpose
timeout = 5
description = "Says hello"

[environment]
# variables for the dev stage
OLD = "1"
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "functions" / "hello"
    folder.mkdir(parents=True)
    (folder / "function.toml").write_text(TOML)
    (folder / "app.py").write_text(HANDLER)
    return tmp_path / "functions"


@pytest.fixture
def app(root: Path, tmp_path: Path) -> WorkbenchApp:
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def error_of(app: WorkbenchApp, field: str) -> str:
    error = app.screen.query_one(f"#config-{field}-error", Static)
    return "" if error.has_class("hidden") else str(error.content)


def hint_of(app: WorkbenchApp) -> str:
    return str(app.screen.query_one("#config-hint", Static).content)


def type_into(app: WorkbenchApp, field: str, value: str) -> None:
    if field == "environment":
        app.screen.query_one(TextArea).text = value
    else:
        app.screen.query_one(f"#config-{field}", Input).value = value


async def open_dialog(pilot, app: WorkbenchApp) -> ConfigureDialog:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
    app.query_one("#functions-table").focus()
    await pilot.press("c")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfigureDialog))
    assert isinstance(app.screen, ConfigureDialog)
    return app.screen


@pytest.mark.parametrize("isolation", ["cgroups", "auto"])
async def test_saved_settings_land_in_function_toml_with_its_comments_and_the_next_call_uses_them(
    root: Path, tmp_path: Path, isolation: str
) -> None:
    """Under ``auto`` the handler runs in its namespaces: the new variables and memory reach it
    there too."""
    app = WorkbenchApp([root], state_dir=tmp_path / "state", isolation=isolation)
    toml = root / "hello" / "function.toml"
    async with app.run_test(size=SIZE) as pilot:
        # an invocation first: the gauge then has the function, and must show its new reserve
        first = await app.engine.invoke("hello", b"{}")
        assert json.loads(first.payload) == {"memory": "128", "stage": None, "gone": "1"}
        gauge = app.query_one(ConcurrencyGauge)
        await wait_until(pilot, lambda: "hello" in gauge.functions)

        dialog = await open_dialog(pilot, app)
        assert dialog.query_one("#config-memory", Input).value == "128"
        assert dialog.query_one("#config-storage", Input).value == "512"
        assert dialog.query_one("#config-concurrency", Input).value == ""
        assert dialog.query_one(TextArea).text == "OLD=1"
        type_into(app, "memory", "256")
        type_into(app, "timeout", "30")
        type_into(app, "storage", "1024")
        type_into(app, "concurrency", "5")
        type_into(app, "environment", "STAGE=dev\n\nEMPTY=")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))

        text = toml.read_text()
        assert "# the thumbnail maker: keep this comment" in text
        assert "# variables for the dev stage" in text
        assert 'description = "Says hello"' in text
        assert "memory_size = 256  # small on purpose" in text
        assert "timeout = 30" in text and "ephemeral_storage = 1024" in text
        assert "reserved_concurrency = 5" in text
        assert 'STAGE = "dev"' in text and 'EMPTY = ""' in text and "OLD" not in text

        fn = app.engine.functions["hello"]
        assert (fn.memory_size, fn.timeout, fn.ephemeral_storage) == (256, 30, 1024)
        assert fn.reserved_concurrency == 5
        # the pane's detail and the gauge show the new values at once
        detail = str(app.query_one("#function-detail", Static).content)
        assert "256 MB" in detail and "30 s" in detail and "reserved 5" in detail
        assert "hello" in gauge.summary() and "0/5" in gauge.summary()
        # and the next invocation runs with them
        second = await app.engine.invoke("hello", b"{}")
        assert json.loads(second.payload) == {"memory": "256", "stage": "dev", "gone": None}

        # emptying the reserve removes the key (DeleteFunctionConcurrency)
        await open_dialog(pilot, app)
        type_into(app, "concurrency", "")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))
        assert "reserved_concurrency" not in toml.read_text()
        assert app.engine.functions["hello"].reserved_concurrency is None
        assert "0 in flight" in gauge.summary()


async def test_values_the_api_refuses_are_refused_beside_their_field_and_nothing_is_written(
    app: WorkbenchApp, root: Path
) -> None:
    toml = root / "hello" / "function.toml"
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, app)
        type_into(app, "memory", "64")
        type_into(app, "timeout", "901")
        type_into(app, "storage", "lots")
        type_into(app, "concurrency", "-1")
        type_into(app, "environment", "AWS_REGION=eu-west-1")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(error_of(app, "memory")))
        assert error_of(app, "memory") == (
            "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value "
            "greater than or equal to 128"
        )
        assert error_of(app, "timeout") == (
            "Value '901' at 'timeout' failed to satisfy constraint: Member must have value "
            "less than or equal to 900"
        )
        assert error_of(app, "storage").startswith("'lots' is not a whole number")
        assert "512 to 10240" in error_of(app, "storage")
        assert error_of(app, "concurrency") == (
            "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member "
            "must have value greater than or equal to 0"
        )
        assert "Reserved keys used in this request: AWS_REGION" in error_of(app, "environment")
        assert "Not saved" in hint_of(app)
        assert isinstance(app.screen, ConfigureDialog)
        assert toml.read_text() == TOML

        # fixed fields lose their message; a name outside the model's pattern is the API's words
        type_into(app, "memory", "512")
        type_into(app, "timeout", "10")
        type_into(app, "storage", "512")
        type_into(app, "concurrency", "")
        type_into(app, "environment", "1BAD=x")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not error_of(app, "memory"))
        assert error_of(app, "environment") == (
            "Value at 'environment.variables' failed to satisfy constraint: Map keys must "
            "satisfy constraint: [Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+]"
        )
        assert toml.read_text() == TOML

        # what only the engine knows: the account's unreserved minimum, beside the field
        type_into(app, "environment", "OLD=1")
        type_into(app, "concurrency", "950")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(error_of(app, "concurrency")))
        assert error_of(app, "concurrency") == (
            "InvalidParameterValueException: Specified ReservedConcurrentExecutions for function "
            "decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
        )
        assert toml.read_text() == TOML
        assert app.engine.functions["hello"].memory_size == 128

        # and the variables' 4 KB, refused by the engine's validation of the whole file: the
        # reserve (written first) goes back, so nothing changed
        type_into(app, "concurrency", "5")
        type_into(app, "environment", "BIG=" + "x" * 5000)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(error_of(app, "environment")))
        assert "4 KB" in error_of(app, "environment")
        assert toml.read_text() == TOML
        assert app.engine.functions["hello"].reserved_concurrency is None

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))
        assert toml.read_text() == TOML


def test_the_checks_parse_lines_and_keep_values_as_typed() -> None:
    assert check_environment("A1=x=y\n  \nB2= spaced ") == ({"A1": "x=y", "B2": " spaced "}, None)
    assert check_environment("NOEQUALS")[1] == "line 1: expected NAME=value, got 'NOEQUALS'"
    assert check_environment("AB=1\nAB=2")[1] == "line 2: AB is set twice"
    assert check_number("memory", " 10240 ") == (10240, None)
    assert check_number("concurrency", "") == (None, None)
    assert check_number("timeout", "")[1] == "Give a value: timeout takes 1 to 900 s"


async def test_a_save_that_changes_nothing_writes_nothing_and_says_so(
    app: WorkbenchApp, root: Path
) -> None:
    toml = root / "hello" / "function.toml"
    before = toml.read_bytes(), toml.stat().st_mtime_ns
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, app)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))
        messages = [n.message for n in app._notifications]
        assert "No setting changed: nothing was written." in messages
        assert not any(m.startswith("Saved ") for m in messages)
    assert (toml.read_bytes(), toml.stat().st_mtime_ns) == before


async def test_a_template_function_is_read_only(tmp_path: Path) -> None:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    template = (
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: src\n"
        "      Handler: app.handler\n"
        f"      Runtime: {RUNTIME}\n"
        "      MemorySize: 256\n"
    )
    (root / "template.yaml").write_text(template)
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "Fn")
        app.query_one("#functions-table").focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfigureDialog))
        dialog = app.screen
        assert "Read-only: Fn is defined by the resource Fn in template.yaml" in hint_of(app)
        assert dialog.query_one("#config-memory", Input).value == "256"
        assert dialog.query_one("#config-memory", Input).disabled
        assert not dialog.query("#config-ok")  # no Save button
        await pilot.press("ctrl+s")  # does nothing
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))
        assert (root / "template.yaml").read_text() == template
        assert not (root / "src" / "function.toml").exists()


async def test_the_palette_and_help_offer_configure(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        names = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        command = names["function: Configure…"]
        assert command.help.endswith("(c)")
        await command.run()  # type: ignore[misc]  # App.run_action
        await wait_until(pilot, lambda: isinstance(app.screen, ConfigureDialog))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfigureDialog))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = " ".join(str(s.content) for s in app.screen.query(Static))
        assert "Configure" in text
