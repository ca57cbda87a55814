"""`?`: every binding with its key in force (after the user's keymap) and what it does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cascade_tui.ui.bindings import key_help

EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "move between panels"),
    ("↑ ↓ / home", "select an asset in the scores table / follow the top (alarm) row again"),
    ("ctrl+p", "command palette (every action above)"),
    ("escape", "close this help / a dialog"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        table = self.key_table()
        with VerticalScroll(id="help-body") as body:
            body.border_title = "cascade-tui · keys"
            body.border_subtitle = "escape to close"
            yield Static(
                Text(
                    "Levels: WATCH < WARNING < CRITICAL. WARNING opens on a burst of large liquidations, or when "
                    "the 0–1 score crosses its threshold with the gates passing; CRITICAL also needs a price move. "
                    "Each signal's why says which. ◐ marks sampled feeds (counts are lower bounds).\n",
                    style="italic",
                )
            )
            yield Static(table)

    def key_table(self) -> Table:
        """Every binding with the key in force, then the keys Textual itself provides."""
        table = Table(box=None, expand=True, padding=(0, 2), show_edge=False)
        table.add_column("key", style="bold", no_wrap=True, min_width=15)
        table.add_column("action", ratio=1)
        table.add_column(Text("binding id (for [ui.keymap])"), style="dim", no_wrap=True)
        for row in key_help(self.keymap):
            table.add_row(row.keys, row.description, row.binding_id)
        for keys, what in EXTRA_KEYS:
            table.add_row(keys, what, "")
        return table

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
