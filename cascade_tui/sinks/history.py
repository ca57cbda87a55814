"""History sink: signals, 1-second liquidation aggregates, regime changes, OI and funding
into a database (SQLite in WAL mode by default, PostgreSQL/TimescaleDB with a URL).

The engine's loop only appends to a bounded in-memory buffer; a writer task takes batches
from it and writes each batch in one transaction (the SQLite calls run on their own thread).
A batch leaves the buffer only when the database committed it: if the database is down the
batch goes back to the front, the writer reconnects with backoff, and the hooks keep
buffering. The bound counts every buffered row; when it is reached the oldest aggregate /
regime / OI / funding row is dropped first, and signals only when nothing else is left
(both counted in stats()["drops"]).

Liquidations are summed per (second of receive time, venue, asset); a second is handed to
the buffer once a later second is seen (a later liquidation, or the engine clock in a
snapshot) and at close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cascade_tui.backoff import Backoff
from cascade_tui.engine.types import Signal, Snapshot, signal_encoder
from cascade_tui.model import Event, Funding, Liquidation, OpenInterest, annualized_funding
from cascade_tui.redaction import scrub_secrets
from cascade_tui.sinks.base import Sink
from cascade_tui.sinks.history_db import (
    TABLES,
    HistoryBackend,
    PostgresBackend,
    Rows,
    SQLiteBackend,
    is_postgres_url,
    sqlite_path,
)
from cascade_tui.text import printable

log = logging.getLogger(__name__)

DEFAULT_FILE = "history.sqlite"
DEFAULT_RETENTION_DAYS = 30.0
MIN_TS = 0.0  # 1970
MAX_TS = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the end of PostgreSQL's and Python's datetimes


def default_history_path() -> Path:
    from cascade_tui.paths import data_dir

    return data_dir() / DEFAULT_FILE


def make_backend(url: str, retention_days: float | None) -> HistoryBackend:
    """ "" -> SQLite at paths.data_dir()/history.sqlite; postgresql://… -> PostgreSQL."""
    if is_postgres_url(url):
        return PostgresBackend(url, retention_days)
    return SQLiteBackend(sqlite_path(url, default_history_path()))


def history_sink_for(
    url_option: str | None, config_url: str = "", *, retention: bool = True
) -> HistorySink | None:
    """The sink a run should use: `--history-url` wins over `[history] url`; "off" = none.

    retention=False (a replay, a viewer): rows are never pruned, since the run's timestamps
    say nothing about how old the stored rows are."""
    url = url_option if url_option is not None else config_url
    if url == "off":
        return None
    return HistorySink(url, retention_days=DEFAULT_RETENTION_DAYS if retention else None)


class HistorySink(Sink):
    name = "history"

    def __init__(
        self,
        url: str = "",
        *,
        backend: HistoryBackend | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 2_000,
        flush_interval_s: float = 1.0,
        retention_days: float | None = DEFAULT_RETENTION_DAYS,
        prune_every_s: float = 600.0,
        wall_clock: Callable[[], float] = time.time,
        reconnect_min_s: float = 0.2,
        reconnect_max_s: float = 10.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        if max_buffer < 1 or batch_size < 1:
            raise ValueError("history: max_buffer and batch_size must be >= 1")
        self.backend = backend or make_backend(url, retention_days)
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        # retention is measured on the wall clock, never on the data: one event stamped three
        # years ahead must not make every stored row look expired. None = never prune.
        self.retention_s = retention_days * 86400.0 if retention_days is not None else None
        self.wall_clock = wall_clock
        self._url = url
        self.prune_every_s = prune_every_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.close_timeout_s = close_timeout_s
        self._signals: deque[tuple[Any, ...]] = deque()
        self._rows: deque[tuple[str, tuple[Any, ...]]] = deque()  # (table, row): droppable first
        self._agg: dict[tuple[int, str, str], list[float]] = {}
        self._agg_second: int | None = None  # newest second seen by the aggregator
        self._regime: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._connected = False
        self.state = "idle"  # idle connecting connected reconnecting closed
        self.last_error = ""
        self.drops: dict[str, int] = {"aggregates": 0, "signals": 0, "bad_ts": 0}
        self.written: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.batches = 0
        self.failures = 0
        self.reconnects = 0
        self.pruned = 0
        self.prune_rounds = 0
        self._last_prune = 0.0
        self._inflight = 0  # rows taken for the write in progress (not yet committed)

    # ------------------------------------------------------------------------ hooks (never block)

    def _make_room(self) -> None:
        while len(self._signals) + len(self._rows) >= self.max_buffer:
            if self._rows:
                self._rows.popleft()
                self.drops["aggregates"] += 1
            else:
                self._signals.popleft()
                self.drops["signals"] += 1

    def _nudge(self) -> None:
        # the writer wakes early only for a full batch; otherwise it writes every flush interval
        if len(self._signals) + len(self._rows) >= self.batch_size:
            self._wake.set()

    def _storable(self, ts: float) -> bool:
        """A row's time must be one every backend can store (PostgreSQL's timestamptz ends in
        year 9999): a nonsense timestamp is counted and dropped at the door, because once in
        the buffer it would fail its batch for ever."""
        if MIN_TS <= ts <= MAX_TS:
            return True
        self.drops["bad_ts"] += 1
        return False

    def _push_row(self, table: str, row: tuple[Any, ...]) -> None:
        if not self._storable(row[0]):
            return
        self._make_room()
        self._rows.append((table, row))
        self._nudge()

    def on_signal(self, sig: Signal) -> None:
        if not self._storable(sig.ts):
            return
        self._make_room()
        self._signals.append(
            (
                sig.ts,
                sig.asset,
                sig.level,
                sig.level_name,
                sig.state,
                sig.episode,
                sig.score,
                sig.direction,
                ",".join(sig.venues),
                sig.regime,
                signal_encoder.encode(sig).decode(),
            )
        )
        self._nudge()

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, Liquidation):
            if not MIN_TS <= ev.recv_ts <= MAX_TS:
                self.drops["bad_ts"] += 1
                return
            second = int(ev.recv_ts)
            if self._agg_second is not None and second != self._agg_second:
                # any other second closes the open ones (a late second is added to its stored
                # row by the upsert), so one far-off timestamp cannot hold every later second
                # in memory waiting for the clock to catch up
                self._flush_seconds()
            self._agg_second = second
            cell = self._agg.setdefault((second, ev.venue, ev.asset), [0, 0.0, 0, 0.0])
            if ev.side == "long":
                cell[0] += 1
                cell[1] += ev.usd
            else:
                cell[2] += 1
                cell[3] += ev.usd
        elif isinstance(ev, OpenInterest):
            self._push_row("open_interest", (ev.recv_ts, ev.venue, ev.asset, ev.oi, ev.usd))
        elif isinstance(ev, Funding):
            self._push_row(
                "funding",
                (
                    ev.recv_ts,
                    ev.venue,
                    ev.asset,
                    ev.rate,
                    ev.interval_h,
                    annualized_funding(ev.rate, ev.interval_h),
                ),
            )

    def _flush_seconds(self, before: int | None = None) -> None:
        done = [k for k in self._agg if before is None or k[0] < before]
        for key in sorted(done):
            lc, lu, sc, su = self._agg.pop(key)
            self._push_row("liq_1s", (float(key[0]), key[1], key[2], int(lc), lu, int(sc), su))

    def on_snapshot(self, snap: Snapshot) -> None:
        # a quiet market brings no later liquidation: the engine clock closes finished seconds
        if self._agg and self._agg_second is not None and int(snap.ts) > self._agg_second:
            self._flush_seconds(before=int(snap.ts))
        vol = snap.volatility
        if vol.regime != self._regime:
            previous, self._regime = self._regime, vol.regime
            self._push_row("regimes", (snap.ts, vol.regime, previous, vol.rv.get("1h"), vol.btc_price))

    # ------------------------------------------------------------------------ writer

    def _describe(self, exc: BaseException) -> str:
        """An exception as one safe line: the database URL's secrets masked (the driver may
        quote the whole URL, even a malformed one), control characters removed."""
        return printable(scrub_secrets(str(exc).strip() or type(exc).__name__, self._url))

    async def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._writer(), name="history-writer")

    def _take_batch(self) -> tuple[list[tuple[Any, ...]], list[tuple[str, tuple[Any, ...]]]]:
        sigs = [self._signals.popleft() for _ in range(min(self.batch_size, len(self._signals)))]
        room = self.batch_size - len(sigs)
        rows = [self._rows.popleft() for _ in range(min(room, len(self._rows)))]
        return sigs, rows

    def _give_back(self, sigs: list[tuple[Any, ...]], rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        """An unwritten batch returns to the front; if the bound is hit meanwhile, the oldest
        aggregates go first (counted), signals are kept while anything else can go."""
        self._signals.extendleft(reversed(sigs))
        self._rows.extendleft(reversed(rows))
        while len(self._signals) + len(self._rows) > self.max_buffer:
            if self._rows:
                self._rows.popleft()
                self.drops["aggregates"] += 1
            else:
                self._signals.popleft()
                self.drops["signals"] += 1

    @staticmethod
    def _as_tables(sigs: list[tuple[Any, ...]], rows: list[tuple[str, tuple[Any, ...]]]) -> Rows:
        out: Rows = {"signals": list(sigs)}
        for table, row in rows:
            out.setdefault(table, []).append(row)
        return out

    async def _ensure_connected(self) -> None:
        backoff = Backoff(base_s=self.reconnect_min_s, cap_s=max(self.reconnect_min_s, self.reconnect_max_s), jitter=0.0)
        attempt = 0
        while not self._connected:
            self.state = "connecting" if self.reconnects == 0 and self.failures == 0 else "reconnecting"
            try:
                await self.backend.connect()
                self._connected = True
                self.state = "connected"
                return
            except Exception as exc:
                self.last_error = f"connect: {self._describe(exc)}"
                self.failures += 1
                attempt += 1
                delay = backoff.delay(attempt)
                log.warning("history database unavailable (%s); retrying in %.1f s", self._describe(exc), delay)
            if self._closing:
                raise ConnectionError(self.last_error)
            await self._sleep_or_wake(delay)

    async def _sleep_or_wake(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _write_once(self) -> bool:
        """Write one batch; False when the database failed (the batch is back in the buffer)."""
        sigs, rows = self._take_batch()
        if not sigs and not rows:
            return True
        self._inflight = len(sigs) + len(rows)
        try:
            await self.backend.write(self._as_tables(sigs, rows))
        except asyncio.CancelledError:
            self._give_back(sigs, rows)  # a cancelled write is not acknowledged: keep it
            raise
        except Exception as exc:
            self._give_back(sigs, rows)
            self.failures += 1
            self.last_error = f"write: {self._describe(exc)}"
            log.warning("history write failed (%s); will reconnect", self._describe(exc))
            self._connected = False
            self.reconnects += 1
            self.state = "reconnecting"
            with contextlib.suppress(Exception):
                await self.backend.close()
            return False
        finally:
            self._inflight = 0
        self.batches += 1
        self.written["signals"] += len(sigs)
        for table, _row in rows:
            self.written[table] += 1
        return True

    async def _maybe_prune(self) -> None:
        now = time.monotonic()
        if self.retention_s is None or now - self._last_prune < self.prune_every_s:
            return
        self._last_prune = now
        self.prune_rounds += 1
        try:
            self.pruned += await self.backend.prune(self.wall_clock() - self.retention_s)
        except Exception as exc:  # pruning is housekeeping: a failure waits for the next round
            self.last_error = f"prune: {self._describe(exc)}"

    async def _drain(self) -> bool:
        """Write until the buffer is empty; False on a database failure."""
        while self._signals or self._rows:
            if not await self._write_once():
                return False
        return True

    async def _writer(self) -> None:
        self._last_prune = time.monotonic()
        while not self._closing:
            try:
                await self._ensure_connected()
            except ConnectionError:
                break
            await self._sleep_or_wake(self.flush_interval_s)
            self._wake.clear()
            if await self._drain():
                await self._maybe_prune()

    def _pending(self) -> int:
        return len(self._signals) + len(self._rows) + self._inflight

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Hand finished seconds over and wait (bounded) until everything is committed."""
        self._flush_seconds(before=self._agg_second)
        deadline = time.monotonic() + timeout_s
        while self._pending() and time.monotonic() < deadline:
            self._wake.set()
            await asyncio.sleep(0.02)
        return not self._pending()

    async def close(self) -> None:
        if self.state == "closed":
            return
        self._flush_seconds()
        self._closing = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self.close_timeout_s)
            if not done:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        # last attempt, bounded: what cannot be written now is reported as lost
        try:
            async with asyncio.timeout(self.close_timeout_s):
                if not self._connected:
                    await self.backend.connect()
                    self._connected = True
                await self._drain()
        except Exception as exc:
            self.last_error = f"close: {self._describe(exc)}"
        lost_signals, lost_rows = len(self._signals), len(self._rows)
        if lost_signals or lost_rows:
            self.drops["signals"] += lost_signals
            self.drops["aggregates"] += lost_rows
            log.warning("history: %d signals and %d rows unwritten at close", lost_signals, lost_rows)
            self._signals.clear()
            self._rows.clear()
        with contextlib.suppress(Exception):
            await self.backend.close()
        self._connected = False
        self.state = "closed"

    def stats(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "backend": self.backend.description,
            "buffered": len(self._signals) + len(self._rows),
            "buffered_signals": len(self._signals),
            "in_flight": self._inflight,
            "drops": dict(self.drops),
            "written": dict(self.written),
            "batches": self.batches,
            "failures": self.failures,
            "reconnects": self.reconnects,
            "pruned": self.pruned,
            "prune_rounds": self.prune_rounds,
            "retention_days": None if self.retention_s is None else self.retention_s / 86400.0,
            "last_error": self.last_error,
        }
