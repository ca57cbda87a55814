"""Issue 12 row 1: one event stamped three years ahead used to make retention (newest row −
30 days) delete every stored row (59,118 rows wiped), and a viewer or a replay wrote into
the default history store. Now retention runs on the wall clock (live) or not at all
(replay, viewer), a viewer or replay writes no history unless `--history-url` says so, and
a timestamp no database can store is counted and dropped instead of poisoning a batch.
Checked on real SQLite and on the real PostgreSQL server the history tests start."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from cascade_tui.capture import CaptureWriter
from cascade_tui.config import Config
from cascade_tui.runtime.build import build_pipeline
from cascade_tui.runtime.options import RunOptions
from cascade_tui.sinks.history import HistorySink
from cascade_tui.sources.simulate import MarketSimulator
from tests.history.test_history_postgres import PgCluster, _count, _reset, pg  # noqa: F401 (fixture)
from tests.history.test_history_sqlite import liq, signal

THREE_YEARS_S = 3 * 365 * 86400.0


async def fill_then_send_a_future_event(sink: HistorySink, now: float) -> None:
    """200 signals and 200 liquidation seconds over the last day, two rows 40 days old, then
    one signal and one liquidation three years ahead; waits for a prune round after them."""
    await sink.start()
    for i in range(200):
        sink.on_signal(signal(now - 86400 + i * 60))
        sink.on_event(liq(now - 86400 + i * 60 + 0.5, 1000.0))
    sink.on_signal(signal(now - 40 * 86400))
    sink.on_event(liq(now - 40 * 86400 + 0.5, 5.0))
    sink.on_signal(signal(now + THREE_YEARS_S))
    sink.on_event(liq(now + THREE_YEARS_S + 0.5, 1.0))
    assert await sink.flush(timeout_s=30)
    rounds = sink.stats()["prune_rounds"]
    deadline = time.monotonic() + 30
    while sink.stats()["prune_rounds"] <= rounds:  # a prune round that saw the future rows
        assert time.monotonic() < deadline, "no prune round ran"
        await asyncio.sleep(0.02)
    await sink.close()


async def test_sqlite_keeps_every_recent_row_after_a_far_future_event(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    now = time.time()
    sink = HistorySink(f"sqlite:///{db}", flush_interval_s=0.02, prune_every_s=0.0)
    await fill_then_send_a_future_event(sink, now)
    con = sqlite3.connect(db)
    try:
        # 200 recent + the future one; the 40-day-old row went (wall-clock retention still works)
        assert con.execute("SELECT count(*) FROM signals").fetchone()[0] == 201
        assert con.execute("SELECT count(*) FROM liq_1s").fetchone()[0] == 201
        assert con.execute("SELECT count(*) FROM signals WHERE ts < ?", (now - 30 * 86400,)).fetchone()[0] == 0
    finally:
        con.close()
    assert sink.stats()["pruned"] == 2


async def test_postgresql_keeps_every_recent_row_after_a_far_future_event(pg: PgCluster) -> None:  # noqa: F811
    _reset(pg.url)
    now = time.time()
    sink = HistorySink(pg.url, flush_interval_s=0.02, prune_every_s=0.0)
    await fill_then_send_a_future_event(sink, now)
    assert _count(pg.url, "signals") == 201 and _count(pg.url, "liq_1s") == 201
    assert sink.stats()["pruned"] == 2


async def test_without_retention_nothing_is_ever_pruned(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    sink = HistorySink(str(db), flush_interval_s=0.02, prune_every_s=0.0, retention_days=None)
    await sink.start()
    sink.on_signal(signal(1_000_000_000.0))  # 2001: a replayed past
    sink.on_signal(signal(time.time()))
    assert await sink.flush()
    await asyncio.sleep(0.1)
    await sink.close()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM signals").fetchone()[0] == 2
    con.close()
    assert sink.stats()["pruned"] == 0 and sink.stats()["retention_days"] is None


async def test_unstorable_timestamps_are_counted_not_written(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    sink = HistorySink(str(db), flush_interval_s=0.02)
    await sink.start()
    bad = (9.3e18, float("inf"), float("nan"), -5.0)
    for ts in bad:
        sink.on_signal(msgspec.structs.replace(signal(1.0), ts=ts))
        sink.on_event(msgspec.structs.replace(liq(1.0, 10.0), recv_ts=ts))
    sink.on_signal(signal(time.time()))
    assert await sink.flush()
    await sink.close()
    drops = sink.stats()["drops"]
    assert drops["bad_ts"] == 2 * len(bad) and drops["signals"] == 0
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM signals").fetchone()[0] == 1
    con.close()


def opts(source: str, tmp_path: Path, history_url: str | None = None) -> RunOptions:
    cap = tmp_path / "one.cap.gz"
    if not cap.exists():
        with CaptureWriter(cap) as writer:
            for frame in MarketSimulator(1, profile="quiet").frames(5.0):
                writer.write(frame)
    return RunOptions(
        source=source, replay=[str(cap)] if source == "replay" else [], redis_url="off",
        redis_prefix="", history_url=history_url, no_ui=True, config=Config(),
    )  # fmt: skip


@pytest.mark.parametrize("source", ["redis", "replay", "demo"])
def test_viewers_replays_and_demos_write_no_history_unless_asked(source: str, tmp_path: Path) -> None:
    pipeline = build_pipeline(opts(source, tmp_path))
    assert not [s for s in pipeline.sinks if isinstance(s, HistorySink)]
    asked = build_pipeline(opts(source, tmp_path, history_url=f"sqlite:///{tmp_path / 'h.sqlite'}"))
    (history,) = [s for s in asked.sinks if isinstance(s, HistorySink)]
    assert history.retention_s is None, "only a live run prunes"


def test_live_runs_keep_history_with_wall_clock_retention(tmp_path: Path) -> None:
    pipeline = build_pipeline(opts("live", tmp_path, history_url=f"sqlite:///{tmp_path / 'h.sqlite'}"))
    (history,) = [s for s in pipeline.sinks if isinstance(s, HistorySink)]
    assert history.retention_s == 30 * 86400.0


def test_a_real_replay_leaves_the_default_store_alone(tmp_path: Path) -> None:
    cap = tmp_path / "sim.cap.gz"
    with CaptureWriter(cap) as writer:
        for frame in MarketSimulator(2, profile="demo").frames(120.0):
            writer.write(frame)
    data = tmp_path / "data"
    env = {**os.environ, "CASCADE_DATA_DIR": str(data)}
    env.pop("CASCADE_REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", "--replay", str(cap), "--no-ui", "--redis-url", "off"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip(), "the replay produced signals"
    assert not (data / "history.sqlite").exists()
