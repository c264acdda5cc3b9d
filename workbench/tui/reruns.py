"""Re-run on save, per function: which functions have it on, and what each is compared with.

While it is on for a function, an engine ``RerunOnSave`` follows the function's reloads and
invokes its last event again after each good save: the event the TUI last invoked it with, else
its newest stored record's, else ``{}``. Its reports go to ``post``; the main screen shows each
new response beside the previous one (the compare view) until the next ordinary invocation.
No Textual here: the state is shared by the functions pane's ``w``, the invocations the user
starts and escape, so it belongs to none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine import Engine, InvokeResult
from ..engine.invoke import RerunOnSave, RerunReport, Response

# the trigger of the run ``w`` starts at once (the runs after saves are the engine's ``rerun``)
FIRST_RUN_TRIGGER = "tui"


class Reruns:
    """The re-runs on save that are on, the last event and response of each function."""

    def __init__(self, engine: Engine, post: Callable[[RerunReport], None]) -> None:
        self.engine = engine
        self._post = post
        self.running: dict[str, RerunOnSave] = {}
        self.events: dict[str, bytes] = {}  # function -> the event the TUI last sent
        self.previous: dict[str, Response] = {}  # function -> the response last shown

    def names(self) -> frozenset[str]:
        """The functions re-run on save (their rows show it)."""
        return frozenset(self.running)

    def saw(self, result: InvokeResult) -> None:
        """The TUI invoked a function (its version, alias, or a replay of it): its event is
        the one to re-run, its response the one the next re-run is compared with."""
        function = result.record.function
        event = result.record.event()
        if event is not None:
            self.events[function] = event
            if function in self.running:
                self.running[function].event = event
        self.previous[function] = Response.of(result)

    def compare(self, function: str, result: InvokeResult) -> tuple[Response | None, Response]:
        """A re-run finished: (the response to compare it with, if any; its own), which the
        next re-run is compared with."""
        now = Response.of(result)
        previous = self.previous.get(function)
        self.previous[function] = now
        return previous, now

    def invoking(self) -> bool:
        return any(rerun.invoking for rerun in self.running.values())

    def cancel(self) -> None:
        """escape: stop the re-runs running now (each reports itself cancelled)."""
        for rerun in self.running.values():
            rerun.cancel_run()

    def toggle(self, name: str) -> str:
        """Turn re-run on save on or off for ``name``; what to tell the user."""
        running = self.running.pop(name, None)
        if running is not None:
            running.close()
            return f"Re-run on save is off for {name}."
        event = self.events.get(name)
        rerun = RerunOnSave(self.engine, name, self._post, event=event)
        if name not in self.previous and self.engine.store is not None:
            newest = self.engine.store.recent(name, 1)
            if newest:  # compare the first re-run with what it did last
                self.previous[name] = Response.of_record(newest[0])
        # it runs once now, as ``workbench watch`` does: what a save will be compared with
        self.running[name] = rerun.start(now=FIRST_RUN_TRIGGER)
        what = "the event you last invoked it with" if event is not None else "its last event"
        return (
            f"On for {name}: it runs {what} now, and again after each save of its code, showing "
            "the new response beside the previous one. w turns it off."
        )
