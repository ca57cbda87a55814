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
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cascade_tui.engine.params import REGIMES, EngineParams, ParamError, validate

NUMBER_CHARS = r"[0-9eE+\-._]*"

EDITABLE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("fast", "Fast path: the burst test that raises WARNING"),
    ("thresholds", "Level thresholds (score 0–1: WATCH, and WARNING from the score)"),
    ("gates", "Gates (needed for a score-raised WARNING)"),
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

    @property
    def widget_id(self) -> str:
        return "field-" + self.dotted.replace(".", "--")


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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "apply", "Apply", show=False),
    ]

    def __init__(self, params: EngineParams) -> None:
        super().__init__()
        self.params = params
        self.fields = editable_fields(params)

    def compose(self) -> ComposeResult:
        with Vertical(id="editor") as frame:
            frame.border_title = "Detection parameters"
            frame.border_subtitle = "enter / ctrl+s apply · escape cancel"
            yield from self._compose_body()

    def _compose_body(self) -> ComposeResult:
        # one grid per section (label | box): fewer widgets than a row container per field,
        # which keeps opening the editor quick
        with VerticalScroll(id="editor-body"):
            for section, title in EDITABLE_SECTIONS:
                yield Static(title, classes="editor-section")
                with Grid(classes="editor-grid"):
                    for f in self.fields:
                        if f.dotted.split(".", 1)[0] != section:
                            continue
                        yield Label(field_label(f.dotted), classes="editor-label")
                        yield Input(
                            format_value(f.value),
                            id=f.widget_id,
                            type="integer" if f.is_int else "text",
                            compact=True,
                            select_on_focus=True,
                            # digits and number signs only: a letter (a second `t` pressed
                            # while the editor opens) is ignored instead of replacing the value
                            restrict=NUMBER_CHARS,
                        )
        yield Label("", id="editor-error")
        with Horizontal(id="editor-buttons"):
            yield Button("Apply", variant="primary", id="editor-apply")
            yield Button("Cancel", id="editor-cancel")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def entered(self) -> dict[str, str]:
        """Only the fields the user changed: an untouched field keeps its exact value, even
        where the box shows it rounded (ln 20 is displayed as 2.99573)."""
        out: dict[str, str] = {}
        for f in self.fields:
            text = self.query_one(f"#{f.widget_id}", Input).value
            if text.strip() != format_value(f.value):
                out[f.dotted] = text
        return out

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
