"""Every replay speed-up leaves the signals byte-identical: the same capture is replayed with
and without each of them (capture v1 vs v2, whole batches vs frame-by-frame pacing, latency
timing on every frame vs one in 16, sinks with every hook vs none, snapshots rebuilt at the
dashboard's rate vs the headless one; the parser and engine fast
paths switched off one by one and all together) and against a plain reference loop (stdlib
json per line, parse, tick, process)."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureWriter
from cascade_tui.engine import Engine
from cascade_tui.engine import liqmap as liqmap_module
from cascade_tui.engine.core import MAX_TS
from cascade_tui.engine.liqmap import LiqMapParams, LiquidationMap
from cascade_tui.engine.prices import TRAIL_S, PriceTrail
from cascade_tui.engine.rates import SlotRing
from cascade_tui.engine.state import AssetState
from cascade_tui.engine.types import Signal, Snapshot, signal_encoder
from cascade_tui.feeds import base as feeds_base
from cascade_tui.feeds import make_parser
from cascade_tui.feeds.binance import BinanceParser
from cascade_tui.model import Event, Funding, Liquidation, Mark, OpenInterest, RawFrame, Trade
from cascade_tui.runtime.build import build_pipeline
from cascade_tui.runtime.options import RunOptions
from cascade_tui.runtime.pipeline import HEADLESS_SNAPSHOT_INTERVAL_S, SNAPSHOT_INTERVAL_S, Pipeline
from cascade_tui.sinks.base import Sink
from cascade_tui.sources.replay import ReplaySource
from cascade_tui.sources.simulate import MarketSimulator
from tests.engine.test_engine_components import _plain_extreme


class EveryHook(Sink):
    """Overrides every hook, so the pipeline calls them all."""

    def __init__(self) -> None:
        self.frames = self.events = self.snapshots = 0

    def on_frame(self, frame: RawFrame) -> None:
        self.frames += 1

    def on_event(self, ev: Event) -> None:
        self.events += 1

    def on_signal(self, sig: Signal) -> None:
        pass

    def on_snapshot(self, snap: Snapshot) -> None:
        self.snapshots += 1


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # 7.5 market minutes: ~60 signals at every level (burst, score, breadth, near_cluster,
    # level drops) for a replay of ~3 s; these tests replay it 19 times
    frames = list(MarketSimulator(5, profile="demo").frames(450.0))
    d = tmp_path_factory.mktemp("identity")
    paths = []
    for version in (1, 2):
        path = d / f"v{version}.cap.gz"
        with CaptureWriter(path, version=version) as w:
            w.write_many(frames)
        paths.append(path)
    return paths[0], paths[1]


def replay(
    path: Path,
    *,
    speed: float = 0.0,
    sample_every: int = 16,
    sinks: tuple[Sink, ...] = (),
    engine: Engine | None = None,
    snapshot_interval_s: float = SNAPSHOT_INTERVAL_S,
) -> list[bytes]:
    lines: list[bytes] = []
    pipeline = Pipeline(
        ReplaySource([path], speed=speed),
        engine or Engine(),
        list(sinks),
        on_signal=lambda s: lines.append(signal_encoder.encode(s)),
        latency_sample_every=sample_every,
    )
    pipeline.snapshot_interval_s = snapshot_interval_s
    asyncio.run(pipeline.run())
    return lines


def reference(path: Path) -> list[bytes]:
    """No optimisation at all: stdlib json per line, one frame at a time."""
    engine = Engine()
    parsers: dict[str, object] = {}
    lines: list[bytes] = []
    with gzip.open(path, "rb") as fh:
        next(fh)
        for line in fh:
            rec = json.loads(line)
            data = rec["frame"]
            parser = parsers.get(rec["venue"]) or parsers.setdefault(rec["venue"], make_parser(rec["venue"]))
            signals = engine.tick(rec["ts"])
            for ev in parser.parse(data, rec["ts"], rec.get("channel", "")):  # type: ignore[attr-defined]
                signals.extend(engine.process(ev))
            lines.extend(signal_encoder.encode(s) for s in signals)
    return lines


def test_signals_are_identical_with_and_without_each_optimisation(captures: tuple[Path, Path]) -> None:
    v1, v2 = captures
    expected = reference(v1)
    assert len(expected) >= 3, "the market must raise signals for the comparison to mean something"
    assert replay(v2) == expected  # everything on: v2, whole batches, sampled timing, hooks bound
    assert replay(v1) == expected  # capture v1
    assert replay(v2, sample_every=1) == expected  # every frame timed
    assert replay(v2, speed=1e9) == expected  # frame-by-frame pacing path
    assert replay(v2, snapshot_interval_s=HEADLESS_SNAPSHOT_INTERVAL_S) == expected  # --no-ui's rate
    hooks = EveryHook()
    assert replay(v2, sinks=(hooks,)) == expected  # every sink hook called
    assert hooks.frames > 0 and hooks.events > 0 and hooks.snapshots > 0


def test_headless_runs_rebuild_the_snapshot_at_the_headless_rate_unless_a_sink_reads_it() -> None:
    """--no-ui without Redis: nothing reads the snapshot between the health checks, so it is
    rebuilt once a wall second; a sink that publishes snapshots (Redis) still gets the full rate."""
    opts = RunOptions(source="demo", no_ui=True, redis_url="off", duration_s=1.0)
    headless = build_pipeline(opts)
    assert headless.snapshot_interval_s == HEADLESS_SNAPSHOT_INTERVAL_S
    assert headless._snapshot_interval() == HEADLESS_SNAPSHOT_INTERVAL_S
    headless.sinks.append(EveryHook())
    assert headless._snapshot_interval() == SNAPSHOT_INTERVAL_S
    dashboard = build_pipeline(RunOptions(source="demo", no_ui=False, redis_url="off", duration_s=1.0))
    assert dashboard._snapshot_interval() == SNAPSHOT_INTERVAL_S


# The liquidation map's near-cluster check runs for every asset every second, but with the
# defaults it needs 30 minutes of history and $1 M near price: this map finds clusters within
# the 7.5-minute capture, so its fast path takes part in the signals compared.
EAGER_MAP = LiqMapParams(min_history_s=60.0, near_cluster_floor_usd=1e4, near_cluster_mult=0.05)


def eager_map_engine() -> Engine:
    engine = Engine()
    engine.liqmap = LiquidationMap(EAGER_MAP)
    return engine


def _validate_every_event_plainly(mp: pytest.MonkeyPatch) -> None:
    # no check by exact type: every event goes through valid_event() and _admit()
    mp.setattr(feeds_base, "_VALID_BY_TYPE", {})


def _binance_rows_through_the_shared_builders(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(
        BinanceParser, "_typed_agg_trade",
        lambda self, item, recv_ts, out: self._trade(item.s, item.p, item.q, item.m, item.T, recv_ts, out),
    )  # fmt: skip
    mp.setattr(
        BinanceParser, "_typed_mark_price",
        lambda self, item, recv_ts, out: self._mark_and_funding(
            item.s, item.E, item.p, item.i, item.r, item.T, recv_ts, out
        ),
    )  # fmt: skip


def _expected_near_band_by_band(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(LiquidationMap, "expected_near", LiquidationMap.expected_near_reference)


def _expectation_for_every_side(mp: pytest.MonkeyPatch) -> None:
    # no bound: the expectation is computed for every side every second
    mp.setattr(LiquidationMap, "near_bound", lambda self, am, long: float("inf"))


def _engine_clock_through_advance_to(mp: pytest.MonkeyPatch) -> None:
    # process() and tick() as they were before their inline clock move and process() before
    # its direct call of the map's handler: every event through _advance_to and on_event
    def process(self: Engine, ev: Event) -> list[Signal]:
        out: list[Signal] = []
        t = self._advance_to(ev.recv_ts, out)
        if t is None:
            return out
        kind = type(ev)
        if kind is Liquidation:
            self._on_liquidation(ev, t, out)  # type: ignore[arg-type]
        elif kind is Trade:
            self._on_price(ev, t, True)  # type: ignore[arg-type]
        elif kind is Mark:
            self._on_price(ev, t, False)  # type: ignore[arg-type]
        elif kind is OpenInterest:
            self._on_open_interest(ev, t)  # type: ignore[arg-type]
        elif kind is Funding:
            self._on_funding(ev, t)  # type: ignore[arg-type]
            return out
        else:
            self._rejected += 1
            return out
        self.liqmap.on_event(ev, t)
        return out

    def tick(self: Engine, ts: float) -> list[Signal]:
        out: list[Signal] = []
        if not (math.isfinite(ts) and 0.0 <= ts <= MAX_TS) or self._clock is None or ts <= self._clock:
            return out
        if ts >= self._next_boundary:
            self._cross_seconds(ts, out)
        elif ts >= self._next_due:
            self._run_due(ts, out)
        self._clock = ts
        return out

    mp.setattr(Engine, "process", process)
    mp.setattr(Engine, "tick", tick)


def _events_counted_then_asset_found(mp: pytest.MonkeyPatch) -> None:
    def counted_asset(self: Engine, kind: str, asset: str, t: float) -> AssetState:
        self._kind_counts[kind] += 1
        self._events_total += 1
        self._sec_events += 1
        return self._asset(asset, t)

    mp.setattr(Engine, "_counted_asset", counted_asset)


def _assets_near_through_near_cluster(mp: pytest.MonkeyPatch) -> None:
    def assets_near(self: LiquidationMap, t: float) -> list[str]:
        return [a for a in self._assets if self.near_cluster(a, t) is not None]

    mp.setattr(LiquidationMap, "assets_near", assets_near)


def _every_asset_refreshed_side_by_side(mp: pytest.MonkeyPatch) -> None:
    # no asset settled by its held bounds at once: both sides go through near_bound each second
    mp.setattr(LiquidationMap, "_stays_clear", lambda self, am: False)


def _price_trail_advanced_to_each_tick(mp: pytest.MonkeyPatch) -> None:
    def update(self: PriceTrail, sec: int, t: float, price: float) -> None:
        self._advance(sec)
        self.slots[sec % TRAIL_S] = price
        self.last = price
        self.last_ts = t

    mp.setattr(PriceTrail, "update", update)


def _price_extreme_slot_by_slot(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(PriceTrail, "extreme", _plain_extreme)


def _windows_take_whole_rows(mp: pytest.MonkeyPatch) -> None:
    def add_three(self: SlotRing, sec: int, k1: int, v1: float, k2: int, v2: float, k3: int, v3: float) -> None:
        row = [0.0] * len(self.channels)
        row[k1], row[k2], row[k3] = v1, v2, v3
        self.add_row(sec, tuple(row))

    mp.setattr(SlotRing, "add_three", add_three)


def _closes_applied_when_they_come(mp: pytest.MonkeyPatch) -> None:
    # every OI decrease applied to every band of its venue at once, not when the map is read
    mp.setattr(liqmap_module, "_SETTLE_BELOW", 2.0)


FAST_PATHS = {
    "event checks by exact type": _validate_every_event_plainly,
    "binance aggTrade/markPrice rows built inline": _binance_rows_through_the_shared_builders,
    "liquidation map expected_near": _expected_near_band_by_band,
    "liquidation map skips sides under the bar": _expectation_for_every_side,
    "engine clock moved inline, map handler called directly": _engine_clock_through_advance_to,
    "engine counts and finds the asset in one call": _events_counted_then_asset_found,
    "liquidation map assets_near without near_cluster": _assets_near_through_near_cluster,
    "liquidation map settles a quiet asset at once": _every_asset_refreshed_side_by_side,
    "price trail opens the next second without a call": _price_trail_advanced_to_each_tick,
    "liquidation map applies voluntary closes when read": _closes_applied_when_they_come,
    "price trail reads its window as two slices": _price_extreme_slot_by_slot,
    "60 s windows add three named channels": _windows_take_whole_rows,
}


def test_parser_and_engine_fast_paths_switched_off_give_the_same_signals(
    captures: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, v2 = captures
    fast = replay(v2, engine=eager_map_engine())
    assert len(fast) >= 3
    assert any(b"near_cluster" in line for line in fast), "the near-cluster check must raise signals"
    with monkeypatch.context() as mp:
        for switch_off in FAST_PATHS.values():
            switch_off(mp)
        assert replay(v2, engine=eager_map_engine()) == fast, "all fast paths off"
    for name, switch_off in FAST_PATHS.items():
        with monkeypatch.context() as mp:
            switch_off(mp)
            assert replay(v2, engine=eager_map_engine()) == fast, name
