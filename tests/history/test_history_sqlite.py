"""History sink on SQLite (always available) and the buffering rules with a failing backend."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from cascade_tui.engine.types import Signal
from cascade_tui.model import Funding, Liquidation, OpenInterest
from cascade_tui.sinks.history import HistorySink
from cascade_tui.sinks.history_db import HistoryBackend, Rows, read_history

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def signal(ts: float, level: int = 2, state: str = "open", asset: str = "BTC") -> Signal:
    names = ("NONE", "WATCH", "WARNING", "CRITICAL")
    return Signal(
        1,
        ts,
        asset,
        level,
        names[level],
        state,
        f"{asset}-{int(ts * 1000)}",
        0.6,
        {"velocity": 0.5},
        "long",
        ["bybit"],
        "NORMAL",
    )


def liq(ts: float, usd: float, side: str = "long", venue: str = "bybit", asset: str = "BTC") -> Liquidation:
    return Liquidation(
        venue, f"{asset}USDT", asset, side, 90_000.0, usd / 90_000.0, usd, usd / 90_000.0, ts, ts
    )  # type: ignore[arg-type]


async def test_sqlite_stores_signals_aggregates_oi_funding(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    sink = HistorySink(f"sqlite:///{db}", flush_interval_s=0.02)
    await sink.start()
    sink.on_signal(signal(T0))
    sink.on_signal(signal(T0 + 5, 3, "escalate"))
    # second T0: two long liquidations 100 + 200 on bybit, one short 50 -> one row
    sink.on_event(liq(T0 + 0.1, 100.0))
    sink.on_event(liq(T0 + 0.5, 200.0))
    sink.on_event(liq(T0 + 0.9, 50.0, side="short"))
    sink.on_event(liq(T0 + 1.2, 10.0, venue="binance"))  # later second: flushes T0
    sink.on_event(OpenInterest("bybit", "BTCUSDT", "BTC", 1000.0, T0, T0 + 1.3, 9e7))
    sink.on_event(Funding("bybit", "BTCUSDT", "BTC", 0.0001, 8.0, T0, T0 + 1.4))
    assert await sink.flush()
    await sink.close()
    assert sink.stats()["drops"] == {"aggregates": 0, "signals": 0, "bad_ts": 0}
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = con.execute(
        "SELECT ts, venue, long_count, long_usd, short_count, short_usd FROM liq_1s ORDER BY ts"
    ).fetchall()
    # T0 (bybit) written on the later event, T0+1 (binance) at close
    assert rows == [(T0, "bybit", 2, 300.0, 1, 50.0), (T0 + 1, "binance", 1, 10.0, 0, 0.0)]
    assert con.execute("SELECT count(*) FROM signals").fetchone()[0] == 2
    # funding 0.0001 per 8 h -> 0.0001 × 1095 = 0.1095 annualized
    assert abs(con.execute("SELECT annualized FROM funding").fetchone()[0] - 0.1095) < 1e-12
    assert con.execute("SELECT oi, usd FROM open_interest").fetchone() == (1000.0, 9e7)
    con.close()

    report = read_history(f"sqlite:///{db}", db, last=1, days=7)
    assert [s["level_name"] for s in report["signals"]] == ["CRITICAL"]  # newest first, last=1
    (day,) = report["days"]
    assert day["day"] == "2023-11-14" and day["WARNING"] == 1 and day["CRITICAL"] == 1
    assert day["liquidations"] == 4 and day["long_usd"] == 310.0 and day["short_usd"] == 50.0


async def test_writing_twice_does_not_duplicate_signals(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    for _ in range(2):
        sink = HistorySink(str(db), flush_interval_s=0.02)
        await sink.start()
        sink.on_signal(signal(T0))
        await sink.close()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM signals").fetchone()[0] == 1
    con.close()


class FlakyBackend(HistoryBackend):
    """In-memory backend that is 'down' until told otherwise."""

    description = "flaky"

    def __init__(self) -> None:
        self.up = False
        self.rows: Rows = {}
        self.connects = 0

    async def connect(self) -> None:
        self.connects += 1
        if not self.up:
            raise ConnectionRefusedError("database down")

    async def write(self, rows: Rows) -> None:
        if not self.up:
            raise ConnectionResetError("database went away")
        for table, data in rows.items():
            self.rows.setdefault(table, []).extend(data)

    async def prune(self, before_ts: float) -> int:
        return 0

    async def close(self) -> None:
        return None


async def test_database_down_buffers_and_drops_aggregates_before_signals() -> None:
    backend = FlakyBackend()
    sink = HistorySink(
        backend=backend, max_buffer=10, flush_interval_s=0.01, reconnect_min_s=0.01, reconnect_max_s=0.02
    )
    await sink.start()
    for i in range(4):
        sink.on_signal(signal(T0 + i))
    for i in range(20):  # 20 OI rows into the 6 places left: 14 oldest dropped
        sink.on_event(OpenInterest("bybit", "BTCUSDT", "BTC", float(i), T0, T0 + i, None))
    await asyncio.sleep(0.1)
    stats = sink.stats()
    assert stats["state"] in ("connecting", "reconnecting") and stats["buffered"] == 10
    assert stats["drops"] == {"aggregates": 14, "signals": 0, "bad_ts": 0}
    # more signals than the bound can hold: the rest of the aggregates go first (6), then the
    # oldest signals (4 + 8 = 12 signals for 10 places -> 2 signals dropped)
    for i in range(8):
        sink.on_signal(signal(T0 + 100 + i))
    assert sink.stats()["drops"] == {"aggregates": 20, "signals": 2, "bad_ts": 0}
    backend.up = True
    assert await sink.flush(timeout_s=5)
    await sink.close()
    written = [row[0] for row in backend.rows["signals"]]
    assert written == [T0 + 2, T0 + 3] + [T0 + 100 + i for i in range(8)]
    assert backend.connects >= 2


async def test_write_failure_keeps_the_batch() -> None:
    backend = FlakyBackend()
    backend.up = True
    sink = HistorySink(backend=backend, flush_interval_s=0.01, reconnect_min_s=0.01)
    await sink.start()
    sink.on_signal(signal(T0))
    assert await sink.flush()
    backend.up = False  # the next write fails, the batch must survive
    sink.on_signal(signal(T0 + 1))
    await asyncio.sleep(0.05)
    assert sink.stats()["buffered_signals"] == 1 and sink.stats()["failures"] >= 1
    backend.up = True
    assert await sink.flush()
    await sink.close()
    assert [r[0] for r in backend.rows["signals"]] == [T0, T0 + 1]
    assert sink.stats()["state"] == "closed"


async def test_old_rows_are_pruned_by_the_wall_clock(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    # retention 1 day, pruning at every write round: rows older than now - 1 day go
    sink = HistorySink(
        str(db), flush_interval_s=0.02, retention_days=1.0, prune_every_s=0.0,
        wall_clock=lambda: T0 + 3 * 86400 + 60,
    )  # fmt: skip
    await sink.start()
    sink.on_signal(signal(T0))
    sink.on_signal(signal(T0 + 3 * 86400))
    for _ in range(100):
        if sink.stats()["pruned"] >= 1:
            break
        await asyncio.sleep(0.02)
    await sink.close()
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("SELECT ts FROM signals")] == [T0 + 3 * 86400]
    con.close()


def test_history_url_choice(tmp_path: Path) -> None:
    from cascade_tui.sinks.history import history_sink_for

    assert history_sink_for("off", "") is None
    assert history_sink_for(None, "off") is None
    sink = history_sink_for(None, f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert sink is not None and sink.stats()["backend"] == f"sqlite:{tmp_path / 'x.sqlite'}"
    pg = history_sink_for("postgresql://u@127.0.0.1:1/db", "")
    assert pg is not None and pg.stats()["backend"] == "postgresql"


async def test_snapshot_clock_closes_seconds_and_records_regime_changes(tmp_path: Path) -> None:
    from cascade_tui.engine import Engine

    db = tmp_path / "h.sqlite"
    sink = HistorySink(str(db), flush_interval_s=0.02)
    await sink.start()
    engine = Engine()
    event = liq(T0 + 0.3, 500.0)
    engine.process(event)
    sink.on_event(event)
    sink.on_snapshot(engine.snapshot())  # same second: nothing to close yet, first regime recorded
    engine.tick(T0 + 5.0)
    sink.on_snapshot(engine.snapshot())  # the clock moved on: second T0 is complete
    assert await sink.flush()
    con = sqlite3.connect(db)
    assert con.execute("SELECT ts, long_usd FROM liq_1s").fetchall() == [(T0, 500.0)]
    regimes = con.execute("SELECT regime, previous FROM regimes").fetchall()
    assert regimes == [(engine.snapshot().volatility.regime, None)]  # unchanged regime: one row
    con.close()
    await sink.close()
