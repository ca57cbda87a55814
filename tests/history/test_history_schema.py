"""The history database carries a schema version: new and pre-version databases are brought
to the current version, a database from a newer cascade-tui is refused with a clear error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cascade_tui.sinks.history_db import SCHEMA_VERSION, HistorySchemaError, SQLiteBackend

from .test_history_postgres import PgCluster, pg  # noqa: F401  (the module-scoped cluster fixture)


async def test_a_new_sqlite_database_gets_the_current_version(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "h.sqlite")
    await backend.connect()
    await backend.close()
    con = sqlite3.connect(tmp_path / "h.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"signals", "liq_1s", "regimes", "open_interest", "funding"} <= tables


async def test_a_database_from_before_versioning_keeps_its_rows(tmp_path: Path) -> None:
    """Databases written before the version existed have user_version 0 and the v1 tables."""
    path = tmp_path / "old.sqlite"
    backend = SQLiteBackend(path)
    await backend.connect()
    await backend.write({"regimes": [(1_700_000_000.0, "HIGH", "NORMAL", 0.8, 90_000.0)]})
    await backend.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 0")
    con.commit()
    con.close()

    again = SQLiteBackend(path)
    await again.connect()
    await again.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT regime FROM regimes").fetchall() == [("HIGH",)]


async def test_a_newer_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    backend = SQLiteBackend(path)
    with pytest.raises(HistorySchemaError, match=f"schema version {SCHEMA_VERSION + 1}"):
        await backend.connect()
    await backend.close()


async def test_postgres_records_and_enforces_the_version(pg: PgCluster) -> None:  # noqa: F811
    import psycopg

    from cascade_tui.sinks.history_db import PostgresBackend

    backend = PostgresBackend(pg.url, retention_days=30)
    await backend.connect()
    await backend.close()
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        cur = await conn.execute("SELECT version FROM cascade_schema")
        assert await cur.fetchall() == [(SCHEMA_VERSION,)]
        await conn.execute("UPDATE cascade_schema SET version = %s", (SCHEMA_VERSION + 1,))
    newer = PostgresBackend(pg.url, retention_days=30)
    try:
        with pytest.raises(HistorySchemaError, match="upgrade cascade-tui"):
            await newer.connect()
    finally:
        async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
            await conn.execute("UPDATE cascade_schema SET version = %s", (SCHEMA_VERSION,))
