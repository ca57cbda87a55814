"""`t`: edit every threshold, gate, weight and normalizer; invalid values are refused.

The editor returns a new, validated `EngineParams` (or None on cancel); the app hands it to
the pipeline. Nothing is applied until every field parses and `params.validate` accepts the
whole set, so a half-typed value can never reach the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label

from cascade_tui.engine.params import REGIMES, EngineParams, ParamError, validate

NUMBER_CHARS = r"[0-9eE+\-._]*"

EDITABLE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("fast", "Fast path: the burst test that raises WARNING"),
    ("thresholds", "Level thresholds (score 0–1: WATCH; the score holds WARNING, speaks for CRITICAL)"),
    ("gates", "Gates (the score holds an open WARNING only through them)"),
    ("weights", "Factor weights (0–1)"),
    ("normalizers", "Normalizers (> 0)"),
    ("regime", "Volatility regime (thresholds × factor per regime)"),
    ("market", "Market-wide cascade"),
)


@dataclass(frozen=True)
class Field:
    dotted: str  # e.g. "gates.usd_floor.BTC"
    value: float | int
    is_int: bool


def _plain(params: EngineParams) -> dict[str, Any]:
    """Params as JSON-like data (tuples become lists, so elements can be replaced)."""
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(params))
    return data


def editable_fields(params: EngineParams) -> list[Field]:
    data = _plain(params)
    fields: list[Field] = []
    for section, _ in EDITABLE_SECTIONS:
        for key, value in data[section].items():
            if isinstance(value, dict):
                fields += [Field(f"{section}.{key}.{k}", v, False) for k, v in value.items()]
            elif isinstance(value, list):  # e.g. regime.enter: one box per element
                fields += [Field(f"{section}.{key}.{i}", v, isinstance(v, int)) for i, v in enumerate(value)]
            elif isinstance(value, int | float) and not isinstance(value, bool):
                fields.append(Field(f"{section}.{key}", value, isinstance(value, int)))
    return fields


def field_label(dotted: str) -> str:
    """What the box is called in the editor: the key under its section, regimes by name."""
    section_key = dotted.split(".", 1)[1]
    if section_key.startswith("enter."):  # regime.enter holds LOW, NORMAL, HIGH, EXTREME
        return f"enter {REGIMES[int(section_key.split('.')[1]) + 1]} (σ annual.)"
    return section_key


def format_value(value: float | int) -> str:
    """Short and plain: 2000000 rather than 2e+06, 2.99573 for ln 20."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.6g}"


def build_params(base: EngineParams, entered: dict[str, str]) -> EngineParams:
    """New params from text entries keyed by dotted name. Raises ParamError naming the key."""
    data = _plain(base)
    ints = {f.dotted for f in editable_fields(base) if f.is_int}
    for dotted, raw in entered.items():
        text = raw.strip().replace("_", "")
        try:
            value: float | int = int(text) if dotted in ints else float(text)
        except ValueError:
            kind = "a whole number" if dotted in ints else "a number"
            raise ParamError(f"{dotted}: {raw.strip() or 'empty'!r} is not {kind}") from None
        if isinstance(value, float) and value != value:  # NaN would slip through comparisons
            raise ParamError(f"{dotted}: not a number")
        node: Any = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    try:
        params = msgspec.convert(data, EngineParams)
    except msgspec.ValidationError as exc:
        raise ParamError(str(exc)) from None
    return validate(params)


def changed_keys(old: EngineParams, new: EngineParams) -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every leaf value that differs."""
    out: list[tuple[str, Any, Any]] = []

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{prefix}.{i}")
        elif a != b:
            out.append((prefix, a, b))

    walk(_plain(old), _plain(new), "")
    return out


class ThresholdEditor(ModalScreen[EngineParams | None]):
    """One table of every knob and one box that edits the highlighted row: the table opens
    at once, where a box per knob took seconds to mount beside a busy engine
    (benchmarks/ui.py `editor_open_s`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "apply", "Apply", show=False),
        # the box keeps the focus; up/down (and page keys) move the table's highlight
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
    ]

    def __init__(self, params: EngineParams) -> None:
        super().__init__()
        self.params = params
        self.fields = editable_fields(params)
        # what each knob shows as it opens, and what the user has typed since
        self._original = {f.dotted: format_value(f.value) for f in self.fields}
        self._texts = dict(self._original)
        self._shown = 0  # index of the field the box edits
        self._titles = dict(EDITABLE_SECTIONS)

    def compose(self) -> ComposeResult:
        with Vertical(id="editor") as frame:
            frame.border_title = "Detection parameters"
            frame.border_subtitle = "↑↓ pick · type · enter apply · esc cancel"
            table: DataTable[str] = DataTable(id="editor-table", cursor_type="row", zebra_stripes=True)
            table.add_column("section", key="section")
            table.add_column("parameter", key="parameter")
            table.add_column("value", key="value")
            table.add_column("", key="changed", width=1)
            for f in self.fields:
                section = f.dotted.split(".", 1)[0]
                table.add_row(section, field_label(f.dotted), self._texts[f.dotted], "", key=f.dotted)
            yield table
            with Horizontal(id="editor-edit"):  # pointed at the first row on mount
                yield Label("", id="editor-caption")
                yield Input(
                    "",
                    id="editor-input",
                    compact=True,
                    select_on_focus=True,
                    # digits and number signs only: a letter (a second `t` pressed while the
                    # editor opens) is ignored instead of replacing the value
                    restrict=NUMBER_CHARS,
                )
            yield Label("", id="editor-section-title")
            yield Label("", id="editor-error")
            with Horizontal(id="editor-buttons"):
                yield Button("Apply", variant="primary", id="editor-apply")
                yield Button("Cancel", id="editor-cancel")

    def on_mount(self) -> None:
        self._show(0)
        self.query_one("#editor-input", Input).focus()

    def _show(self, index: int) -> None:
        """Point the box at field `index` (its text, its caption, its section's title)."""
        if not self.fields:
            return
        index = max(0, min(len(self.fields) - 1, index))
        self._shown = index
        f = self.fields[index]
        self.query_one("#editor-caption", Label).update(field_label(f.dotted))
        self.query_one("#editor-section-title", Label).update(self._titles[f.dotted.split(".", 1)[0]])
        box = self.query_one("#editor-input", Input)
        if box.value != self._texts[f.dotted]:
            box.value = self._texts[f.dotted]
        box.select_all()

    def set_value(self, dotted: str, text: str) -> None:
        """Type `text` as the value of `dotted` (what the box does for the highlighted row)."""
        changed = text.strip() != self._original[dotted]  # KeyError for a knob the editor lacks
        self._texts[dotted] = text
        table = self.query_one("#editor-table", DataTable)
        table.update_cell(dotted, "value", text)
        table.update_cell(dotted, "changed", "•" if changed else "")

    def action_move(self, step: int) -> None:
        table = self.query_one("#editor-table", DataTable)
        table.move_cursor(row=max(0, min(len(self.fields) - 1, table.cursor_row + step)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # a click or enter on the table: edit that row in the box
        self.query_one("#editor-input", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.fields and event.input.id == "editor-input":
            dotted = self.fields[self._shown].dotted
            if event.value != self._texts[dotted]:
                self.set_value(dotted, event.value)

    def entered(self) -> dict[str, str]:
        """Only the fields the user changed: an untouched field keeps its exact value, even
        where the table shows it rounded (ln 20 is displayed as 2.99573)."""
        original = self._original
        return {dotted: text for dotted, text in self._texts.items() if text.strip() != original[dotted]}

    def action_apply(self) -> None:
        try:
            params = build_params(self.params, self.entered())
        except ParamError as exc:
            self.query_one("#editor-error", Label).update(f"✗ {exc} — nothing applied")
            self.query_one("#editor-error", Label).add_class("shown")
            return
        self.dismiss(params)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "editor-apply":
            self.action_apply()
        else:
            self.action_cancel()
