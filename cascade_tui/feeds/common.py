"""Small helpers shared by venue parsers and specs (beyond the contract in `feeds/base.py`).

Everything here is pure and venue-neutral: decoding a frame, turning venue numbers and
times into floats, a bounded "seen" set for replay de-duplication, per-instrument metadata
look-ups with bundled fallbacks, and building subscribe messages.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from cascade_tui.feeds.base import base_asset, fnum

_decode = msgspec.json.decode
_encode = msgspec.json.encode

T = TypeVar("T")


class FrameError(ValueError):
    """A frame that has the wrong shape for its channel (counted as a parse error)."""


def decode(frame: str | bytes) -> Any:
    """JSON text or bytes -> Python objects (msgspec: fastest decoder available)."""
    return _decode(frame)


def is_text(frame: str | bytes, word: str) -> bool:
    """True when a frame is exactly the bare text `word` (e.g. "pong"), ignoring whitespace."""
    if isinstance(frame, bytes):
        return frame.strip() == word.encode()
    return frame.strip() == word


def as_dict(x: Any, what: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise FrameError(f"{what}: expected an object, got {type(x).__name__}")
    return x


def as_list(x: Any, what: str) -> list[Any]:
    if not isinstance(x, list):
        raise FrameError(f"{what}: expected an array, got {type(x).__name__}")
    return x


def rows(x: Any, what: str) -> list[dict[str, Any]]:
    """A payload that venues send as one object or as an array of objects -> list of objects."""
    if isinstance(x, dict):
        return [x]
    return [as_dict(r, what) for r in as_list(x, what)]


def opt_num(x: Any) -> float | None:
    """Venue number that may be absent or empty ("", None) -> float or None; garbage raises."""
    if x is None or x == "":
        return None
    if type(x) is str:  # the usual case, as `fnum` would convert it
        return float(x)
    return fnum(x)


def ms_to_s(x: Any) -> float:
    """Venue milliseconds (string or number) -> epoch seconds."""
    return fnum(x) / 1000.0


def finite(x: float) -> bool:
    return math.isfinite(x)


def json_message(obj: Any) -> str:
    """A subscribe/ping message as compact JSON text."""
    return _encode(obj).decode()


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` cut into consecutive lists of at most `size` (venues cap args per request)."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def unique(items: Iterable[T]) -> list[T]:
    """Items without duplicates, first occurrence order kept."""
    seen: set[T] = set()
    out: list[T] = []
    for it in items:
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


class RecentKeys:
    """A bounded set remembering the most recent `capacity` keys (LRU eviction).

    Used to drop liquidations a venue replays after (re)subscribing (OKX): memory stays flat
    however long the process runs.
    """

    __slots__ = ("_capacity", "_keys")

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, key: Hashable) -> bool:
        """Remember `key`; True when it was new, False when already seen (refreshes it)."""
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            return False
        keys[key] = None
        if len(keys) > self._capacity:
            keys.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def clear(self) -> None:
        self._keys.clear()


class InstrumentInfo:
    """Per-instrument metadata: the `metadata` dict given to the parser first, then the
    module's bundled values. Both are `{instrument_id: {field: value}}`."""

    __slots__ = ("_assets", "_bundled", "_metadata")

    def __init__(self, metadata: Mapping[str, Any], bundled: Mapping[str, Mapping[str, Any]]) -> None:
        self._metadata = metadata
        self._bundled = bundled
        # instrument -> asset; bounded by the venue's instrument count
        self._assets: dict[str, str] = {}

    def get(self, instrument: str) -> Mapping[str, Any] | None:
        meta = self._metadata.get(instrument)
        if isinstance(meta, Mapping):
            return meta
        return self._bundled.get(instrument)

    def field(self, instrument: str, name: str) -> Any:
        """A field from metadata if it has it, else from the bundled table, else None."""
        meta = self._metadata.get(instrument)
        if isinstance(meta, Mapping) and meta.get(name) not in (None, ""):
            return meta[name]
        bundled = self._bundled.get(instrument)
        if bundled is not None:
            return bundled.get(name)
        return None

    def asset(self, instrument: str, fallback_symbol: str | None = None) -> str:
        """Normalized base asset: metadata `baseAsset` when known, else parsed from the symbol."""
        cached = self._assets.get(instrument)
        if cached is not None:
            return cached
        base = self.field(instrument, "baseAsset")
        if isinstance(base, str) and base:
            up = base.upper()
            asset = "BTC" if up == "XBT" else up
        else:
            asset = base_asset(fallback_symbol or instrument)
        self._assets[instrument] = asset
        return asset
