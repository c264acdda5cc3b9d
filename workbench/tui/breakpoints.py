"""A screen's size classes (Textual's breakpoints: ``-narrow``, ``-tall``…) from its first
compose, not its first resize.

Textual gives a screen the classes of its ``HORIZONTAL_BREAKPOINTS`` and
``VERTICAL_BREAKPOINTS`` when it receives its first ``Resize``: by then every widget on it has
been styled once, and the new classes style the whole screen again (~100 widgets, ~20 ms of
the TUI's first frame). Set as the screen composes, before any of its widgets is styled, they
are what that resize would set, and it changes nothing.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Size
from textual.screen import Screen


def size_classes(screen: Screen[Any], size: Size) -> dict[str, bool]:
    """Each breakpoint class of ``screen`` (its own, else its app's), and whether ``size``
    gives it: as ``Screen._on_resize`` decides (the largest breakpoint at or under each
    dimension)."""
    app = screen.app
    horizontal = screen.HORIZONTAL_BREAKPOINTS
    vertical = screen.VERTICAL_BREAKPOINTS
    horizontal = (app.HORIZONTAL_BREAKPOINTS if horizontal is None else horizontal) or []
    vertical = (app.VERTICAL_BREAKPOINTS if vertical is None else vertical) or []
    classes = {name: False for _, name in [*horizontal, *vertical]}
    for dimension, breakpoints in ((size.width, horizontal), (size.height, vertical)):
        for at, name in sorted(breakpoints, reverse=True):
            if dimension >= at:
                classes[name] = True
                break
    return classes


def classes_for_size(screen: Screen[Any]) -> None:
    """Give ``screen`` its app's size's breakpoint classes now (call it first in its
    ``compose``)."""
    screen.update_classes(size_classes(screen, screen.app.size), animate=False)
