"""``fields.py``'s field layout for Textual ``Content`` (whose styles name theme variables,
``$error``, which a Rich ``Text`` cannot hold): lines of fields ("Max Memory 48/512 MB") that
wrap between fields, never inside one. Content's own wrapping breaks at a no-break space too,
so the fields are laid out here, at the widget's width, again on each resize."""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.content import Content
from textual.widgets import Static

from .fields import FIELD_SPACE

_FIELD = re.compile(r"[^ ]+")


def pack_content(content: Content, width: int) -> Content:
    """``content`` with each line of fields broken between them to fit ``width`` cells.

    Only lines with a ``FIELD_SPACE`` are fields; other lines (prose, a link) are left to the
    Static's wrapping, as is a field wider than ``width``. The no-break spaces show as spaces.
    """
    lines: list[Content] = []
    for line in content.split("\n", allow_blank=True):
        plain = line.plain
        if FIELD_SPACE not in plain:
            lines.append(line)
            continue
        start: int | None = None
        end = 0
        for m in _FIELD.finditer(plain):
            if start is None:
                start, end = m.start(), m.end()
            elif cell_len(plain[start : m.end()]) <= width:
                end = m.end()
            else:
                lines.append(line[start:end])
                start, end = m.start(), m.end()
        lines.append(line[start:end] if start is not None else line)
    packed = Content("\n").join(lines)
    # same length, so the spans still fit: shown (and copied) with ordinary spaces
    return Content(packed.plain.replace(FIELD_SPACE, " "), spans=list(packed.spans))


class ContentFieldStatic(Static):
    """A Static whose Content wraps between fields (``pack_content``) at its current width."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        self._source: Content | None = content if isinstance(content, Content) else None
        super().__init__(content, **kwargs)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        self._source = content if isinstance(content, Content) else None
        if self._source is None:
            super().update(content, layout=layout)
        else:
            self._show(layout=layout)

    def _show(self, *, layout: bool = True) -> None:
        if self._source is None:
            return
        width = self.content_region.width  # without the padding
        super().update(pack_content(self._source, width if width > 0 else 10_000), layout=layout)

    def on_resize(self, _event: events.Resize) -> None:
        self._show()
