"""Every key of the dashboard, with a stable id users can remap in the config.

`[ui.keymap]` in config.toml maps a binding id to key(s), e.g. `threshold-editor = "e"`;
`apply_keymap` hands it to Textual's keymap support (App.set_keymap). Ids never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit_dashboard", "Quit", id="quit", tooltip="stop the engine and quit"),
    # Textual answers ctrl+c with "press ctrl+q to quit"; a terminal user expects it to quit.
    # Not a priority binding: a focused text box still copies with it.
    Binding(
        "ctrl+c", "quit_dashboard", "Quit", show=False, id="quit-ctrl-c", key_display="ctrl+c",
        tooltip="stop the engine and quit",
    ),
    Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="this list of keys"),
    Binding(
        "t",
        "threshold_editor",
        "Thresholds",
        id="threshold-editor",
        tooltip="edit every threshold, gate, weight and normalizer",
    ),
    Binding(
        "1",
        "select_level(1)",
        "Select WATCH",
        show=False,
        id="select-watch",
        tooltip="select the WATCH threshold for [ and ]",
    ),
    Binding(
        "2",
        "select_level(2)",
        "Select WARNING",
        show=False,
        id="select-warning",
        tooltip="select the WARNING threshold for [ and ]",
    ),
    Binding(
        "3",
        "select_level(3)",
        "Select CRITICAL",
        show=False,
        id="select-critical",
        tooltip="select the CRITICAL threshold for [ and ]",
    ),
    Binding(
        "right_square_bracket",
        "nudge(1)",
        "Raise threshold",
        show=False,
        id="nudge-up",
        key_display="]",
        tooltip="raise the selected threshold by 0.01, at once",
    ),
    Binding(
        "left_square_bracket",
        "nudge(-1)",
        "Lower threshold",
        show=False,
        id="nudge-down",
        key_display="[",
        tooltip="lower the selected threshold by 0.01, at once",
    ),
    Binding(
        "s", "save_config", "Save", id="save-config", tooltip="save to the config what differs from the defaults"
    ),
    Binding(
        "r",
        "restore_defaults",
        "Defaults",
        show=False,
        id="restore-defaults",
        tooltip="restore the default engine parameters (press twice)",
    ),
    Binding("w", "cycle_window", "Window", id="cycle-window", tooltip="velocity window: 1, 5, 20, 60 s"),
    Binding(
        "l",
        "cycle_tape_floor",
        "Floor",
        id="cycle-tape-floor",
        tooltip="tape size floor: per asset, $100k, $1M, all",
    ),
    Binding(
        "m",
        "cycle_liqmap_asset",
        "Map asset",
        id="cycle-liqmap-asset",
        tooltip="liquidation map: next asset",
    ),
    Binding(
        "slash",
        "filter_signals",
        "Filter",
        id="filter-signals",
        key_display="/",
        tooltip="filter the signal log by asset",
    ),
    Binding(
        "p",
        "pause_display",
        "Freeze",
        id="pause-display",
        tooltip="freeze the display; the engine keeps running",
    ),
    Binding("T", "cycle_theme", "Theme", show=False, id="cycle-theme", tooltip="next colour theme"),
    Binding(
        "space",
        "toggle_source",
        "Play/pause",
        id="source-pause",
        key_display="space",
        tooltip="demo/replay: pause or resume the market",
    ),
    Binding(
        "plus,equals_sign",
        "source_speed(1)",
        "Faster",
        show=False,
        id="speed-up",
        key_display="+",
        tooltip="demo/replay: faster",
    ),
    Binding(
        "minus",
        "source_speed(-1)",
        "Slower",
        show=False,
        id="speed-down",
        key_display="-",
        tooltip="demo/replay: slower",
    ),
    Binding(
        "n",
        "next_signal",
        "Next signal",
        id="next-signal",
        tooltip="demo/replay: run to the next signal and pause there",
    ),
    Binding(
        "f8",
        "screenshot",
        "Screenshot",
        show=False,
        id="screenshot",
        tooltip="save an SVG screenshot in the data directory",
    ),
]

# Actions that need a demo/replay source (hidden and disabled otherwise).
SOURCE_ACTIONS = frozenset({"toggle_source", "source_speed", "next_signal"})

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 0.0)  # 0 = max


@dataclass(frozen=True)
class KeyHelp:
    binding_id: str
    keys: str
    description: str


def binding_ids() -> set[str]:
    return {b.id for b in APP_BINDINGS if b.id}


def unknown_keymap_ids(keymap: Mapping[str, str]) -> list[str]:
    """Ids in a user keymap that match no binding (reported once, never fatal)."""
    known = binding_ids()
    return sorted(k for k in keymap if k not in known)


def key_help(keymap: Mapping[str, str]) -> list[KeyHelp]:
    """Every binding with the key(s) in force after the user's keymap."""
    rows = []
    for b in APP_BINDINGS:
        assert b.id is not None
        keys = keymap.get(b.id)
        shown = keys if keys else (b.key_display or b.key)
        rows.append(KeyHelp(b.id, shown.replace(",", " / "), b.tooltip or b.description))
    return rows


def next_speed(current: float, direction: int) -> float:
    """The next speed on the ladder (0 = as fast as possible sits above 100×)."""
    ladder = list(SPEEDS)
    position = (
        ladder.index(current)
        if current in ladder
        else min(range(len(ladder) - 1), key=lambda i: abs(ladder[i] - current))
    )
    return ladder[max(0, min(len(ladder) - 1, position + direction))]
