"""Status lines made of fields ("Billed 377 ms"), which wrap between fields, never inside one.

A terminal 80 columns wide leaves a pane ~24: a status line wrapped as words reads
"Billed 377" / "ms  Max Memory". Within a field, the spaces are written as ``FIELD_SPACE``
(a no-break space); ``FieldStatic`` lays the fields out at its own width, breaks only at the
ordinary spaces between them, cuts a field wider than the pane with an ellipsis, and shows the
no-break spaces as spaces. It lays them out again when its width changes (a resize, a zoom).
"""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import Static

FIELD_SPACE = "\u00a0"  # joins the words of one field
_FIELD = re.compile(r"[^ ]+")


def together(*words: object) -> str:
    """One field: its words joined so that they stay on one line ("Billed 377 ms")."""
    return FIELD_SPACE.join(str(w) for w in words)


def pack(text: Text, width: int) -> Text:
    """``text`` with each line of fields broken between them to fit ``width`` cells.

    Only lines with a ``FIELD_SPACE`` are fields; other lines are left to the Static's wrapping
    (a long path folds rather than being cut). The no-break spaces come out as spaces.
    """
    lines: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain = line.plain
        if FIELD_SPACE not in plain:  # prose (a message, a path): the Static wraps it
            lines.append(line)
            continue
        current = Text(end="")
        used = 0
        last = 0  # where the gap before the next field starts
        for m in _FIELD.finditer(plain):
            gap, piece = line[last : m.start()], line[m.start() : m.end()]
            last = m.end()
            if cell_len(piece.plain) > width and FIELD_SPACE in piece.plain:
                # a field wider than the pane: its own words wrap, on lines of their own
                if used:
                    lines.append(current)
                rows = [_cut(r, width) for r in _rejoin(list(piece.split(FIELD_SPACE)), width)]
                lines.extend(rows[:-1])
                current = rows[-1]
                used = cell_len(current.plain)
                continue
            piece = _cut(piece, width)
            if used and used + len(gap) + cell_len(piece.plain) > width:
                lines.append(current)
                current, used = Text(end=""), 0
                gap = Text("")
            current.append_text(gap)
            current.append_text(piece)
            used += len(gap.plain) + cell_len(piece.plain)
        current.append_text(line[last:])  # trailing spaces, kept as they were
        lines.append(current)
    packed = Text("\n", style=text.style, end=text.end).join(lines)
    packed.plain = packed.plain.replace(FIELD_SPACE, " ")  # same length: the styles stay
    return packed


def _cut(piece: Text, width: int) -> Text:
    """``piece``, cut to ``width`` cells with an ellipsis when it is wider."""
    if cell_len(piece.plain) > width:
        piece = piece.copy()
        piece.truncate(max(1, width), overflow="ellipsis")
    return piece


def _rejoin(words: list[Text], width: int) -> list[Text]:
    """``words`` joined by spaces into as few lines of ``width`` cells as they fit.

    A name and its value ("Max Memory" / "10/128 MB") part where the value starts (its first
    word with a digit), so that a number keeps its unit; else as words wrap.
    """
    value = next((i for i, w in enumerate(words) if any(c.isdigit() for c in w.plain)), 0)
    if value:
        head, tail = Text(" ").join(words[:value]), Text(" ").join(words[value:])
        if cell_len(head.plain) <= width and cell_len(tail.plain) <= width:
            return [head, tail]
    lines = [words[0]]
    for word in words[1:]:
        if cell_len(lines[-1].plain) + 1 + cell_len(word.plain) <= width:
            lines[-1] = Text.assemble(lines[-1], " ", word)
        else:
            lines.append(word)
    return lines


class FieldStatic(Static):
    """A Static whose Text content wraps between fields (see ``pack``), at its current width."""

    # the container's width, not its content's: the fields are laid out to fit the width
    DEFAULT_CSS = "FieldStatic { width: 1fr; }"

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        self._source: Text | None = content if isinstance(content, Text) else None
        super().__init__(content, **kwargs)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        """Show ``content``; a Text is laid out as fields (other content as Static does)."""
        self._source = content if isinstance(content, Text) else None
        self._show(layout=layout)

    def _show(self, *, layout: bool = True) -> None:
        if self._source is None:
            return
        width = self.size.width  # the content's, without the padding (a Resize's includes it)
        # before the first layout there is no width yet: one line each, laid out on resize
        super().update(pack(self._source, width if width > 0 else 10_000), layout=layout)

    def on_resize(self, _event: events.Resize) -> None:
        self._show()
