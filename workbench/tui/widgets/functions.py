"""The functions pane: every function with its settings and live state, broken ones included,
and under each its published versions and aliases. The selected row is what ctrl+r invokes.

Its keys act on the selected function: publish a version, create, edit or delete an alias
(the dialogs in ``dialogs/`` collect what the user wants, the engine's refusals come back as
text for the dialog to show; nothing here raises into Textual), and re-run on save, which it
asks of the screen (``RerunToggled``): the re-runs are shared with the invocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from ...engine import Engine, LambdaError
from ..dialogs.alias import AliasDialog, AliasRequest, ConfirmAliasDelete
from ..dialogs.configure import ConfigureDialog
from ..dialogs.publish import PublishPrompt
from ..fields import FieldStatic
from ..function_settings import apply_settings, read_only_reason, settings_of
from ..registry_view import RegistryView, configured_split
from .function_rows import (
    STATUS_STYLES,
    AliasRow,
    FunctionRow,
    Row,
    VersionRow,
    cells,
    detail,
    flatten,
    function_rows,
)
from .kept_table import KeptTable

__all__ = [
    "STATUS_STYLES",
    "AliasRow",
    "FunctionRow",
    "FunctionsPane",
    "VersionRow",
    "function_rows",
]

# memory and timeout are in the detail below: the statuses need the width
COLUMNS = ("name", "runtime", "warm", "last")
LABELS = {"name": "Function", "runtime": "Runtime", "warm": "Warm", "last": "Last"}
# Narrower than this (the pane at 80 columns), the table shows names only: a runtime cut to
# "python3." reads as nothing, and the detail below the table says the runtime anyway. Zoomed
# (ctrl+g), the pane is wide again and shows every column.
NAMES_ONLY_BELOW = 48


def refusal(error: LambdaError) -> str:
    return f"{error.code}: {error.message}"


def _same(a: object, b: object) -> bool:
    """Rich's ``Text ==`` ignores the style: a cell that only changed colour is a change."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, str(a.style), a.spans) == (b.plain, str(b.style), b.spans)
    return type(a) is type(b) and a == b


class FunctionsPane(Vertical):
    """A table of functions, versions and aliases; the selected row's details below it."""

    BINDINGS = [
        Binding(
            "p",
            "publish",
            "Publish",
            id="publish",
            tooltip="Publish the selected function's $LATEST as a new version",
        ),
        Binding(
            "a",
            "new_alias",
            "New alias",
            id="new-alias",
            tooltip="Create an alias of the selected function, with an optional weight",
        ),
        Binding(
            "e",
            "edit_alias",
            "Edit alias",
            id="edit-alias",
            tooltip="Change the selected alias: its version, weight, description",
        ),
        Binding(
            "d",
            "delete_alias",
            "Delete alias",
            id="delete-alias",
            tooltip="Delete the selected alias (asks first)",
        ),
        Binding(
            "c",
            "configure",
            "Configure",
            id="configure",
            tooltip="Edit the selected function's memory, timeout, /tmp, reserved concurrency "
            "and environment variables (written into its function.toml)",
        ),
        Binding(
            "w",
            "toggle_rerun",
            "Re-run on save",
            id="rerun-on-save",
            tooltip="Toggle re-run on save: invoke the selected function's last event now and "
            "again after each save, showing the new response beside the previous one",
        ),
        Binding(
            "b",
            "toggle_debug_api",
            "Debug API calls",
            id="debug-api-calls",
            tooltip="Toggle whether a breakpoint() reached by a Lambda API or HTTP route call "
            "stops in the debugger (its caller waits meanwhile); off, it is skipped with a "
            "warning on the log, as under serve",
        ),
    ]

    @dataclass
    class Selected(Message):
        name: str
        qualifier: str | None  # a version number or alias name; None: the function ($LATEST)

    @dataclass
    class RerunToggled(Message):
        """``w``: turn re-run on save on or off for ``function``."""

        function: str

    def __init__(self, engine: Engine, registry: RegistryView, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.engine = engine
        self.registry = registry
        self.rerun_names: frozenset[str] = frozenset()  # set by the screen: their rows say so
        self.rows: list[FunctionRow] = []
        self._flat: list[Row] = []
        self._announced: str | None = None  # the key of the last Selected message
        self._drawn: dict[str, tuple[object, ...]] = {}  # the cells on screen, by row key
        self.columns: tuple[str, ...] = COLUMNS  # the ones shown (names only when narrow)

    def compose(self) -> ComposeResult:
        table = KeptTable(id="functions-table", cursor_type="row")  # a focus change redraws less
        for key in self.columns:
            table.add_column(LABELS[key], key=key)
        yield table
        yield FieldStatic(id="function-detail")

    @property
    def selected_key(self) -> str | None:
        """``name``, ``name:3`` or ``name:live``: what ctrl+r invokes.

        Read from the table's cursor, which a key moves at once (the highlight message that
        follows may not have arrived when the next key's action runs).
        """
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key
        except CellDoesNotExist:
            return None
        return None if key.value is None else str(key.value)

    @property
    def selected(self) -> str | None:
        """The selected row's function."""
        key = self.selected_key
        return None if key is None else key.partition(":")[0]

    @property
    def qualifier(self) -> str | None:
        """The selected version number or alias name; None when a function row is selected."""
        key = self.selected_key
        return None if key is None else (key.partition(":")[2] or None)

    @property
    def selected_row(self) -> Row | None:
        key = self.selected_key
        return next((r for r in self._flat if r.key == key), None)

    def all_rows(self) -> list[Row]:
        """Every row in table order."""
        return list(self._flat)

    def refresh_rows(self) -> None:
        """Redraw from the engine and the registry (on every batch of engine events)."""
        self.show(function_rows(self.engine, self.registry, self.rerun_names))

    def show(self, rows: list[FunctionRow]) -> None:
        """Redraw from ``rows``, keeping the selection (the first function at start).

        A selected version or alias that is gone falls back to its function.
        """
        table = self.query_one(DataTable)
        flat = flatten(rows)
        changed_keys = [r.key for r in flat] != [r.key for r in self._flat]
        current = self.selected_key  # before a rebuild moves the cursor
        self.rows, self._flat = rows, flat
        drawn = self._cells(rows, flat)
        if changed_keys:
            with table.prevent(DataTable.RowHighlighted):  # no selection jumps while rebuilding
                table.clear()
                for row in flat:
                    table.add_row(*drawn[row.key], key=row.key)
        else:  # redrawn on every batch of engine events: touch only the cells that changed
            for row in flat:
                before = self._drawn.get(row.key, ())
                for i, (key, cell) in enumerate(zip(self.columns, drawn[row.key], strict=True)):
                    if i >= len(before) or not _same(before[i], cell):
                        table.update_cell(row.key, key, cell, update_width=True)
        self._drawn = drawn
        keys = [r.key for r in flat]
        if current in keys:
            if changed_keys:
                self.select(current)
            else:
                self._show_detail()
        elif current and current.partition(":")[0] in keys:  # its version or alias is gone
            self.select(current.partition(":")[0])
        elif rows:
            self.select(rows[0].key)
        else:
            self._show_detail()

    def select(self, key: str) -> None:
        """Select a function (``name``), a version (``name:3``) or an alias (``name:live``)."""
        table = self.query_one(DataTable)
        try:
            index = table.get_row_index(key)
        except Exception:  # noqa: BLE001 - a row that just disappeared
            return
        with table.prevent(DataTable.RowHighlighted):
            table.move_cursor(row=index)
        self._set_selected(key)

    def _set_selected(self, key: str) -> None:
        if key != self._announced:
            self._announced = key
            name, _, qualifier = key.partition(":")
            self.post_message(self.Selected(name, qualifier or None))
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.selected_row
        self.query_one("#function-detail", Static).update("" if row is None else detail(row))

    def on_resize(self, event: events.Resize) -> None:
        """Names only below ``NAMES_ONLY_BELOW`` columns, every column from there (or zoomed)."""
        columns = COLUMNS[:1] if event.size.width < NAMES_ONLY_BELOW else COLUMNS
        if columns == self.columns:
            return
        self.columns = columns
        table = self.query_one(DataTable)
        current = self.selected_key  # before the rows go
        table.clear(columns=True)
        for key in columns:
            table.add_column(LABELS[key], key=key)
        self._drawn = self._cells(self.rows, self._flat)
        with table.prevent(DataTable.RowHighlighted):  # the same row stays selected
            for row in self._flat:
                table.add_row(*self._drawn[row.key], key=row.key)
            if current is not None:
                table.move_cursor(row=table.get_row_index(current))

    def _cells(self, rows: list[FunctionRow], flat: list[Row]) -> dict[str, tuple[object, ...]]:
        """Each row's cells, by row key, in the columns shown."""
        last_children = {r.children[-1].key for r in rows if r.children}
        shown = [COLUMNS.index(c) for c in self.columns]
        drawn = {}
        for row in flat:
            full = cells(row, row.key in last_children)
            drawn[row.key] = tuple(full[i] for i in shown)
        return drawn

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self._set_selected(str(event.row_key.value))

    # ----------------------------------------------------------------- actions

    def _selected_function(self) -> str | None:
        """The selected row's function, if no dialog is open (else None, said if unselected)."""
        if not self.screen.is_active:
            return None
        if self.selected is None:
            self.notify("No function selected.", severity="warning")
        return self.selected

    def action_toggle_rerun(self) -> None:
        """Turn re-run on save on or off for the selected function."""
        name = self._selected_function()
        if name is not None:
            self.post_message(self.RerunToggled(name))

    def action_toggle_debug_api(self) -> None:
        """Let a breakpoint of the selected function's API calls stop in the debugger, or not."""
        name = self._selected_function()
        if name is None:
            return
        chosen = self.engine.debugger.debug_api
        if name in chosen:
            chosen.discard(name)
            said = f"Off for {name}: a breakpoint() reached by an API call is skipped."
        else:
            chosen.add(name)
            said = (
                f"On for {name}: a breakpoint() reached by a Lambda API or HTTP route call stops "
                "in the debugger, and its caller waits until you go on. b turns it off."
            )
        self.notify(said, title="Debug API calls")
        self.refresh_rows()

    def action_publish(self) -> None:
        """Publish the selected function's ``$LATEST`` as a new version (asks a description)."""
        name = self._selected_function()
        if name is None:
            return
        if name not in self.engine.functions:
            self.notify(
                f"{name} cannot be published: its function.toml is invalid. Fix it first.",
                title="Not published",
                severity="error",
            )
            return
        versions = self.registry.versions(name)
        last = versions[-1] if versions else None
        problem = self.engine.problem(name)
        warning = None
        if problem is not None:
            warning = f"The latest save does not compile ({problem}); it would be published as is."
        self.app.push_screen(PublishPrompt(name, last, partial(self.publish, name), warning))

    async def publish(self, name: str, description: str | None) -> str | None:
        """Publish ``name``; the engine's refusal as text (for the dialog), or None."""
        try:
            version, created = await self.engine.publish(name, description)
        except LambdaError as e:  # unreadable code or a full disk too (the code store says so)
            return refusal(e)
        self.registry.invalidate(name)
        self.refresh_rows()
        self.select(f"{name}:{version.number}")
        if created:
            self.notify(
                f"Published {name} version {version.number}.", title="Published", markup=False
            )
        else:
            self.notify(
                f"No change since version {version.number}: {name}'s code and configuration "
                "are the same, so no new version was made.",
                title="Nothing to publish",
                markup=False,
            )
        return None

    def action_configure(self) -> None:
        """Edit the selected function's settings in a dialog (read-only for a template's)."""
        name = self._selected_function()
        if name is None:
            return
        fn = self.engine.functions.get(name)
        if fn is None:
            self.notify(
                f"{name} cannot be configured here: its function.toml is invalid. Fix it first.",
                title="Not configurable",
                severity="error",
            )
            return
        current = settings_of(fn)

        def done(saved: bool | None) -> None:
            if saved:
                self.refresh_rows()
                self.notify(f"Saved {name}'s settings.", title="Configured", markup=False)

        dialog = ConfigureDialog(
            name,
            current,
            partial(apply_settings, self.engine, name, current),
            read_only=read_only_reason(fn),
        )
        self.app.push_screen(dialog, done)

    def action_new_alias(self) -> None:
        """Create an alias of the selected function (a selected version is its default)."""
        name = self._selected_function()
        if name is None:
            return
        row = self.selected_row
        version = row.qualifier if isinstance(row, VersionRow) else None
        if isinstance(row, AliasRow):
            version = row.alias.function_version
        dialog = AliasDialog(name, self.registry.versions(name), self.apply_alias, version=version)
        self.app.push_screen(dialog, partial(self._alias_done, name, "Created"))

    def _selected_alias(self, doing: str) -> AliasRow | None:
        if self._selected_function() is None:
            return None
        row = self.selected_row
        if not isinstance(row, AliasRow):
            self.notify(
                f"Select an alias (an @name row under a function) to {doing} it.",
                severity="warning",
            )
            return None
        return row

    def action_edit_alias(self) -> None:
        """Change the selected alias: its version, additional version and weight, description."""
        row = self._selected_alias("edit")
        if row is None:
            return
        versions = self.registry.versions(row.function)
        dialog = AliasDialog(row.function, versions, self.apply_alias, alias=row.alias)
        self.app.push_screen(dialog, partial(self._alias_done, row.function, "Updated"))

    def apply_alias(self, request: AliasRequest) -> str | None:
        """Create or update as the dialog asks; the engine's refusal as text, or None."""
        try:
            if request.editing:
                self.engine.update_alias(
                    request.function,
                    request.name,
                    version=request.version,
                    routing=request.routing,  # {}: no routing any more
                    description=request.description,
                )
            else:
                self.engine.create_alias(
                    request.function,
                    request.name,
                    request.version,
                    routing=request.routing or None,
                    description=request.description,
                )
        except LambdaError as e:
            return refusal(e)
        self.registry.invalidate(request.function)
        return None

    def _alias_done(self, function: str, done: str, alias: str | None) -> None:
        if alias is None:
            return
        self.refresh_rows()
        self.select(f"{function}:{alias}")
        found = self.registry.alias(function, alias)
        where = f" {configured_split(found)}" if found else ""
        self.notify(f"{done} the alias {alias} of {function}{where}.", title="Alias", markup=False)

    def action_delete_alias(self) -> None:
        """Delete the selected alias, after asking."""
        row = self._selected_alias("delete")
        if row is None:
            return
        function, alias = row.function, row.alias.name

        def delete(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.engine.delete_alias(function, alias)
            except LambdaError as e:
                self.notify(refusal(e), title="Not deleted", severity="error", markup=False)
                return
            self.registry.invalidate(function)
            self.refresh_rows()
            self.notify(f"Deleted the alias {alias} of {function}.", title="Alias", markup=False)

        self.app.push_screen(ConfirmAliasDelete(function, alias), delete)
