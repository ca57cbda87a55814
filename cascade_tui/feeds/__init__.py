"""Venue adapters. One module per venue; this registry is the only list of them.

Adding a venue = one module exposing `SPEC: VenueSpec` + its fixtures + one line below.
"""

from __future__ import annotations

import importlib

from cascade_tui.feeds.base import FrameParser, VenueSpec

# venue id -> module under cascade_tui.feeds
_MODULES: dict[str, str] = {
    "binance": "binance",
    "bybit": "bybit",
    "okx": "okx",
    "bitmex": "bitmex",
    "deribit": "deribit",
    "gate": "gate",
    "bitget": "bitget",
    "htx": "htx",
    "kraken": "kraken",
    "dydx": "dydx",
    "hyperliquid": "hyperliquid",
}


def venue_ids() -> tuple[str, ...]:
    return tuple(_MODULES)


def spec(venue: str) -> VenueSpec:
    """The VenueSpec of a venue id; KeyError names the unknown id."""
    if venue not in _MODULES:
        raise KeyError(f"unknown venue {venue!r}; known: {', '.join(_MODULES)}")
    module = importlib.import_module(f"cascade_tui.feeds.{_MODULES[venue]}")
    return module.SPEC


def make_parser(venue: str, metadata: dict | None = None) -> FrameParser:
    return spec(venue).parser(metadata)
