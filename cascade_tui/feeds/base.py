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

`FrameParser.parse` is the one validation point every event passes (docs/DESIGN.md §5.1,
issue 12 rows 17-18, issue 13 items 1, 7, 8), in this order:
  1. numbers physically possible (`valid_event`), else `rejected`;
  2. instrument: at most `MAX_INSTRUMENT_LEN` printable characters (no terminal escapes),
     else `rejected`;
  3. asset: multiplier prefixes folded into the coin (`1000PEPE`, `kPEPE`, `1000000MOG`
     -> `PEPE`, `MOG`, quantities scaled to the coin, USD unchanged), then `A-Z 0-9`,
     1-20 characters (`*` is reserved for market-wide), else `rejected`;
  4. event time (liquidations and trades): compared with the receive time after the venue's
     measured clock offset; rows older than `STALE_AFTER_S`, and rows of a
     venue that replays on subscribe (`replays_on_subscribe`) from before the connection, are
     counted in `stale` and not passed on;
  5. liquidations: de-duplicated in a bounded window by the venue's own id (given by the
     parser through `keyed`) or, for venues without one, by their content; repeats are
     counted in `duplicates`. The window survives `reset()` (replays follow reconnects).
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from cascade_tui.model import Event, Funding, Liquidation, Mark, OpenInterest, Trade

if TYPE_CHECKING:
    from cascade_tui.feeds.metadata import MetadataSource

json_decode = msgspec.json.decode


class ParseStats(msgspec.Struct):
    """Counters of one parser. received = parsed + ignored + parse_errors (frames)."""

    frames: int = 0  # frames handed to parse()
    parsed: int = 0  # frames that yielded >= 0 events without error (data frames)
    ignored: int = 0  # acks, pongs, heartbeats, snapshots deliberately not counted
    parse_errors: int = 0  # frames that could not be understood
    rejected: int = 0  # events or rows dropped by validation (NaN, bad asset/symbol, unknown contract)
    duplicates: int = 0  # liquidations already seen (same venue id, or same content)
    stale: int = 0  # liquidations/trades whose venue time is far from the receive time, or replays
    events: dict[str, int] = msgspec.field(default_factory=dict)  # kind -> count
    last_error: str = ""


class Ignore(Exception):
    """Raised inside `_parse` for frames that are valid but carry no events (acks, pongs)."""


_isfinite = math.isfinite


def _finite_pos(x: float) -> bool:
    return _isfinite(x) and x > 0.0


def valid_event(ev: Event) -> bool:
    """True when an event's numbers are physically possible."""
    if isinstance(ev, Liquidation):
        return _valid_liquidation(ev)
    if isinstance(ev, Trade):
        return _valid_trade(ev)
    if isinstance(ev, OpenInterest):
        return _valid_open_interest(ev)
    if isinstance(ev, Funding):
        return _valid_funding(ev)
    if isinstance(ev, Mark):
        return _valid_mark(ev)
    return False


def _valid_liquidation(ev: Liquidation) -> bool:
    return (
        _finite_pos(ev.price)
        and _finite_pos(ev.qty)
        and _finite_pos(ev.usd)
        and math.isfinite(ev.event_ts)
        and ev.usd < 1e11  # no single liquidation is worth $100 B
    )


# The checks of the kinds that come by the thousand (trades, and marks, funding and OI of
# every symbol each second) spell `_finite_pos` out: a call less per number.


def _valid_trade(ev: Trade) -> bool:
    price, qty, usd = ev.price, ev.qty, ev.usd
    return _isfinite(price) and price > 0.0 and _isfinite(qty) and qty > 0.0 and _isfinite(usd) and usd >= 0


def _valid_open_interest(ev: OpenInterest) -> bool:
    return _isfinite(ev.oi) and ev.oi >= 0.0


def _valid_funding(ev: Funding) -> bool:
    return _isfinite(ev.rate) and abs(ev.rate) < 1.0 and ev.interval_h > 0


def _valid_mark(ev: Mark) -> bool:
    price = ev.price
    return _isfinite(price) and price > 0.0


# The checks of `valid_event` by exact type (one look-up instead of a chain of isinstance
# calls: `parse` runs this for every event); a subclass goes through `valid_event` itself.
_VALID_BY_TYPE: dict[type, Callable[[Any], bool]] = {
    Liquidation: _valid_liquidation,
    Trade: _valid_trade,
    OpenInterest: _valid_open_interest,
    Funding: _valid_funding,
    Mark: _valid_mark,
}
# event type -> its kind tag ("trade", "mark" ...), for the per-kind counters
_KIND_TAG: dict[type, str] = {
    cls: str(cls.__struct_config__.tag) for cls in (Liquidation, Trade, OpenInterest, Funding, Mark)
}


# --------------------------------------------------------------------------- identifiers

ASSET_ID = re.compile(r"[A-Z0-9]{1,20}")  # docs/DESIGN.md §5.1; "*" is reserved for market-wide
MAX_INSTRUMENT_LEN = 64  # longest real venue symbol is ~30 characters (Deribit options)
# Multiplier prefixes venues put on a coin to keep its price readable (Binance/Bybit
# "1000PEPE", "1000000MOG", "1MBABYDOGE"), Bybit's suffix form ("SHIB1000"), and
# Hyperliquid's lower-case "k" ("kPEPE" = 1000 PEPE).
_PREFIX = re.compile(r"^(1000000000|100000000|10000000|1000000|100000|10000|1000|1M)([A-Z][A-Z0-9]*)$")
_SUFFIX = re.compile(r"^([A-Z]{2,})(1000000|100000|10000|1000)$")
_K_PREFIX = re.compile(r"^k([A-Z][A-Z0-9]*)$")


def coin_and_multiplier(name: str) -> tuple[str, float]:
    """A venue's base name -> (coin, coins per unit of that name).

    "1000PEPE" -> ("PEPE", 1000), "kPEPE" -> ("PEPE", 1000), "1MBABYDOGE" ->
    ("BABYDOGE", 1e6), "SHIB1000" -> ("SHIB", 1000), "1INCH" -> ("1INCH", 1), "BTC" -> ("BTC", 1).
    Only exact powers of ten of at least 1000 count: "1INCH" and "A8" are coins.
    """
    m = _PREFIX.match(name)
    if m is not None:
        head = m.group(1)
        return m.group(2), 1e6 if head == "1M" else float(head)
    m = _K_PREFIX.match(name)
    if m is not None:
        return m.group(1), 1000.0
    m = _SUFFIX.match(name)
    if m is not None:
        return m.group(1), float(m.group(2))
    return name, 1.0


def normalize_asset(name: str) -> tuple[str, float] | None:
    """(asset id, multiplier) per docs/DESIGN.md §5.1, or None when `name` cannot be an asset id."""
    if not name or len(name) > 40:
        return None
    coin, mult = coin_and_multiplier(name)
    if coin == "XBT":
        coin = "BTC"
    if ASSET_ID.fullmatch(coin) is None:
        return None
    return coin, mult


def valid_instrument(name: str) -> bool:
    """A venue symbol fit to show and store: bounded, printable (no ESC, BEL, newlines)."""
    return 0 < len(name) <= MAX_INSTRUMENT_LEN and name.isprintable()


def rescale(ev: Event, asset: str, mult: float) -> Event:
    """`ev` with its quantities in coins of `asset` (`mult` coins per venue unit): qty × mult,
    price / mult, USD and the raw size unchanged."""
    if mult == 1.0:
        return msgspec.structs.replace(ev, asset=asset)
    if isinstance(ev, Liquidation | Trade):
        return msgspec.structs.replace(ev, asset=asset, qty=ev.qty * mult, price=ev.price / mult)
    if isinstance(ev, Mark):
        index = ev.index / mult if ev.index is not None else None
        return msgspec.structs.replace(ev, asset=asset, price=ev.price / mult, index=index)
    if isinstance(ev, OpenInterest):
        return msgspec.structs.replace(ev, asset=asset, oi=ev.oi * mult)
    return msgspec.structs.replace(ev, asset=asset)  # Funding: a rate, no quantity


# --------------------------------------------------------------------------- event time

STALE_AFTER_S = 60.0  # a liquidation/trade this far from its receive time is not news
REPLAY_TOLERANCE_S = 2.0  # rows this much older than the connection are subscribe replays
DEDUP_WINDOW = 16384  # liquidation keys remembered per venue: the last 8192 at least (hours of a busy venue)
_CACHE_LIMIT = 8192  # validated instrument/asset names remembered per parser


class ClockOffset:
    """A venue's clock offset, measured: a low quantile of (receive − venue time) over the
    last `size` fresh rows. That is the network delay plus the clock difference; a low
    quantile rather than the median so a burst of old rows (a replay) cannot drag it."""

    __slots__ = ("_count", "_offset", "_samples", "quantile")

    def __init__(self, size: int = 64, quantile: float = 0.2) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._offset = 0.0
        self._count = 0
        self.quantile = quantile

    def add(self, lag: float) -> None:
        if not math.isfinite(lag):
            return
        self._samples.append(lag)
        self._count += 1
        # recomputed every 8 samples (and at the first ones): a sort of 64 floats, rarely
        if self._count <= 8 or self._count % 8 == 0:
            ordered = sorted(self._samples)
            self._offset = ordered[int(self.quantile * (len(ordered) - 1))]

    @property
    def offset_s(self) -> float:
        """Seconds the venue's times trail our receive times (0 until the first sample; the
        first rows measure the clock, so a machine whose clock is off is not all stale)."""
        return self._offset

    @property
    def samples(self) -> int:
        return self._count


class RecentWindow:
    """Keys seen recently: the last `capacity / 2` to `capacity` of them, in two generations
    (when the newer set fills, it becomes the older one and the oldest are forgotten at
    once). Two set look-ups per key: cheaper than an ordered dict on the hot path."""

    __slots__ = ("cur", "half", "prev")

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.cur: set[Hashable] = set()
        self.prev: set[Hashable] = set()

    def add(self, key: Hashable) -> bool:
        """True when `key` is new (and remembers it); False when seen within the window."""
        if key in self.cur or key in self.prev:
            return False
        self.cur.add(key)
        if len(self.cur) >= self.half:
            self.prev, self.cur = self.cur, set()
        return True

    def __len__(self) -> int:
        return len(self.cur) + len(self.prev)


_PLAIN: Any = ("", 1.0)  # marker: the name is already the asset id (compared by identity)

# Capture channel carrying a venue's instrument metadata (JSON object keyed by instrument id),
# written at the start of a live recording so a replay sizes contracts exactly as live did.
META_CHANNEL = "meta:instruments"


class FrameParser:
    """Base class: counting, validation and error containment around a venue's `_parse`."""

    venue: str = ""
    sampled: bool = False  # liquidation feed is throttled (lower bound)
    # The venue re-sends recent liquidations after each (re)subscribe (OKX): rows from before
    # the connection are replays, counted in `stale`.
    replays_on_subscribe: bool = False

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        # Contract metadata (contract values, multipliers) keyed by instrument; see
        # feeds/metadata.py. Parsers fall back to bundled values when missing.
        self.metadata: Mapping[str, Any] = metadata or {}
        self.stats = ParseStats()
        self.clock = ClockOffset()
        self._session_start: float | None = None  # receive time of the connection's first frame
        self._timed_rows = 0  # rows with a venue time seen (the clock learns from a sample of them)
        self._recent = RecentWindow(DEDUP_WINDOW)
        self._ids: dict[int, Hashable] = {}  # id(liquidation) -> venue id, for this frame only
        # asset name -> _PLAIN (already an asset id) or (asset id, multiplier); invalid names apart
        self._assets_seen: dict[str, tuple[str, float]] = {}
        self._assets_bad: set[str] = set()
        self._instruments_ok: set[str] = set()

    def reset(self) -> None:
        """Forget per-connection state (called on reconnect). Counters are kept."""

    def reconnected(self) -> None:
        """A new connection starts: the next frame's receive time is its start (subscribe
        replays are rows from before it). Calls `reset()`; the de-duplication window stays."""
        self._session_start = None
        self.reset()

    @property
    def clock_offset_s(self) -> float:
        """Measured seconds by which this venue's event times trail our receive times."""
        return self.clock.offset_s

    def keyed(self, ev: Liquidation, venue_id: Any) -> Liquidation:
        """Mark a liquidation with the venue's own id (trade id, order id) for de-duplication."""
        # only plain, bounded ids: a list (unhashable) or a 10 MB string from a hostile frame
        # falls back to the content key
        if (isinstance(venue_id, str) and 0 < len(venue_id) <= 128) or type(venue_id) is int:
            self._ids[id(ev)] = venue_id
        return ev

    def row_failed(self, exc: Exception) -> None:
        """One row of a batch could not be used (unknown contract...): count it, keep the rest."""
        self.stats.rejected += 1
        self.stats.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"

    def parse(self, frame: str | bytes, recv_ts: float, channel: str = "") -> list[Event]:
        """Events in one frame. `channel` is "" for WebSocket frames, "rest:<name>" for REST."""
        stats = self.stats
        stats.frames += 1
        if channel == META_CHANNEL:
            return self._absorb_metadata(frame)
        if self._session_start is None and not channel:
            self._session_start = recv_ts
        try:
            events = self._parse(frame, recv_ts, channel)
        except Ignore:
            stats.ignored += 1
            return []
        except Exception as exc:  # a parser never raises: the frame is counted and skipped
            stats.parse_errors += 1
            stats.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self._ids.clear()
            return []
        stats.parsed += 1
        if not events:
            return events
        out: list[Event] = []
        counts = stats.events
        checks = _VALID_BY_TYPE
        instruments_ok = self._instruments_ok
        assets_seen = self._assets_seen
        for ev in events:
            kind = type(ev)
            check = checks.get(kind)
            if not (check(ev) if check is not None else valid_event(ev)):
                stats.rejected += 1
                continue
            if (
                kind is not Trade
                and kind is not Liquidation
                and check is not None
                and ev.instrument in instruments_ok
                and assets_seen.get(ev.asset) is _PLAIN
            ):
                # a mark, funding or OI of a known plain asset and symbol: `_admit` would
                # pass it unchanged (no event time to check, nothing to de-duplicate)
                admitted: Event | None = ev
            else:
                admitted = self._admit(ev)
                if admitted is None:
                    continue
                kind = type(admitted)
            out.append(admitted)  # type: ignore[arg-type]
            tag = _KIND_TAG.get(kind) or str(kind.__struct_config__.tag)  # every event kind is tagged
            counts[tag] = counts.get(tag, 0) + 1
        if self._ids:
            self._ids.clear()
        return out

    def _admit(self, ev: Event) -> Event | None:
        """Steps 2-5 of the module docstring: the event to pass on, or None (counted).
        Hot: runs for every event, so the common case (a known plain asset and symbol, a
        fresh row) is a few dictionary look-ups."""
        instrument = ev.instrument
        if instrument not in self._instruments_ok and not self._learn_instrument(instrument):
            return None
        asset = ev.asset
        norm = self._assets_seen.get(asset)
        if norm is None:
            norm = self._learn_asset(asset, instrument)
            if norm is None:
                return None
        kind = type(ev)
        if kind is Liquidation or kind is Trade:
            lag = ev.recv_ts - ev.event_ts
            if lag != 0.0 and not self._fresh(ev, lag, kind is Liquidation):  # type: ignore[arg-type]
                self.stats.stale += 1
                return None
            if kind is Liquidation:
                ids = self._ids
                key = ids.get(id(ev)) if ids else None
                # the window holds 64-bit hashes, not tuples: thousands of live tuples would be
                # walked by every garbage collection (collisions: ~1e-11 over the window)
                if key is None:
                    key = hash((instrument, ev.side, ev.event_ts, ev.raw_size, ev.price))  # type: ignore[union-attr]
                else:
                    key = hash((instrument, ev.side, key))  # type: ignore[union-attr]
                recent = self._recent  # RecentWindow.add, inlined: this runs per liquidation
                if key in recent.cur or key in recent.prev:
                    self.stats.duplicates += 1
                    return None
                recent.cur.add(key)
                if len(recent.cur) >= recent.half:
                    recent.prev, recent.cur = recent.cur, set()
        if norm is not _PLAIN:
            ev = rescale(ev, *norm)
        return ev

    def _learn_instrument(self, instrument: str) -> bool:
        if not valid_instrument(instrument):
            self.stats.rejected += 1
            self.stats.last_error = f"instrument rejected: {instrument[:40]!r}"
            return False
        if len(self._instruments_ok) >= _CACHE_LIMIT:
            self._instruments_ok.clear()
        self._instruments_ok.add(instrument)
        return True

    def _learn_asset(self, asset: str, instrument: str) -> tuple[str, float] | None:
        """Normalize a new asset name and remember the verdict; None (counted) if invalid."""
        if asset in self._assets_bad:
            norm = None
        else:
            norm = normalize_asset(asset)
            if len(self._assets_seen) >= _CACHE_LIMIT:
                self._assets_seen.clear()
                self._assets_bad.clear()
            if norm is None:
                self._assets_bad.add(asset)
            else:
                self._assets_seen[asset] = _PLAIN if norm == (asset, 1.0) else norm
        if norm is None:
            self.stats.rejected += 1
            self.stats.last_error = f"asset rejected: {asset[:40]!r} ({instrument[:40]!r})"
            return None
        return self._assets_seen[asset]

    def _fresh(self, ev: Liquidation | Trade, lag: float, is_liq: bool) -> bool:
        """False for a row whose venue time says it is old news (`lag` = receive − venue time)."""
        clock = self.clock
        if not (is_liq and self.replays_on_subscribe):  # replays must not teach the clock their age
            self._timed_rows = n = self._timed_rows + 1
            if n <= 16 or not n & 3:  # every early row, then one in four: the offset moves slowly
                clock.add(lag)
        offset = clock._offset
        if lag - offset > STALE_AFTER_S:
            # old news: a snapshot, a replay, a late batch. (Rows AHEAD of the measured clock
            # are kept: they mean the offset was learned from old rows, and it re-learns.)
            return False
        if is_liq and self.replays_on_subscribe and self._session_start is not None:
            return ev.event_ts + offset >= self._session_start - REPLAY_TOLERANCE_S
        return True

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
        self._metadata_updated()
        self.stats.ignored += 1
        return []

    def _metadata_updated(self) -> None:
        """Recorded metadata was merged: a parser drops what it derived from the old values."""


# --------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class Keepalive:
    """How a venue wants to be kept alive.

    kind: "ws-ping"  — WebSocket ping frames (the library does it; `interval` sets the period)
          "text"     — send the text `message` every `interval` s (OKX/Bitget/BitMEX "ping")
          "json"     — send `message` (a JSON string; `{ts}` is replaced by epoch ms and
                       `{ts_s}` by epoch seconds, see `render`) every
                       `interval` s (Bybit, Hyperliquid, Gate)
          "reply"    — answer server pings: `reply(frame) -> str | None` (HTX, Deribit)
    """

    kind: str = "ws-ping"
    interval: float = 20.0
    message: str = ""
    reply: Callable[[str | bytes], str | None] | None = None

    def render(self, now_s: float) -> str:
        """The message to send at wall time `now_s` (epoch seconds)."""
        if self.kind != "json":
            return self.message
        return self.message.replace("{ts_s}", str(int(now_s))).replace("{ts}", str(int(now_s * 1000)))


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
    # display order among venues (docs/DESIGN.md §5.1 lists them in this order)
    rank: int = 100
    # liquidation topics exist per instrument only: the live source subscribes every perpetual
    # from the venue's instrument list (Bybit, Kraken, dYdX)
    liquidations_per_symbol: bool = False
    # where the venue's instrument list comes from (feeds/metadata.py); None = no endpoint
    metadata_source: MetadataSource | None = None


# --------------------------------------------------------------------------- helpers


QUOTES = ("USDT", "USDC", "USD", "BUSD", "FDUSD")


def base_asset(symbol: str) -> str:
    """Best-effort base asset of a venue symbol when no metadata is at hand.

    "BTCUSDT" -> "BTC", "BTC-USDT-SWAP" -> "BTC", "XBTUSD" -> "BTC", "PF_XBTUSD" -> "BTC",
    "ETH-PERP" -> "ETH", "BTC_USDT" -> "BTC", "1000PEPEUSDT" -> "1000PEPE" (the multiplier is
    folded by `normalize_asset`), "BTCUSD_PERP" -> "BTC", "FI_XBTUSD_210924" -> "BTC".
    """
    s = symbol.upper()
    for prefix in ("PF_", "PI_", "FI_", "FF_"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    for sep in ("-", "_", "/", ":"):
        if sep in s:
            s = s.split(sep, 1)[0]
            break
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
    kind = type(x)
    if kind is str or kind is float or kind is int:  # what frames hold (one test, not two)
        return float(x)
    if isinstance(x, bool) or x is None:
        raise ValueError(f"not a number: {x!r}")
    return float(x)
