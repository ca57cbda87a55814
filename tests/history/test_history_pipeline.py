"""The history sink inside the real pipeline: a replayed simulator capture ends up in SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cascade_tui.capture import CaptureWriter
from cascade_tui.engine.types import Signal
from cascade_tui.model import Event, Liquidation
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.base import Sink
from cascade_tui.sinks.history import HistorySink
from cascade_tui.sources.replay import ReplaySource
from cascade_tui.sources.simulate import MarketSimulator


async def test_replay_through_pipeline_stores_every_signal_and_liquidation(tmp_path: Path) -> None:
    cap = tmp_path / "sim.cap.gz"
    with CaptureWriter(cap) as writer:
        for frame in MarketSimulator(4, profile="demo").frames(180.0):
            writer.write(frame)
    db = tmp_path / "history.sqlite"
    sink = HistorySink(str(db), flush_interval_s=0.05)
    seen: list[Signal] = []
    liquidations: dict[str, float] = {}

    class Tally(Sink):
        """Counts the liquidation USD the pipeline hands to its sinks, per venue."""

        def on_event(self, ev: Event) -> None:
            if isinstance(ev, Liquidation):
                liquidations[ev.venue] = liquidations.get(ev.venue, 0.0) + ev.usd

    pipeline = Pipeline(ReplaySource([cap], speed=0.0), sinks=[sink, Tally()], on_signal=seen.append)
    await pipeline.run()
    stats = sink.stats()
    assert stats["state"] == "closed" and stats["drops"] == {"aggregates": 0, "signals": 0, "bad_ts": 0}
    con = sqlite3.connect(db)
    stored = con.execute("SELECT ts, asset, level, state, episode FROM signals ORDER BY rowid").fetchall()
    assert stored == [(s.ts, s.asset, s.level, s.state, s.episode) for s in seen] and seen
    per_venue = dict(
        con.execute("SELECT venue, sum(long_usd + short_usd) FROM liq_1s GROUP BY venue").fetchall()
    )
    assert per_venue.keys() == liquidations.keys()
    for venue, usd in liquidations.items():
        assert abs(per_venue[venue] - usd) <= 1e-6 * usd
    assert con.execute("SELECT count(*) FROM regimes").fetchone()[0] >= 1
    con.close()
