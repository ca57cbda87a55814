"""What every venue adapter shares: the parser contract, frame accounting, event validation,
and the connection description (`VenueSpec`) that `feeds/connection.py` drives.

A venue module (`feeds/<venue>.py`) provides:
  - a `FrameParser` subclass implementing `_parse(frame, recv_ts, channel) -> list[Event]`;
  - a module-level `SPEC: VenueSpec` describing endpoints, subscriptions and keepalive;
and is registered by one line in `feeds/__init__.py`.

Parsers are pure: no I/O, no wall clock. They may keep small per-connection state (ticker
deltas, contract values, snapshot de-duplication), reset by `reset()` on reconnect.
They never raise on bad input: a frame that cannot be understood is counted in
`parse_errors` and skipped; a well-formed event with impossible values (NaN, negative
size, non-positive price) is dropped and counted in `rejected`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cascade_tui.model import Event, Funding, Liquidation, Mark, OpenInterest, Trade

json_decode = msgspec.json.decode


class ParseStats(msgspec.Struct):
    """Counters of one parser. received = parsed + ignored + parse_errors (frames)."""

    frames: int = 0  # frames handed to parse()
    parsed: int = 0  # frames that yielded >= 0 events without error (data frames)
    ignored: int = 0  # acks, pongs, heartbeats, snapshots deliberately not counted
    parse_errors: int = 0  # frames that could not be understood
    rejected: int = 0  # events dropped by validation (NaN, negative size, ...)
    events: dict[str, int] = msgspec.field(default_factory=dict)  # kind -> count
    last_error: str = ""


class Ignore(Exception):
    """Raised inside `_parse` for frames that are valid but carry no events (acks, pongs)."""


def _finite_pos(x: float) -> bool:
    return math.isfinite(x) and x > 0.0


def valid_event(ev: Event) -> bool:
    """True when an event's numbers are physically possible."""
    if isinstance(ev, Liquidation):
        return (
            _finite_pos(ev.price)
            and _finite_pos(ev.qty)
            and _finite_pos(ev.usd)
            and math.isfinite(ev.event_ts)
            and ev.usd < 1e11  # no single liquidation is worth $100 B
        )
    if isinstance(ev, Trade):
        return _finite_pos(ev.price) and _finite_pos(ev.qty) and math.isfinite(ev.usd) and ev.usd >= 0
    if isinstance(ev, OpenInterest):
        return math.isfinite(ev.oi) and ev.oi >= 0.0
    if isinstance(ev, Funding):
        return math.isfinite(ev.rate) and abs(ev.rate) < 1.0 and ev.interval_h > 0
    if isinstance(ev, Mark):
        return _finite_pos(ev.price)
    return False


# Capture channel carrying a venue's instrument metadata (JSON object keyed by instrument id),
# written at the start of a live recording so a replay sizes contracts exactly as live did.
META_CHANNEL = "meta:instruments"


class FrameParser:
    """Base class: counting, validation and error containment around a venue's `_parse`."""

    venue: str = ""
    sampled: bool = False  # liquidation feed is throttled (lower bound)

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        # Contract metadata (contract values, multipliers) keyed by instrument; see
        # feeds/metadata.py. Parsers fall back to bundled values when missing.
        self.metadata: Mapping[str, Any] = metadata or {}
        self.stats = ParseStats()

    def reset(self) -> None:
        """Forget per-connection state (called on reconnect). Counters are kept."""

    def parse(self, frame: str | bytes, recv_ts: float, channel: str = "") -> list[Event]:
        """Events in one frame. `channel` is "" for WebSocket frames, "rest:<name>" for REST."""
        stats = self.stats
        stats.frames += 1
        if channel == META_CHANNEL:
            return self._absorb_metadata(frame)
        try:
            events = self._parse(frame, recv_ts, channel)
        except Ignore:
            stats.ignored += 1
            return []
        except Exception as exc:  # a parser never raises: the frame is counted and skipped
            stats.parse_errors += 1
            stats.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            return []
        stats.parsed += 1
        if not events:
            return events
        out: list[Event] = []
        counts = stats.events
        for ev in events:
            if valid_event(ev):
                out.append(ev)
                kind = type(ev).__struct_config__.tag  # type: ignore[attr-defined]
                counts[kind] = counts.get(kind, 0) + 1
            else:
                stats.rejected += 1
        return out

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        raise NotImplementedError

    def _absorb_metadata(self, frame: str | bytes) -> list[Event]:
        """Merge recorded instrument metadata in place (parsers hold this dict by reference)."""
        try:
            doc = json_decode(frame)
            if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
                raise ValueError("metadata frame is not an object of objects")
        except (msgspec.DecodeError, ValueError) as exc:
            self.stats.parse_errors += 1
            self.stats.last_error = f"{META_CHANNEL}: {exc}"
            return []
        if isinstance(self.metadata, dict):
            self.metadata.update(doc)
        else:
            self.metadata = {**self.metadata, **doc}
        self.stats.ignored += 1
        return []


# --------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class Keepalive:
    """How a venue wants to be kept alive.

    kind: "ws-ping"  — WebSocket ping frames (the library does it; `interval` sets the period)
          "text"     — send the text `message` every `interval` s (OKX/Bitget/BitMEX "ping")
          "json"     — send `message` (a JSON string; `{ts}` is replaced by epoch ms) every
                       `interval` s (Bybit, Hyperliquid, Gate)
          "reply"    — answer server pings: `reply(frame) -> str | None` (HTX, Deribit)
    """

    kind: str = "ws-ping"
    interval: float = 20.0
    message: str = ""
    reply: Callable[[str | bytes], str | None] | None = None


@dataclass(frozen=True)
class Subscription:
    """One WebSocket connection's worth of subscriptions."""

    url: str
    messages: Sequence[str] = ()  # sent in order after connect (and after every reconnect)
    name: str = ""  # e.g. "liquidations", "btc-trades"


@dataclass(frozen=True)
class SubscribeRequest:
    """What to subscribe on one venue.

    liquidation_instruments: venue instrument ids for liquidations; empty = the venue's
        all-market channel. Venues that only have per-symbol topics (Bybit, Kraken, dYdX,
        Deribit) are given the full list by the live source (from feeds/metadata.py).
    instruments: venue instrument ids for trades / OI / funding / mark (the main symbols).
    btc_trades: also subscribe the BTC perpetual's trades (for the volatility engine).
    """

    liquidation_instruments: Sequence[str] = ()
    instruments: Sequence[str] = ()
    btc_trades: bool = False


@dataclass(frozen=True)
class RestPoll:
    """A REST endpoint polled for OI/funding where no stream exists."""

    name: str  # channel name in captures: "rest:<name>"
    url: str
    interval_normal: float = 30.0
    interval_fast: float = 5.0  # used when the BTC regime is HIGH or EXTREME
    weight: int = 1  # rate-limit weight per request


@dataclass(frozen=True)
class VenueSpec:
    """Everything the connection loop needs to know about a venue, and nothing it must guess."""

    id: str
    name: str
    parser: type[FrameParser]
    # what to subscribe -> the connections to open (one Subscription per connection)
    subscriptions: Callable[[SubscribeRequest], list[Subscription]]
    keepalive: Keepalive = field(default_factory=Keepalive)
    # instruments -> REST polls for OI/funding where the venue has no stream
    rest_polls: Callable[[Sequence[str]], list[RestPoll]] | None = None
    sampled: bool = False  # liquidation feed is a lower bound
    has_liquidations: bool = True
    max_connection_s: float = 23.5 * 3600  # rotate before the venue's hard limit
    stale_after_s: float = 60.0  # no frame for this long -> stale -> reconnect
    notes: str = ""  # known limits, shown in docs and the UI
    binary_frames: bool = False  # frames are gzip bytes (HTX)
    # base assets ("BTC", "ETH") -> this venue's main perpetual instrument ids ("BTCUSDT")
    instruments_for: Callable[[Sequence[str]], list[str]] | None = None
    btc_instrument: str = ""  # the BTC perpetual used for trades (volatility engine)
    # minimum seconds between the messages sent after connecting: venues cap inbound messages
    # (about 10/s on most; dYdX's indexer takes 2 subscribes/s per connection)
    message_interval_s: float = 0.11


# --------------------------------------------------------------------------- helpers


QUOTES = ("USDT", "USDC", "USD", "BUSD", "FDUSD")


def base_asset(symbol: str) -> str:
    """Best-effort base asset of a venue symbol when no metadata is at hand.

    "BTCUSDT" -> "BTC", "BTC-USDT-SWAP" -> "BTC", "XBTUSD" -> "BTC", "PF_XBTUSD" -> "BTC",
    "ETH-PERP" -> "ETH", "BTC_USDT" -> "BTC", "1000PEPEUSDT" -> "1000PEPE".
    """
    s = symbol.upper()
    for prefix in ("PF_", "PI_", "FI_"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    for sep in ("-", "_", "/", ":"):
        if sep in s:
            s = s.split(sep, 1)[0]
            break
    else:
        for q in QUOTES:
            if s.endswith(q) and len(s) > len(q):
                s = s[: -len(q)]
                break
        if s.endswith("PERP") and len(s) > 4:
            s = s[:-4]
    if s == "XBT":
        s = "BTC"
    return s


def fnum(x: Any) -> float:
    """Venue number (string or JSON number) -> float; raises on garbage (caught by parse())."""
    if isinstance(x, bool) or x is None:
        raise ValueError(f"not a number: {x!r}")
    return float(x)
