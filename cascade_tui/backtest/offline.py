"""Offline replay: captures -> parsers -> engine, synchronously and as fast as possible.

Parsing is the expensive, parameter-independent half, so a capture is parsed once into a
`ParsedCapture` (events grouped by frame, plus what the evaluation needs besides signals:
the observed liquidations for venue coverage and the BTC price path for sizing). Each
parameter set then only re-runs the engine over those events (`run_engine`), the way the
live pipeline would: `engine.tick(frame ts)` before the frame's events, in capture order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cascade_tui.capture import CaptureError, CaptureReader
from cascade_tui.engine import Engine, EngineParams, Signal
from cascade_tui.feeds import make_parser
from cascade_tui.feeds.base import FrameParser
from cascade_tui.model import Event, Liquidation, Mark, Trade

PRICE_ASSET = "BTC"  # the sizing evaluation follows the BTC price path


@dataclass(frozen=True)
class ObservedLiquidation:
    ts: float  # receive time
    venue: str
    asset: str
    side: str
    usd: float
    sampled: bool


@dataclass
class VenueCoverage:
    frames: int = 0
    parse_errors: int = 0
    liquidations: int = 0
    liquidation_usd: float = 0.0
    sampled: bool = False


@dataclass
class ParsedCapture:
    path: Path
    frames: list[tuple[float, list[Event]]]  # (receive ts, events of that frame); empty when streamed
    frame_count: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    venues: dict[str, VenueCoverage] = field(default_factory=dict)
    unknown_venue_frames: int = 0
    error: str | None = None  # where a damaged capture stopped
    liquidations: list[ObservedLiquidation] = field(default_factory=list)
    btc_prices: list[tuple[float, float]] = field(default_factory=list)  # (second, last price)

    @property
    def span_s(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return self.last_ts - self.first_ts


def iter_capture(
    path: str | os.PathLike[str],
    out: ParsedCapture,
    metadata: dict[str, dict[str, Any]] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[float, list[Event]]]:
    """Parse a capture frame by frame, filling `out`'s summary (venues, liquidations, BTC
    prices, span) as it goes; `on_frame(frames, compressed bytes read)` every 5000 frames.
    Raises CaptureError when it is not a capture at all (or not a
    single frame of it can be read); a capture damaged later stops at the damage (`error`)."""
    reader = CaptureReader(path)
    parsers: dict[str, FrameParser | None] = {}
    last_second: int | None = None
    for n, frame in enumerate(reader, 1):
        out.frame_count = n
        if frame.venue not in parsers:
            try:
                parsers[frame.venue] = make_parser(frame.venue, (metadata or {}).get(frame.venue))
            except (KeyError, ImportError, AttributeError):
                parsers[frame.venue] = None
        parser = parsers[frame.venue]
        if out.first_ts is None:
            out.first_ts = frame.ts
        out.last_ts = frame.ts
        if on_frame is not None and n % 5000 == 0:
            on_frame(n, reader.bytes_read)
        if parser is None:
            out.unknown_venue_frames += 1
            yield frame.ts, []
            continue
        events = parser.parse(frame.data, frame.ts, frame.channel)
        cov = out.venues.setdefault(frame.venue, VenueCoverage(sampled=parser.sampled))
        cov.frames += 1
        cov.parse_errors = parser.stats.parse_errors
        for ev in events:
            if isinstance(ev, Liquidation):
                cov.liquidations += 1
                cov.liquidation_usd += ev.usd
                cov.sampled = cov.sampled or ev.sampled
                out.liquidations.append(
                    ObservedLiquidation(ev.recv_ts, ev.venue, ev.asset, ev.side, ev.usd, ev.sampled)
                )
            elif isinstance(ev, Trade | Mark) and ev.asset == PRICE_ASSET:
                second = int(ev.recv_ts)
                if second == last_second:
                    out.btc_prices[-1] = (float(second), ev.price)
                else:
                    out.btc_prices.append((float(second), ev.price))
                    last_second = second
        yield frame.ts, events
    out.error = reader.error
    if reader.error and out.frame_count == 0:
        raise CaptureError(f"not a readable capture: {reader.error}")


def parse_capture(
    path: str | os.PathLike[str],
    metadata: dict[str, dict[str, Any]] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> ParsedCapture:
    """A whole capture parsed and kept in memory (for re-running the engine many times)."""
    out = ParsedCapture(path=Path(path), frames=[])
    out.frames = list(iter_capture(path, out, metadata, on_frame))
    return out


@dataclass(frozen=True)
class ReplayFilter:
    """Which observed liquidations reach the engine (venue-coverage experiments)."""

    only_throttled: bool = False  # drop liquidations from complete (unsampled) feeds
    drop_venues: frozenset[str] = frozenset()  # drop every event of these venues

    def keeps(self, ev: Event) -> bool:
        if ev.venue in self.drop_venues:
            return False
        return not (self.only_throttled and isinstance(ev, Liquidation) and not ev.sampled)

    @property
    def active(self) -> bool:
        return self.only_throttled or bool(self.drop_venues)


RegimeLog = list[tuple[float, str]]  # (engine ts, BTC volatility regime from then on)
REGIME_SAMPLE_S = 10.0  # how often (market time) the regime is read for the sizing evaluation


def run_engine(
    capture: ParsedCapture,
    params: EngineParams,
    replay_filter: ReplayFilter | None = None,
    regime_log: RegimeLog | None = None,
) -> list[Signal]:
    """Every signal transition the engine emits over a parsed capture, in order."""
    return run_frames(capture.frames, params, replay_filter, regime_log)


def replay_capture(
    path: str | os.PathLike[str],
    params: EngineParams,
    replay_filter: ReplayFilter | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    regime_log: RegimeLog | None = None,
) -> tuple[ParsedCapture, list[Signal]]:
    """Parse and run in one pass without keeping the events (one evaluation, any capture size)."""
    out = ParsedCapture(path=Path(path), frames=[])
    signals = run_frames(iter_capture(path, out, on_frame=on_frame), params, replay_filter, regime_log)
    return out, signals


def run_frames(
    frames: Iterable[tuple[float, list[Event]]],
    params: EngineParams,
    replay_filter: ReplayFilter | None = None,
    regime_log: RegimeLog | None = None,
) -> list[Signal]:
    """The live pipeline's order: tick the clock to the frame's receive time, then its events.

    With `regime_log`, the engine's BTC regime is read every REGIME_SAMPLE_S of market time
    (from its snapshot, as the UI would) and each change is appended.
    """
    engine = Engine(params)
    signals: list[Signal] = []
    keep = replay_filter.keeps if replay_filter is not None and replay_filter.active else None
    next_sample = float("-inf")
    for ts, events in frames:
        signals.extend(engine.tick(ts))
        for ev in events:
            if keep is None or keep(ev):
                signals.extend(engine.process(ev))
        if regime_log is not None and ts >= next_sample:
            next_sample = ts + REGIME_SAMPLE_S
            regime = engine.snapshot().volatility.regime
            if not regime_log or regime_log[-1][1] != regime:
                regime_log.append((ts, regime))
    return signals


def filtered_liquidations(
    capture: ParsedCapture, replay_filter: ReplayFilter | None
) -> Iterable[ObservedLiquidation]:
    """The liquidations the engine saw under a filter (for venue coverage)."""
    for liq in capture.liquidations:
        if replay_filter is not None:
            if liq.venue in replay_filter.drop_venues:
                continue
            if replay_filter.only_throttled and not liq.sampled:
                continue
        yield liq
