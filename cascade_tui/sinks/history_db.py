"""History database backends: the schema and the SQL, for SQLite (default) and PostgreSQL.

Tables (time column `ts`: epoch seconds REAL in SQLite, timestamptz in PostgreSQL):
  signals        every signal transition (unique per ts/asset/episode/state/level, so a batch
                 written twice after a lost acknowledgement is not duplicated)
  liq_1s         liquidations per second, venue and asset: counts and USD by side (velocity)
  regimes        BTC volatility regime changes
  open_interest  open-interest observations per venue and asset
  funding        funding-rate observations per venue and asset
The schema is versioned (SQLite: PRAGMA user_version; PostgreSQL: table cascade_schema):
connecting brings an older database forward through the migrations below, and refuses a
database written by a newer cascade-tui instead of writing rows it does not understand.
PostgreSQL with the TimescaleDB extension available: every table becomes a hypertable with a
retention policy. Without it (and in SQLite): plain tables indexed on ts, pruned by the sink
(live runs: rows older than the retention before the wall clock; replays and viewers: never).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TABLES: tuple[str, ...] = ("signals", "liq_1s", "regimes", "open_interest", "funding")

# column names per table (besides ts, which is first in every row)
COLUMNS: dict[str, tuple[str, ...]] = {
    "signals": (
        "ts",
        "asset",
        "level",
        "level_name",
        "state",
        "episode",
        "score",
        "direction",
        "venues",
        "regime",
        "payload",
    ),
    "liq_1s": ("ts", "venue", "asset", "long_count", "long_usd", "short_count", "short_usd"),
    "regimes": ("ts", "regime", "previous", "rv_1h", "btc_price"),
    "open_interest": ("ts", "venue", "asset", "oi", "usd"),
    "funding": ("ts", "venue", "asset", "rate", "interval_h", "annualized"),
}

Rows = dict[str, list[tuple[Any, ...]]]  # table -> rows in COLUMNS order


class HistoryBackend:
    """One connection to one database. Methods raise on failure; the sink reconnects."""

    description = "history"

    async def connect(self) -> None:
        raise NotImplementedError

    async def write(self, rows: Rows) -> None:
        """Write every row in one transaction (all or nothing)."""
        raise NotImplementedError

    async def prune(self, before_ts: float) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------------------------- SQLite

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (ts REAL NOT NULL, asset TEXT NOT NULL, level INTEGER NOT NULL,
  level_name TEXT NOT NULL, state TEXT NOT NULL, episode TEXT NOT NULL, score REAL, direction TEXT,
  venues TEXT, regime TEXT, payload TEXT, UNIQUE (ts, asset, episode, state, level));
CREATE INDEX IF NOT EXISTS signals_ts ON signals (ts);
CREATE TABLE IF NOT EXISTS liq_1s (ts REAL NOT NULL, venue TEXT NOT NULL, asset TEXT NOT NULL,
  long_count INTEGER NOT NULL, long_usd REAL NOT NULL, short_count INTEGER NOT NULL, short_usd REAL NOT NULL,
  PRIMARY KEY (ts, venue, asset));
CREATE TABLE IF NOT EXISTS regimes (ts REAL NOT NULL, regime TEXT NOT NULL, previous TEXT,
  rv_1h REAL, btc_price REAL);
CREATE INDEX IF NOT EXISTS regimes_ts ON regimes (ts);
CREATE TABLE IF NOT EXISTS open_interest (ts REAL NOT NULL, venue TEXT NOT NULL, asset TEXT NOT NULL,
  oi REAL NOT NULL, usd REAL);
CREATE INDEX IF NOT EXISTS open_interest_ts ON open_interest (ts);
CREATE TABLE IF NOT EXISTS funding (ts REAL NOT NULL, venue TEXT NOT NULL, asset TEXT NOT NULL,
  rate REAL NOT NULL, interval_h REAL NOT NULL, annualized REAL);
CREATE INDEX IF NOT EXISTS funding_ts ON funding (ts);
"""


def _insert_sql(table: str, placeholder: str) -> str:
    cols = COLUMNS[table]
    values = ", ".join([placeholder] * len(cols))
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({values})"
    if table == "signals":
        return sql + " ON CONFLICT DO NOTHING"
    if table == "liq_1s":
        # a second flushed in two parts (a late event) adds up instead of failing
        return sql + (
            " ON CONFLICT (ts, venue, asset) DO UPDATE SET"
            " long_count = liq_1s.long_count + excluded.long_count,"
            " long_usd = liq_1s.long_usd + excluded.long_usd,"
            " short_count = liq_1s.short_count + excluded.short_count,"
            " short_usd = liq_1s.short_usd + excluded.short_usd"
        )
    return sql


# The schema version this program writes. To change the schema: add the statements that take
# a database from version N-1 to N under key N in both migration tables, bump this number,
# and add a test that opens a version N-1 database.
SCHEMA_VERSION = 1
# version 1 is the first versioned schema; databases from before versioning already have
# exactly these tables, and every statement is IF NOT EXISTS, so they simply gain the number
_SQLITE_MIGRATIONS: dict[int, str] = {1: _SQLITE_SCHEMA}


class HistorySchemaError(RuntimeError):
    """The database was written by a newer cascade-tui (a higher schema version)."""


def check_schema_version(found: int, where: str) -> None:
    if found > SCHEMA_VERSION:
        raise HistorySchemaError(
            f"history database {where} has schema version {found}; this cascade-tui writes "
            f"version {SCHEMA_VERSION}: upgrade cascade-tui or point --history-url elsewhere"
        )


class SQLiteBackend(HistoryBackend):
    """sqlite3 in WAL mode on one dedicated thread (never on the engine's loop)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = f"sqlite:{self.path}"
        self._db: sqlite3.Connection | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="history-sqlite"
            )
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _migrate(self, db: sqlite3.Connection) -> None:
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        check_schema_version(found, str(self.path))
        for version in range(found + 1, SCHEMA_VERSION + 1):
            db.executescript(_SQLITE_MIGRATIONS[version])
            db.execute(f"PRAGMA user_version = {version:d}")
            db.commit()

    async def connect(self) -> None:
        await self._run(self._connect)

    def _write(self, rows: Rows) -> None:
        db = self._db
        if db is None:
            raise sqlite3.OperationalError("not connected")
        with db:  # one transaction, rolled back on error
            for table, data in rows.items():
                if data:
                    db.executemany(_insert_sql(table, "?"), data)

    async def write(self, rows: Rows) -> None:
        await self._run(self._write, rows)

    def _prune(self, before_ts: float) -> int:
        db = self._db
        if db is None:
            return 0
        removed = 0
        with db:
            for table in TABLES:
                removed += db.execute(f"DELETE FROM {table} WHERE ts < ?", (before_ts,)).rowcount
        return removed

    async def prune(self, before_ts: float) -> int:
        return int(await self._run(self._prune, before_ts))

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def close(self) -> None:
        if self._pool is None:
            return
        await self._run(self._close)
        self._pool.shutdown(wait=False)
        self._pool = None


# --------------------------------------------------------------------------------- PostgreSQL

_PG_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS signals (ts timestamptz NOT NULL, asset text NOT NULL, level smallint NOT NULL,
    level_name text NOT NULL, state text NOT NULL, episode text NOT NULL, score double precision,
    direction text, venues text, regime text, payload text, UNIQUE (ts, asset, episode, state, level))""",
    "CREATE INDEX IF NOT EXISTS signals_ts ON signals (ts)",
    """CREATE TABLE IF NOT EXISTS liq_1s (ts timestamptz NOT NULL, venue text NOT NULL, asset text NOT NULL,
    long_count integer NOT NULL, long_usd double precision NOT NULL, short_count integer NOT NULL,
    short_usd double precision NOT NULL, PRIMARY KEY (ts, venue, asset))""",
    """CREATE TABLE IF NOT EXISTS regimes (ts timestamptz NOT NULL, regime text NOT NULL, previous text,
    rv_1h double precision, btc_price double precision)""",
    "CREATE INDEX IF NOT EXISTS regimes_ts ON regimes (ts)",
    """CREATE TABLE IF NOT EXISTS open_interest (ts timestamptz NOT NULL, venue text NOT NULL,
    asset text NOT NULL, oi double precision NOT NULL, usd double precision)""",
    "CREATE INDEX IF NOT EXISTS open_interest_ts ON open_interest (ts)",
    """CREATE TABLE IF NOT EXISTS funding (ts timestamptz NOT NULL, venue text NOT NULL, asset text NOT NULL,
    rate double precision NOT NULL, interval_h double precision NOT NULL, annualized double precision)""",
    "CREATE INDEX IF NOT EXISTS funding_ts ON funding (ts)",
)


_PG_MIGRATIONS: dict[int, tuple[str, ...]] = {1: _PG_SCHEMA}


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class PostgresBackend(HistoryBackend):
    """psycopg 3 async; TimescaleDB hypertables + retention policies when the extension exists."""

    def __init__(self, url: str, retention_days: float | None, connect_timeout_s: float = 5.0) -> None:
        self.url = url
        self.retention_days = retention_days
        self.connect_timeout_s = connect_timeout_s
        self.description = "postgresql"
        self.timescale = False
        self._conn: Any = None

    async def connect(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s))
        )
        try:
            await self._migrate(conn)
            self.timescale = await self._setup_timescale(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.description = "postgresql+timescaledb" if self.timescale else "postgresql"

    async def _migrate(self, conn: Any) -> None:
        async with conn.transaction():
            # one migrating writer at a time (two ingesters starting together)
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cascade_schema'))")
            await conn.execute("CREATE TABLE IF NOT EXISTS cascade_schema (version integer NOT NULL)")
            cur = await conn.execute("SELECT max(version) FROM cascade_schema")
            row = await cur.fetchone()
            found = int(row[0]) if row is not None and row[0] is not None else 0
            check_schema_version(found, "(postgresql)")
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for stmt in _PG_MIGRATIONS[version]:
                    await conn.execute(stmt)
            if found < SCHEMA_VERSION:
                await conn.execute("DELETE FROM cascade_schema")
                await conn.execute("INSERT INTO cascade_schema (version) VALUES (%s)", (SCHEMA_VERSION,))

    async def _setup_timescale(self, conn: Any) -> bool:
        import psycopg

        cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        if await cur.fetchone() is None:
            return False
        try:
            async with conn.transaction():
                await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                for table in TABLES:
                    await conn.execute(
                        "SELECT create_hypertable(%s, 'ts', if_not_exists => TRUE, migrate_data => TRUE)",
                        (table,),
                    )
                    if self.retention_days is not None:  # a replay's store keeps everything
                        await conn.execute(
                            "SELECT add_retention_policy(%s, %s::interval, if_not_exists => TRUE)",
                            (table, f"{self.retention_days} days"),
                        )
        except psycopg.Error:
            # available but not loadable (shared_preload_libraries): plain tables + pruning
            return False
        return True

    async def write(self, rows: Rows) -> None:
        conn = self._conn
        if conn is None:
            raise ConnectionError("not connected")
        async with conn.transaction(), conn.cursor() as cur:
            for table, data in rows.items():
                if data:
                    converted = [(to_datetime(r[0]), *r[1:]) for r in data]
                    await cur.executemany(_insert_sql(table, "%s"), converted)

    async def prune(self, before_ts: float) -> int:
        if self.timescale or self._conn is None:
            return 0  # retention policies do it
        removed = 0
        async with self._conn.transaction():
            for table in TABLES:
                cur = await self._conn.execute(
                    f"DELETE FROM {table} WHERE ts < %s", (to_datetime(before_ts),)
                )
                removed += cur.rowcount
        return removed

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except Exception:  # closing a connection the server already dropped
                return


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str, default: Path) -> Path:
    """ "" -> default; "sqlite:///abs/path" or "sqlite:relative" or a bare path -> that path."""
    if not url:
        return default
    if url.startswith("sqlite:///"):
        return Path("/" + url.removeprefix("sqlite:///").lstrip("/"))
    if url.startswith("sqlite:"):
        return Path(url.removeprefix("sqlite:"))
    return Path(url)


# ------------------------------------------------------------------------------------ reading


def _signal_row(row: Sequence[Any]) -> dict[str, Any]:
    ts = row[0].timestamp() if isinstance(row[0], datetime) else float(row[0])
    return {
        "ts": ts,
        "asset": row[1],
        "level": int(row[2]),
        "level_name": row[3],
        "state": row[4],
        "episode": row[5],
        "score": row[6],
        "direction": row[7],
        "regime": row[8],
    }


def _first_day_start(newest_ts: float, days: int) -> float:
    """Start (UTC midnight) of the first of `days` calendar days ending with newest_ts's day."""
    return (int(newest_ts // 86400) - (days - 1)) * 86400.0


def read_history(url: str, default_path: Path, last: int, days: int) -> dict[str, Any]:
    """Last `last` signals (newest first) and per-UTC-day totals over the `days` calendar days
    ending with the day of the newest stored signal or liquidation second (so a replayed past
    shows up too)."""
    signal_sql = (
        "SELECT ts, asset, level, level_name, state, episode, score, direction, regime "
        "FROM signals ORDER BY ts DESC LIMIT {p}"
    )
    if is_postgres_url(url):
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            rows = conn.execute(signal_sql.format(p="%s"), (last,)).fetchall()
            row = conn.execute(
                "SELECT greatest((SELECT max(ts) FROM signals), (SELECT max(ts) FROM liq_1s))"
            ).fetchone()
            newest = row[0] if row is not None else None
            if newest is None:
                return {"source": "postgresql", "signals": [], "days": []}
            since = to_datetime(_first_day_start(newest.timestamp(), days))
            day = "floor(extract(epoch from ts) / 86400)::bigint"
            sig_days = conn.execute(
                f"SELECT {day}, level_name, count(*) FROM signals WHERE ts >= %s AND state IN ('open', 'escalate') "
                "GROUP BY 1, 2",
                (since,),
            ).fetchall()
            liq_days = conn.execute(
                f"SELECT {day}, sum(long_count + short_count), sum(long_usd), sum(short_usd) FROM liq_1s "
                "WHERE ts >= %s GROUP BY 1",
                (since,),
            ).fetchall()
        source = "postgresql"
    else:
        path = sqlite_path(url, default_path)
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no history database yet (it is created by a run with history on)"
            )
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)
        try:
            rows = db.execute(signal_sql.format(p="?"), (last,)).fetchall()
            newest_ts = db.execute(
                "SELECT max(m) FROM (SELECT max(ts) AS m FROM signals UNION ALL SELECT max(ts) FROM liq_1s)"
            ).fetchone()[0]
            if newest_ts is None:
                return {"source": str(path), "signals": [], "days": []}
            since_ts = _first_day_start(float(newest_ts), days)
            day = "CAST(ts / 86400 AS INTEGER)"
            sig_days = db.execute(
                f"SELECT {day}, level_name, count(*) FROM signals WHERE ts >= ? AND state IN ('open', 'escalate') "
                "GROUP BY 1, 2",
                (since_ts,),
            ).fetchall()
            liq_days = db.execute(
                f"SELECT {day}, sum(long_count + short_count), sum(long_usd), sum(short_usd) FROM liq_1s "
                "WHERE ts >= ? GROUP BY 1",
                (since_ts,),
            ).fetchall()
        finally:
            db.close()
        source = str(path)
    totals: dict[int, dict[str, Any]] = {}

    def day_entry(d: int) -> dict[str, Any]:
        return totals.setdefault(
            int(d),
            {
                "day": datetime.fromtimestamp(int(d) * 86400, UTC).date().isoformat(),
                "WATCH": 0,
                "WARNING": 0,
                "CRITICAL": 0,
                "liquidations": 0,
                "long_usd": 0.0,
                "short_usd": 0.0,
            },
        )

    for d, level_name, n in sig_days:
        if level_name in ("WATCH", "WARNING", "CRITICAL"):
            day_entry(d)[level_name] += int(n)
    for d, count, long_usd, short_usd in liq_days:
        entry = day_entry(d)
        entry["liquidations"] = int(count or 0)
        entry["long_usd"] = float(long_usd or 0.0)
        entry["short_usd"] = float(short_usd or 0.0)
    return {
        "source": source,
        "signals": [_signal_row(r) for r in rows],
        "days": [totals[d] for d in sorted(totals, reverse=True)],
    }
