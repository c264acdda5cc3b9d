"""A DataTable that keeps its rendered rows across a focus change.

Textual's DataTable empties every render cache on any style update, a focus change included, so
each pane key re-rendered the functions table and the log's table cell by cell (~5 ms of a
frame). Its row, cell and line caches are keyed by the table's pseudo-class state (focus, hover,
enabled), so an entry made while focused stays right for the next time it is focused, as long
as the styles of that state are what they were. This table keeps them when they are: it
remembers the look (its own and its component classes' styles) of each pseudo-class state it
has been in, and empties the caches as DataTable does when a state's look changed (a theme
switch, a class change).
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import PseudoClasses, Widget
from textual.widgets import DataTable


class KeptTable(DataTable[Any]):
    """A DataTable whose focus change (or hover) redraws from its caches when it can."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._looks: dict[PseudoClasses, tuple[Style, ...]] = {}

    def notify_style_update(self) -> None:
        """DataTable's, less its row, cell and line caches: ``render_lines`` checks those.

        (Textual calls this before it restyles the component classes, so the look of the new
        state is not known yet here.)"""
        Widget.notify_style_update(self)
        self._styles_cache.clear()
        self._get_styles_to_render_cell.cache_clear()  # keyed by neither state nor look
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        state = self.get_pseudo_class_state()
        names = sorted(self.COMPONENT_CLASSES)
        look = (self.rich_style, *(self.get_component_rich_style(n) for n in names))
        known = self._looks.get(state)
        if known != look:
            if known is not None:  # this state looks different now: nothing kept is right
                self._looks.clear()
                self._clear_caches()
            self._looks[state] = look
        return super().render_lines(crop)
