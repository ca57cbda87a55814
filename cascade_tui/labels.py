"""Ground-truth cascade labels (docs/DESIGN.md §5.1): JSON lines, one episode per line.

A small shared module: the simulator writes labels, the backtest reads them, and neither
imports the other for it.

    {"start": epoch s, "end": epoch s, "asset": "BTC", "direction": "long", "usd": 1.2e8,
     "severity": "major" | "minor", "class": "moderate", "onset": epoch s, ...extras}

`severity` is the contract's two-valued field (major = moderate class and above); `class`
keeps the four-class name. Extras describe the episode for analysis and are optional when
reading (labels written by hand or by other tools have only the contract fields).
`onset` (optional) is when the cascade became observable; lags are measured from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import msgspec


class Label(msgspec.Struct, omit_defaults=True):
    start: float  # first true liquidation of the episode (epoch s)
    end: float  # last true liquidation of the episode
    asset: str  # base asset, or "*" for a cross-symbol (market-wide) episode
    direction: str  # "long" (longs liquidated, price falling) or "short"
    usd: float  # true liquidated USD, all venues including unobserved ones
    severity: str  # "minor" | "major"
    cls: str = msgspec.field(default="", name="class")  # minor | moderate | major | extreme
    episode: int = -1  # episode id shared by the legs of one cross-symbol episode
    peak_ts: float = 0.0  # middle of the 5 s window with the most liquidated USD
    count: int = 0  # true liquidation events
    price_move: float = 0.0  # price change start -> end (fraction, signed); "*" uses BTC
    exogenous: bool = False  # price shock first (True) or slow build-up of branching (False)
    venues: list[str] = msgspec.field(default_factory=list)  # venues that carried its events
    venue_usd: dict[str, float] = msgspec.field(default_factory=dict)  # true USD per venue
    # When the cascade became observable in the true stream (the simulator: 4 of its
    # liquidations within 2 s); detection lag is measured from here. 0 = not given: use start.
    onset: float = 0.0

    @property
    def onset_ts(self) -> float:
        """Where detection lag is measured from: the onset when given, else the start."""
        return self.onset if self.onset > 0 else self.start


# Seed ranges of the held-apart market sets (never tune on test): the benchmark draws its
# training markets from TRAIN, its validation markets from VALIDATION and scores TEST only.
SEED_SETS: dict[str, range] = {
    "train": range(1000, 2000),
    "validation": range(2000, 3000),
    "test": range(3000, 4000),
}


def market_seeds(which: str, count: int) -> list[int]:
    """The first `count` market seeds of a held-apart set (its first seed, e.g. 3000, is skipped:
    every benchmark's markets start at the set's second seed)."""
    seeds = SEED_SETS[which]
    return [seeds.start + 1 + k for k in range(count)]


def seed_set(seed: int) -> str | None:
    """Which held-apart set a seed belongs to (None: outside every set, e.g. the demo's 7)."""
    for name, seeds in SEED_SETS.items():
        if seed in seeds:
            return name
    return None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Label)


def write_labels(labels: Iterable[Label], path: str | os.PathLike[str]) -> None:
    """Write labels as JSON lines (ordered as given)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as fh:
        for label in labels:
            fh.write(_encoder.encode(label) + b"\n")


def read_labels(path: str | os.PathLike[str]) -> list[Label]:
    """Read a labels file; blank lines are skipped, a malformed line raises ValueError naming it."""
    out: list[Label] = []
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(_decoder.decode(line))
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path}: line {number} is not a label ({exc})") from None
    return out
