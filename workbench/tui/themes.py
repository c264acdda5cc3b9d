"""Colour themes from ``themes/*.toml``, and the remembered choice between runs.

A theme file holds the arguments of Textual's ``Theme`` (see ``themes/README.md``). Errors in a
file name the file and the key, because people write these by hand.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme
from textual.widgets.text_area import TextAreaTheme

DEFAULT_THEME = "workbench-dark"
FALLBACK_THEME = "textual-dark"  # Textual's own, when the themes folder is missing

COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "warning",
    "error",
    "success",
)
FRACTION_KEYS = ("luminosity_spread", "text_alpha")
ACCEPTED_KEYS = ("name", "dark", *COLOUR_KEYS, *FRACTION_KEYS, "editor_theme", "variables")


class ThemeError(ValueError):
    """A theme the user asked for, or wrote, cannot be used; the message says why."""


class ThemeFileError(ThemeError):
    """A theme file is broken: the message starts with the file."""


class UnknownTheme(ThemeError):
    """No theme by that name; the message lists the ones there are."""


@dataclass
class WorkbenchTheme(Theme):
    """A Textual theme plus the event editor's syntax colours, which CSS cannot reach."""

    editor_theme: str | None = None


def themes_dir() -> Path:
    """The themes: ``workbench/themes/`` in an installed wheel (pyproject maps the repo's
    ``themes/`` there), else the repo's ``themes/`` beside the package (an editable install)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "themes"
    return installed if installed.is_dir() else package.parent / "themes"


def editor_themes() -> list[str]:
    return sorted(t.name for t in TextAreaTheme.builtin_themes())


def editor_theme_for(theme: Theme) -> str:
    """The TextArea theme for the event editor under ``theme``: its own, or one to match."""
    chosen = getattr(theme, "editor_theme", None)
    return chosen or ("monokai" if theme.dark else "github_light")


# --------------------------------------------------------------------------- theme files


def load_themes(folder: Path) -> dict[str, Theme]:
    """Every ``*.toml`` theme in ``folder``, by name (none if the folder does not exist)."""
    themes: dict[str, Theme] = {}
    sources: dict[str, Path] = {}
    if not folder.is_dir():
        return themes
    for path in sorted(folder.glob("*.toml")):
        theme = load_theme(path)
        if theme.name in themes:
            raise ThemeFileError(
                f"{path}: theme name {theme.name!r} is already used by {sources[theme.name]}"
            )
        themes[theme.name] = theme
        sources[theme.name] = path
    return themes


def load_theme(path: Path) -> WorkbenchTheme:
    """One theme file; ThemeFileError naming the file and what is wrong with it."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ThemeFileError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ThemeFileError(f"{path}: cannot read: {e.strerror}") from None
    try:
        theme = _theme_from(data)
        theme.to_color_system().generate()  # whatever else Textual would trip over, now
    except ThemeFileError as e:
        raise ThemeFileError(f"{path}: {e}") from None
    except Exception as e:  # Textual's own complaint, with the file attached
        raise ThemeFileError(f"{path}: {e}") from None
    return theme


def _theme_from(data: dict[str, Any]) -> WorkbenchTheme:
    unknown = sorted(set(data) - set(ACCEPTED_KEYS))
    if unknown:
        raise ThemeFileError(
            f"unknown key {unknown[0]!r}; accepted keys: {', '.join(ACCEPTED_KEYS)}"
        )
    for key in ("name", "dark", "primary"):
        if key not in data:
            raise ThemeFileError(f"missing key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise ThemeFileError("'name' must be a non-empty string without commas")
    if not isinstance(data["dark"], bool):
        raise ThemeFileError("'dark' must be true or false")
    colours = {key: _colour(key, data[key]) for key in COLOUR_KEYS if key in data}
    fractions = {key: _fraction(key, data[key]) for key in FRACTION_KEYS if key in data}
    editor_theme = data.get("editor_theme")
    if editor_theme is not None and editor_theme not in editor_themes():
        raise ThemeFileError(
            f"'editor_theme' is {editor_theme!r}; accepted: {', '.join(editor_themes())}"
        )
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError('[variables] must be a table of strings, e.g. border = "#5c6773"')
    settings: dict[str, Any] = {**colours, **fractions}  # Theme's own keyword arguments
    return WorkbenchTheme(
        name=name,
        dark=data["dark"],
        variables=dict(variables),
        editor_theme=editor_theme,
        **settings,
    )


def _colour(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f'{key!r} must be a colour string such as "#1f6feb"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(
            f"{key!r} is {value!r}, not a colour (use #rrggbb, rgb(r, g, b) or a colour name)"
        ) from None
    return value


def _fraction(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ThemeFileError(f"{key!r} must be a number from 0 to 1")
    return float(value)


# --------------------------------------------------------------------------- choosing one


def resolve_theme(requested: str | None, remembered: str | None, available: Iterable[str]) -> str:
    """The theme to start with: the one asked for, else the remembered one, else the default.

    A theme asked for by name must exist (UnknownTheme); a remembered one that has since gone
    is quietly skipped, since the user did not ask for it this time.
    """
    names = list(available)
    if requested is not None:
        if requested not in names:
            raise UnknownTheme(f"unknown theme {requested!r}; available: {', '.join(names)}")
        return requested
    if remembered in names:
        return remembered
    return DEFAULT_THEME if DEFAULT_THEME in names else FALLBACK_THEME


def ordered_names(ours: Iterable[str], all_names: Iterable[str]) -> list[str]:
    """Our theme files' names first, then Textual's built-ins, each group sorted."""
    ours = sorted(ours)
    return ours + sorted(n for n in all_names if n not in ours)


# --------------------------------------------------------------------------- preferences


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/workbench`` (``~/.config/workbench`` when it is unset or relative)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "workbench"


class Preferences:
    """The user's settings that outlive a run (``settings.json``); today, the theme.

    Reading never fails: a missing or broken file is an empty one. Writing keeps the keys it does
    not know, and is atomic.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, **values: Any) -> None:
        data = {**self.load(), **values}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".settings.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @property
    def theme(self) -> str | None:
        theme = self.load().get("theme")
        return theme if isinstance(theme, str) else None

    @theme.setter
    def theme(self, name: str) -> None:
        self.update(theme=name)
