"""Helpers for Pilot tests: wait on the app's state, never on a fixed sleep."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from tests.helpers import until


async def wait_until(
    pilot: Pilot,
    check: Callable[[], object],
    timeout: float = 15.0,
    step: float = 0.02,
    explain: Callable[[], object] | None = None,
) -> None:
    """Let the app run until ``check()`` is true; fail after ``timeout`` seconds (saying
    ``explain()``, if given).

    ``until`` pausing with ``pilot.pause``, so the app keeps handling its messages meanwhile.
    """
    await until(check, "the app", timeout=timeout, step=step, pause=pilot.pause, explain=explain)


async def palette_offers(pilot: Pilot, typed: str) -> None:
    """Until the command palette has gathered its matches for ``typed`` and highlights one that
    contains it, so ``enter`` runs it: the search runs in a worker and fills the list in
    batches, and a fixed pause could press ``enter`` on an older list."""
    app = pilot.app

    def ready() -> bool:
        palette = app.screen
        if not isinstance(palette, CommandPalette):
            return False
        group = CommandPalette._GATHER_COMMANDS_GROUP
        if any(w.group == group and not w.is_finished for w in app.workers):
            return False
        commands = palette.query_one(CommandList)
        if commands.highlighted is None:
            return False
        prompt = commands.get_option_at_index(commands.highlighted).prompt
        return typed.lower() in str(prompt).lower()

    await wait_until(pilot, ready)
