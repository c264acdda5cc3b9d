"""Textual's parsed CSS kept across starts (``workbench/tui/css_cache.py``): a second start of
the TUI parses nothing, and its rules are those Textual alone makes; a bad or missing file, a
machine where bytecode is not written, or the switch that turns it off cost nothing but the
parsing; rules with errors are never kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import cache_start
from workbench.tui import css_cache

# a start of the TUI (headless, a function to show), then what its stylesheet holds
START = """
import asyncio, hashlib, json, sys, tempfile
from pathlib import Path
from textual.css.stylesheet import Stylesheet
from workbench.tui import css_cache
original = Stylesheet._parse_rules
if sys.argv[1] == "install":
    css_cache.install()
from workbench.tui.app import WorkbenchApp

async def main():
    root = Path(tempfile.mkdtemp()) / "functions"
    (root / "hello").mkdir(parents=True)
    (root / "hello" / "app.py").write_text("def handler(event, context):\\n    return 1\\n")
    (root / "hello" / "function.toml").write_text('handler = "app.handler"\\n')
    app = WorkbenchApp([root], state_dir=root.parent / "state", isolation="rlimits")
    async with app.run_test(size=(100, 30)):
        rules = "\\n".join(
            f"{[s.css for s in rule.selector_set]} "
            f"{sorted(map(repr, rule.styles.get_rules().items()))} "
            f"{rule.is_default_rules} {rule.tie_breaker} {sorted(rule.selector_names)}"
            for rule in app.stylesheet.rules
        )
    css_cache.save()
    print(json.dumps({
        "stats": css_cache.stats(),
        "patched": Stylesheet._parse_rules is not original,
        "rules": hashlib.sha256(rules.encode()).hexdigest(),
        "count": len(app.stylesheet.rules),
    }))

asyncio.run(main())
"""


def start(cache: Path | str, *, install: bool = True, **env: str) -> dict:
    return cache_start(START, css_cache.CACHE_VAR, cache, install=install, **env)


@pytest.fixture(scope="module")
def plain() -> dict:
    """What Textual alone makes of the TUI's CSS."""
    return start("0", install=False)


def test_a_second_start_parses_nothing_and_has_textuals_own_rules(
    tmp_path: Path, plain: dict
) -> None:
    cache = tmp_path / "css"
    first = start(cache)
    assert first["patched"] and first["stats"][1] > 20  # (every widget class's CSS, parsed)
    assert cache.read_bytes().startswith(css_cache._HEADER)
    second = start(cache)
    assert second["stats"] == [first["stats"][0], 0]
    assert second["rules"] == first["rules"] == plain["rules"]
    assert second["count"] == plain["count"] > 100


@pytest.mark.parametrize("damage", ["garbage", "foreign", "truncated", "bad entry"])
def test_a_damaged_file_is_done_without_and_rewritten(
    tmp_path: Path, plain: dict, damage: str
) -> None:
    cache = tmp_path / "css"
    start(cache)
    good = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"\x00" * 100)
    elif damage == "foreign":  # another Textual's (or Python's)
        cache.write_bytes(b"textual 0.1.0\n" + good[len(css_cache._HEADER) :])
    elif damage == "truncated":
        cache.write_bytes(good[: len(good) // 2])
    else:  # an entry whose rules do not unpickle: parsed again, and replaced
        import marshal

        entries = marshal.loads(good[len(css_cache._HEADER) :])
        entries = {key: b"not a pickle" for key in entries}
        cache.write_bytes(css_cache._HEADER + marshal.dumps(entries))
    again = start(cache)
    assert again["stats"][1] > 20 and again["rules"] == plain["rules"]
    assert start(cache)["stats"][1] == 0  # (rewritten whole)


@pytest.mark.parametrize("off", ["0", "off"])
def test_the_switch_leaves_textual_alone(tmp_path: Path, off: str) -> None:
    done = start(off)
    assert not done["patched"] and done["stats"] == [0, 0]


def test_nothing_is_written_where_bytecode_is_not(tmp_path: Path, plain: dict) -> None:
    cache = tmp_path / "css"
    done = start(cache, PYTHONDONTWRITEBYTECODE="1")
    assert done["rules"] == plain["rules"] and not cache.exists()


def test_an_unwritable_place_costs_nothing(tmp_path: Path, plain: dict) -> None:
    (tmp_path / "file").write_text("")
    done = start(tmp_path / "file" / "css")  # (its folder is a file)
    assert done["rules"] == plain["rules"]


def test_rules_with_errors_are_not_kept_and_themes_are_kept_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In this process: the wrapper alone, its state put back afterwards."""
    from textual.css.stylesheet import Stylesheet, StylesheetParseError

    monkeypatch.setattr(Stylesheet, "_parse_rules", Stylesheet._parse_rules)
    monkeypatch.setattr(css_cache, "_kept", {})
    monkeypatch.setattr(css_cache, "_path", None)
    monkeypatch.setattr(css_cache, "_parsed", 0)
    monkeypatch.setenv(css_cache.CACHE_VAR, str(tmp_path / "css"))
    monkeypatch.setattr("atexit.register", lambda _f: None)
    css_cache.install()

    bad = Stylesheet()
    bad.add_source("Static { colour: red; }", read_from=("test", "bad"))
    with pytest.raises(StylesheetParseError):
        bad.parse()
    assert css_cache.stats() == (0, 1)  # parsed, not kept

    good = "Static { color: $accent; }"
    colors = []
    for accent in ("red", "blue", "red"):
        sheet = Stylesheet(variables={"accent": accent})
        sheet.add_source(good, read_from=("test", "good"))
        sheet.parse()
        colors.append(sheet.rules[0].styles.get_rules()["color"])
    assert colors[0] == colors[2] != colors[1]  # each theme's own rules
    assert css_cache.stats() == (2, 3)  # one kept per theme (the bad one parsed, not kept)
