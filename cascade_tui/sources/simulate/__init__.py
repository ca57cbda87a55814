"""Seeded, labelled synthetic market emitted as raw venue frames (docs/detection-science.md §5).

    sim = MarketSimulator(seed=7, profile="demo")
    for frame in sim.frames(3600):      # RawFrame(ts, venue, data) in receive order
        ...
    write_labels(sim.labels, "labels.jsonl")

Modules: `config` (assets, classes, profiles), `market` (true Hawkes liquidations, price,
vol, OI, funding), `episodes` (injected cascades and their labels), `observe` (venue
throttles, batching, latency and frame encoders), `simulator`; the label format lives in `cascade_tui.labels`.
"""

from cascade_tui.labels import Label, read_labels, write_labels
from cascade_tui.sources.simulate.config import ASSET_NAMES, OBSERVED_VENUES, PROFILES
from cascade_tui.sources.simulate.simulator import MarketSimulator

__all__ = [
    "ASSET_NAMES",
    "OBSERVED_VENUES",
    "PROFILES",
    "Label",
    "MarketSimulator",
    "read_labels",
    "write_labels",
]
