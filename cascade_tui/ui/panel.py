"""Base class of the dashboard panels: focusable, bordered, repainted from a snapshot."""

from __future__ import annotations

from textual.widget import Widget

from cascade_tui.engine.types import Snapshot
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.view_state import ViewState


class Panel(Widget, can_focus=True):
    """A panel renders itself from the latest snapshot plus the user's view choices.

    `show()` only stores the snapshot and asks for a repaint (no layout pass), so applying a
    frame costs one render of each changed panel.
    """

    def __init__(self, view: ViewState, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view = view
        self.snapshot: Snapshot | None = None
        self._rows = -1

    @property
    def palette(self) -> Palette:
        return Palette(self.app.theme_variables)

    def show(self, snapshot: Snapshot | None) -> None:
        # a panel sized by its content (height: auto) needs a layout pass when its row
        # count changes, e.g. from "no data yet" to one row per venue; otherwise repaint only
        rows = self.row_count(snapshot)
        relayout = rows != self._rows
        self._rows = rows
        self.snapshot = snapshot
        self.update_titles()
        self.refresh(layout=relayout)

    def row_count(self, snapshot: Snapshot | None) -> int:
        """How many rows the panel's content has (override for panels whose height varies)."""
        return 0

    def update_titles(self) -> None:
        """Set border title/subtitle from the view state (override where they change)."""
