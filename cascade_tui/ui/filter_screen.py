"""`/`: filter the signal log by asset (empty = show all)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class FilterScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-body") as body:
            body.border_title = "Filter signals by asset"
            yield Label("asset (e.g. BTC, ETH, * for market-wide); empty shows all")
            yield Input(self.current, placeholder="BTC", id="filter-input", max_length=12)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip().upper())

    def action_cancel(self) -> None:
        self.dismiss(None)
