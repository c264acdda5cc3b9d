"""Themes: the files in themes/, --theme, the remembered choice, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import TextArea

from workbench import cli
from workbench.tui import app as app_module
from workbench.tui.app import WorkbenchApp
from workbench.tui.themes import (
    DEFAULT_THEME,
    Preferences,
    ThemeFileError,
    UnknownTheme,
    config_dir,
    editor_theme_for,
    load_themes,
    resolve_theme,
    themes_dir,
)

from ..helpers import make_function
from .pilot import palette_offers

REPO = Path(__file__).resolve().parents[2]
HELLO = """
def handler(event, context):
    return {"greeting": "hello"}
"""
SIZE = (160, 45)

GOOD = """
name = "mine"
dark = false
primary = "#0b5cad"
background = "#ffffff"
[variables]
footer-key-foreground = "#0b5cad"
"""


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    return root


def new_app(root: Path, tmp_path: Path, theme: str | None = None) -> WorkbenchApp:
    return WorkbenchApp([root], state_dir=tmp_path / "state", theme=theme)


def settings_file(config_home: Path) -> Path:
    return config_home / "workbench" / "settings.json"


# --------------------------------------------------------------------------- theme files


def test_the_repo_ships_a_dark_and_a_light_theme() -> None:
    assert themes_dir() == REPO / "themes"
    themes = load_themes(themes_dir())
    assert themes["workbench-dark"].dark is True
    assert themes["workbench-light"].dark is False
    for theme in themes.values():
        assert theme.background and theme.foreground and theme.accent
        assert theme.to_color_system().generate()


def test_a_theme_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD)
    theme = load_themes(tmp_path)["mine"]
    assert (theme.dark, theme.primary, theme.background) == (False, "#0b5cad", "#ffffff")
    assert theme.variables == {"footer-key-foreground": "#0b5cad"}
    assert editor_theme_for(theme) == "github_light"


def test_a_missing_folder_has_no_themes(tmp_path: Path) -> None:
    assert load_themes(tmp_path / "nowhere") == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name = ", "not valid TOML"),
        ('dark = true\nprimary = "#fff"', "missing key 'name'"),
        ('name = "x"\nprimary = "#fff"', "missing key 'dark'"),
        ('name = "x"\ndark = "yes"\nprimary = "#fff"', "'dark' must be true or false"),
        ('name = "x"\ndark = true\nprimary = "blurple"', "'primary' is 'blurple', not a colour"),
        ('name = "x"\ndark = true\nprimary = 12', "'primary' must be a colour string"),
        ('name = "x"\ndark = true\nprimary = "#fff"\nprimery = "#000"', "unknown key 'primery'"),
        ('name = "x"\ndark = true\nprimary = "#fff"\neditor_theme = "neon"', "'editor_theme'"),
        ('name = "x"\ndark = true\nprimary = "#fff"\ntext_alpha = 2', "from 0 to 1"),
        ('name = "x"\ndark = true\nprimary = "#fff"\nvariables = 3', "[variables]"),
    ],
)
def test_a_broken_theme_file_says_which_file_and_what(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "ok.toml").write_text(GOOD)
    (tmp_path / "broken.toml").write_text(text)
    with pytest.raises(ThemeFileError) as info:
        load_themes(tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "broken.toml") + ": ")
    assert problem in message


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    (tmp_path / "b.toml").write_text(GOOD)
    with pytest.raises(ThemeFileError, match="'mine' is already used by .*a.toml"):
        load_themes(tmp_path)


# --------------------------------------------------------------------------- choosing


def test_resolve_theme_order() -> None:
    names = ["workbench-dark", "workbench-light", "nord"]
    assert resolve_theme("nord", "workbench-light", names) == "nord"
    assert resolve_theme(None, "workbench-light", names) == "workbench-light"
    assert resolve_theme(None, "gone-since", names) == DEFAULT_THEME
    assert resolve_theme(None, None, names) == DEFAULT_THEME
    assert resolve_theme(None, None, ["nord"]) == "textual-dark"
    with pytest.raises(UnknownTheme, match="unknown theme 'x'; available: workbench-dark, "):
        resolve_theme("x", None, names)


def test_preferences_live_under_xdg_config_home(config_home: Path) -> None:
    assert config_dir() == config_home / "workbench"
    prefs = Preferences()
    assert prefs.theme is None
    settings_file(config_home).parent.mkdir(parents=True)
    settings_file(config_home).write_text('{"other": 1}')
    prefs.theme = "nord"
    assert Preferences().theme == "nord"
    assert json.loads(settings_file(config_home).read_text()) == {"other": 1, "theme": "nord"}
    assert sorted(p.name for p in settings_file(config_home).parent.iterdir()) == ["settings.json"]


def test_without_xdg_config_home_preferences_go_to_dot_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "workbench"


def test_a_broken_settings_file_is_ignored(config_home: Path) -> None:
    settings_file(config_home).parent.mkdir(parents=True)
    settings_file(config_home).write_text("{not json")
    assert Preferences().theme is None
    settings_file(config_home).write_text('{"theme": 3}')
    assert Preferences().theme is None


# --------------------------------------------------------------------------- the app


async def test_the_default_is_workbench_dark(root: Path, tmp_path: Path) -> None:
    app = new_app(root, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "workbench-dark"
        assert app.current_theme.dark
        assert "workbench-light" in app.available_themes
        assert "textual-dark" in app.available_themes  # Textual's own stay selectable
        assert app.query_one("#event-text", TextArea).theme == "css"


async def test_the_theme_asked_for_is_applied_for_this_run_only(
    root: Path, tmp_path: Path, config_home: Path
) -> None:
    app = new_app(root, tmp_path, theme="workbench-light")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "workbench-light"
        assert not app.current_theme.dark
        assert app.query_one("#event-text", TextArea).theme == "github_light"
        assert app.get_css_variables()["background"].lower() == "#f6f7f9"
    assert not settings_file(config_home).exists()


async def test_a_theme_change_is_remembered(root: Path, tmp_path: Path, config_home: Path) -> None:
    app = new_app(root, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.theme = "workbench-light"  # what the palette's "Theme" command does
        await pilot.pause()
        assert app.query_one("#event-text", TextArea).theme == "github_light"
    assert json.loads(settings_file(config_home).read_text())["theme"] == "workbench-light"

    again = new_app(root, tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "workbench-light"

    asked = new_app(root, tmp_path, theme="nord")  # --theme still wins
    async with asked.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert asked.theme == "nord"


async def test_the_palette_changes_and_remembers_the_theme(
    root: Path, tmp_path: Path, config_home: Path
) -> None:
    app = new_app(root, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme")
        await palette_offers(pilot, "Theme")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"workbench-light")
        await palette_offers(pilot, "workbench-light")
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "workbench-light"
    assert Preferences().theme == "workbench-light"


def test_an_unknown_theme_is_refused_by_the_app(root: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownTheme, match="unknown theme 'nope'; available: workbench-dark"):
        new_app(root, tmp_path, theme="nope")


def test_cli_unknown_theme_exits_2_before_the_tui(root: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", str(root), "--theme", "nope"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "workbench: unknown theme 'nope'; available: workbench-dark, workbench-light, "
    )
    assert done.stdout == ""  # the TUI never started
    assert not (tmp_path / "state").exists()


def test_cli_broken_theme_file_exits_2_naming_it(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "bad.toml").write_text('name = "bad"\ndark = true\nprimary = "blurple"\n')
    monkeypatch.setattr(app_module, "themes_dir", lambda: themes)
    assert cli.main([str(root), "--state-dir", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"workbench: {themes / 'bad.toml'}: 'primary' is 'blurple'")


def test_cli_help_mentions_theme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_tui_parser().parse_args(["--help"])
    assert "--theme NAME" in capsys.readouterr().out
