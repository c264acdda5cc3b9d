"""The app's versions-and-aliases actions: publish, create, edit and delete an alias.

A mixin of ``WorkbenchApp`` (as the engine mixes in its registry API): the dialogs in
``screens/`` collect what the user wants, these methods ask the engine and say what happened.
The engine's refusals (``LambdaError``) come back as text for the dialog to show; nothing here
raises into Textual.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..engine import LambdaError
from .registry_view import configured_split
from .screens.alias import AliasDialog, AliasRequest, ConfirmAliasDelete
from .screens.publish import PublishPrompt
from .widgets.functions import AliasRow, FunctionsPane, VersionRow

if TYPE_CHECKING:
    from .app import WorkbenchApp


def refusal(error: LambdaError) -> str:
    return f"{error.code}: {error.message}"


class VersionActions:
    """Publish and alias actions of the selected function (keys on the functions pane)."""

    def _selection(self: WorkbenchApp) -> FunctionsPane | None:
        """The functions pane, if a function is selected and no dialog is open."""
        if self.screen is not self.screen_stack[0]:
            return None
        pane = self.query_one(FunctionsPane)
        if pane.selected is None:
            self.notify("No function selected.", severity="warning")
            return None
        return pane

    # ----------------------------------------------------------------- publish

    def action_publish(self: WorkbenchApp) -> None:
        """Publish the selected function's ``$LATEST`` as a new version (asks a description)."""
        pane = self._selection()
        if pane is None:
            return
        name = pane.selected
        assert name is not None
        if name not in self.engine.functions:
            self.notify(
                f"{name} cannot be published: its function.toml is invalid. Fix it first.",
                title="Not published",
                severity="error",
            )
            return
        versions = self.registry_view.versions(name)
        last = versions[-1] if versions else None
        problem = self.engine.problem(name)
        warning = None
        if problem is not None:
            warning = f"The latest save does not compile ({problem}); it would be published as is."
        self.push_screen(PublishPrompt(name, last, partial(self._publish, name), warning))

    async def _publish(self: WorkbenchApp, name: str, description: str | None) -> str | None:
        try:
            version, created = await self.engine.publish(name, description)
        except LambdaError as e:  # unreadable code or a full disk too (the code store says so)
            return refusal(e)
        self.registry_view.invalidate(name)
        self.refresh_functions()
        self.query_one(FunctionsPane).select(f"{name}:{version.number}")
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

    # ----------------------------------------------------------------- aliases

    def action_new_alias(self: WorkbenchApp) -> None:
        """Create an alias of the selected function (a selected version is its default)."""
        pane = self._selection()
        if pane is None:
            return
        name = pane.selected
        assert name is not None
        row = pane.selected_row
        version = row.qualifier if isinstance(row, VersionRow) else None
        if isinstance(row, AliasRow):
            version = row.alias.function_version
        dialog = AliasDialog(
            name, self.registry_view.versions(name), self._apply_alias, version=version
        )
        self.push_screen(dialog, partial(self._alias_done, name, "Created"))

    def _selected_alias(self: WorkbenchApp, doing: str) -> AliasRow | None:
        pane = self._selection()
        if pane is None:
            return None
        row = pane.selected_row
        if not isinstance(row, AliasRow):
            self.notify(
                f"Select an alias (an @name row under a function) to {doing} it.",
                severity="warning",
            )
            return None
        return row

    def action_edit_alias(self: WorkbenchApp) -> None:
        """Change the selected alias: its version, additional version and weight, description."""
        row = self._selected_alias("edit")
        if row is None:
            return
        versions = self.registry_view.versions(row.function)
        dialog = AliasDialog(row.function, versions, self._apply_alias, alias=row.alias)
        self.push_screen(dialog, partial(self._alias_done, row.function, "Updated"))

    def _apply_alias(self: WorkbenchApp, request: AliasRequest) -> str | None:
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
        self.registry_view.invalidate(request.function)
        return None

    def _alias_done(self: WorkbenchApp, function: str, done: str, alias: str | None) -> None:
        if alias is None:
            return
        self.refresh_functions()
        self.query_one(FunctionsPane).select(f"{function}:{alias}")
        found = self.registry_view.alias(function, alias)
        where = f" {configured_split(found)}" if found else ""
        self.notify(f"{done} the alias {alias} of {function}{where}.", title="Alias", markup=False)

    def action_delete_alias(self: WorkbenchApp) -> None:
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
            self.registry_view.invalidate(function)
            self.refresh_functions()
            self.notify(f"Deleted the alias {alias} of {function}.", title="Alias", markup=False)

        self.push_screen(ConfirmAliasDelete(function, alias), delete)
