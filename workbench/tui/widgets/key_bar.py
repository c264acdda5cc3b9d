"""The key bar at the bottom of every screen: the keys that work now, in one line.

Textual's ``Footer`` recomposes itself on every focus change — one widget per key, each mounted
and styled — which made a pane key (``1``–``5``) take ~250 ms to show its focus on an idle
machine. This bar is one widget that redraws one line of text when the screen's bindings change.
It shows what Textual's footer shows (the focused widget's keys, then its ancestors', then the
app's; one key per action; disabled ones dimmed), cuts what does not fit with "…" instead of
scrolling, and keeps the command palette's and the help key's places at the right. A click on a
key presses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

GAP = "  "
MORE = "…"
LEAD = ("invoke",)  # kept at the left: the workbench's main key
TAIL = ("help", "command_palette")  # kept at the right (f1 lists every key)


@dataclass(frozen=True, slots=True)
class ShownKey:
    key: str  # what a click presses
    display: str  # how the key reads (^r, f1)
    description: str
    enabled: bool
    action: str

    @property
    def place(self) -> str:
        """ "lead" (first), "tail" (at the right end) or "" (in between, while they fit)."""
        action = self.action.removeprefix("app.")
        return "lead" if action in LEAD else "tail" if action in TAIL else ""


def _shown(screen: Screen[object], binding: Binding, enabled: bool) -> ShownKey:
    display = screen.app.get_key_display(binding)
    return ShownKey(binding.key, display, binding.description, enabled, binding.action)


def shown_keys(screen: Screen[object]) -> list[ShownKey]:
    """The keys Textual's footer would show for ``screen`` now, one per action, in its order,
    and the command palette's key last."""
    keys: list[ShownKey] = []
    actions: set[str] = set()
    active = screen.active_bindings
    for _node, binding, enabled, _tooltip in active.values():
        if not binding.show or binding.action in actions:
            continue
        actions.add(binding.action)
        keys.append(_shown(screen, binding, enabled))
    app = screen.app
    palette = active.get(app.COMMAND_PALETTE_BINDING)
    if app.ENABLE_COMMAND_PALETTE and palette is not None and palette[1].action not in actions:
        keys.append(_shown(screen, palette[1], palette[2]))
    return keys


def arrange(
    keys: list[ShownKey], pinned: list[ShownKey], width: int
) -> list[tuple[ShownKey | None, int, int]]:
    """Where each key goes on a line ``width`` wide: (key, start, end) in order, the pinned
    ones at the right end; None marks the "…" of keys that did not fit."""

    def size(key: ShownKey) -> int:
        return len(key.display) + (1 + len(key.description) if key.description else 0)

    right = sum(size(k) for k in pinned) + len(GAP) * len(pinned)
    placed: list[tuple[ShownKey | None, int, int]] = []
    x = 1
    room = width - right
    for i, key in enumerate(keys):
        end = x + size(key)
        last = i == len(keys) - 1
        if end > room - (0 if last else len(GAP) + len(MORE)):
            placed.append((None, x, x + len(MORE)))
            break
        placed.append((key, x, end))
        x = end + len(GAP)
    x = max(x, width - right + len(GAP) - 1)
    for key in pinned:
        end = x + size(key)
        if end > width:
            break
        placed.append((key, x, end))
        x = end + len(GAP)
    return placed


class KeyBar(Widget):
    """One line of the keys that work now (in place of Textual's ``Footer``)."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def __init__(
        self,
        *,
        id: str | None = None,  # noqa: A002 (Textual's name)
        lead: tuple[str, ...] = LEAD,
    ) -> None:
        """``lead``: the actions kept at the left (a screen that is not the workbench's, the
        record screen, puts its own keys first)."""
        super().__init__(id=id)
        self._lead = lead
        self._keys: list[ShownKey] = []
        self._pinned: list[ShownKey] = []
        self._placed: list[tuple[ShownKey | None, int, int]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._read(self.screen)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self._read(screen)

    def _read(self, screen: Screen[object]) -> None:
        keys = shown_keys(screen)
        pinned = [k for k in keys if k.place == "tail"]
        first = [k for k in keys if k.action.removeprefix("app.") in self._lead]
        rest = first + [k for k in keys if k not in first and k.place != "tail"]
        if (rest, pinned) != (self._keys, self._pinned):
            self._keys, self._pinned = rest, pinned
            self.refresh()

    def render(self) -> Content:
        self._placed = arrange(self._keys, self._pinned, self.size.width)
        parts: list[Content | tuple[str, str] | str] = []
        x = 0
        for key, start, end in self._placed:
            parts.append(" " * (start - x))
            if key is None:
                parts.append((MORE, "dim"))
            else:
                style = "" if key.enabled else "dim"
                parts.append((key.display, f"bold $footer-key-foreground {style}".strip()))
                if key.description:
                    parts.append((" " + key.description, style))
            x = end
        return Content.assemble(*parts)

    def on_click(self, event: events.Click) -> None:
        for key, start, end in self._placed:
            if key is not None and start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return

    @property
    def texts(self) -> list[str]:
        """The keys as shown ("^r Invoke"), for tests and the help screen."""
        return [
            f"{key.display} {key.description}".strip()
            for key, _s, _e in self._placed
            if key is not None
        ]
