"""The app's re-run on save: ``w`` on the functions pane toggles it for the selected function.

A mixin of ``WorkbenchApp``, as ``source_actions.py`` is. While it is on, an
``engine.rerun.RerunOnSave`` follows the function's reloads and invokes its last event again
after each good save: the event the TUI last invoked it with, else its newest stored record's,
else ``{}``. Its reports come here as messages; the response pane then shows the new response
beside the previous one (the compare view) until the next ordinary invocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from ..engine import InvokeResult
from ..engine.invoke import (
    BROKEN,
    FINISHED,
    REFUSED,
    STARTED,
    RerunOnSave,
    RerunReport,
    Response,
    diff_responses,
    relative_files,
)
from .widgets.functions import FunctionsPane
from .widgets.response import ResponsePane

if TYPE_CHECKING:
    from .app import WorkbenchApp


@dataclass
class RerunReported(Message):
    """A re-run on save started, finished, or did not run (posted from the engine's side)."""

    report: RerunReport


class RerunActions:
    """Re-run on save per function (the functions pane's ``w``)."""

    def _init_rerun(self: WorkbenchApp) -> None:
        self._reruns: dict[str, RerunOnSave] = {}
        self._rerun_events: dict[str, bytes] = {}  # function -> the event the TUI last sent
        self._rerun_previous: dict[str, Response] = {}  # function -> the response last shown

    def rerun_names(self: WorkbenchApp) -> frozenset[str]:
        """The functions re-run on save (their rows show it)."""
        return frozenset(self._reruns)

    def rerun_saw(self: WorkbenchApp, result: InvokeResult) -> None:
        """The TUI invoked a function (its version, alias, or a replay of it): its event is
        the one to re-run, its response the one the next re-run is compared with."""
        function = result.record.function
        event = result.record.event()
        if event is not None:
            self._rerun_events[function] = event
            if function in self._reruns:
                self._reruns[function].event = event
        self._rerun_previous[function] = Response.of(result)

    def reruns_invoking(self: WorkbenchApp) -> bool:
        return any(rerun.invoking for rerun in self._reruns.values())

    def cancel_reruns(self: WorkbenchApp) -> None:
        """escape: stop the re-runs running now (each reports itself cancelled)."""
        for rerun in self._reruns.values():
            rerun.cancel_run()

    def action_toggle_rerun(self: WorkbenchApp) -> None:
        """Turn re-run on save on or off for the selected function."""
        if self.screen is not self.screen_stack[0]:
            return
        name = self.query_one(FunctionsPane).selected
        if name is None:
            self.notify("No function selected.", severity="warning")
            return
        running = self._reruns.pop(name, None)
        if running is not None:
            running.close()
            self.notify(f"Re-run on save is off for {name}.", title="Re-run on save")
            self.refresh_functions()
            return
        event = self._rerun_events.get(name)
        rerun = RerunOnSave(self.engine, name, self._post_rerun, event=event)
        if name not in self._rerun_previous and self.engine.store is not None:
            newest = self.engine.store.recent(name, 1)
            if newest:  # compare the first re-run with what it did last
                self._rerun_previous[name] = Response.of_record(newest[0])
        self._reruns[name] = rerun.start()
        what = "the event you last invoked it with" if event is not None else "its last event"
        self.notify(
            f"On for {name}: after each save of its code it runs {what} again and shows the "
            "new response beside the previous one. w turns it off.",
            title="Re-run on save",
        )
        self.refresh_functions()

    def _post_rerun(self: WorkbenchApp, report: RerunReport) -> None:
        self.post_message(RerunReported(report))

    def on_rerun_reported(self: WorkbenchApp, message: RerunReported) -> None:
        report = message.report
        name = report.function
        if name not in self._reruns or not self.is_running:  # turned off meanwhile
            return
        pane = self.query_one(ResponsePane)
        fn = self.engine.functions.get(name)
        saved = ", ".join(relative_files(report.files, fn.folder)) if fn else ""
        if report.kind == STARTED:
            pane.running(name)
        elif report.kind == FINISHED:
            assert report.result is not None
            now = Response.of(report.result)
            previous = self._rerun_previous.get(name)
            self._rerun_previous[name] = now
            if previous is None:
                pane.show_result(name, report.result)
            else:
                note = "↻ re-run on save" + (f" after {saved}" if saved else "")
                pane.show_compare(name, report.result, diff_responses(previous, now), note)
        elif report.kind == BROKEN:
            assert report.problem is not None
            pane.show_refusal(
                name, f"Not re-run: the save broke it.\n{report.problem}\nSave a fix to re-run."
            )
        elif report.kind == REFUSED:
            pane.show_refusal(name, f"Not re-run: {report.message}")
