"""History sink against a REAL PostgreSQL server started by the test (Debian postgresql 15).

The cluster lives in a temp dir owned by the `postgres` user when the tests run as root
(initdb refuses root), listens on a free port on 127.0.0.1 and a unix socket in that dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade_tui.sinks.history import HistorySink
from cascade_tui.sinks.history_db import read_history
from tests.services import missing_service

from .test_history_sqlite import T0, liq, signal


def _server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if (p.parent / "pg_ctl").exists()]
    return max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0, default=None)


PG_BIN = _server_binaries()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, bin_dir: Path, base: Path, port: int, as_user: list[str]) -> None:
        self.bin = bin_dir
        self.base = base
        self.data = base / "data"
        self.port = port
        self.as_user = as_user
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--locale=C",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.base / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    if PG_BIN is None:
        missing_service("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            missing_service("running as root without runuser: cannot start PostgreSQL as the postgres user")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="cascade-pg-"))
    base.chmod(0o777)  # the postgres user writes its cluster here
    cluster = PgCluster(PG_BIN, base, _free_port(), as_user)
    try:
        cluster.init()
        cluster.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        missing_service(f"could not start a PostgreSQL cluster: {exc.stderr.decode(errors='replace')[-300:]}")
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _count(url: str, table: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS signals, liq_1s, regimes, open_interest, funding, cascade_schema")


async def test_postgres_stores_and_reads_back(pg: PgCluster) -> None:
    _reset(pg.url)
    sink = HistorySink(pg.url, flush_interval_s=0.02)
    await sink.start()
    sink.on_signal(signal(T0))
    sink.on_signal(signal(T0 + 3, 3, "escalate"))
    sink.on_event(liq(T0 + 0.2, 1000.0))
    sink.on_event(liq(T0 + 2.2, 500.0, side="short"))
    assert await sink.flush()
    await sink.close()
    stats = sink.stats()
    # no TimescaleDB in the Debian package: plain tables, pruned by the sink
    assert stats["backend"] == "postgresql" and stats["drops"] == {"aggregates": 0, "signals": 0, "bad_ts": 0}
    assert _count(pg.url, "signals") == 2 and _count(pg.url, "liq_1s") == 2
    report = read_history(pg.url, Path("unused"), last=5, days=1)
    assert [s["state"] for s in report["signals"]] == ["escalate", "open"]
    (day,) = report["days"]
    assert (day["WARNING"], day["CRITICAL"], day["liquidations"]) == (1, 1, 2)
    assert day["long_usd"] == 1000.0 and day["short_usd"] == 500.0


async def test_postgres_restart_mid_run_loses_nothing(pg: PgCluster) -> None:
    _reset(pg.url)
    sink = HistorySink(pg.url, flush_interval_s=0.02, reconnect_min_s=0.05, reconnect_max_s=0.2)
    await sink.start()
    for i in range(50):
        sink.on_signal(signal(T0 + i))
    assert await sink.flush(timeout_s=10)
    assert _count(pg.url, "signals") == 50

    await asyncio.to_thread(pg.stop)
    # the hooks keep accepting while the database is down (they only append to the buffer)
    for i in range(50, 120):
        sink.on_signal(signal(T0 + i))
        sink.on_event(liq(T0 + i + 0.5, 100.0))
    for _ in range(100):  # the writer notices the outage
        if sink.stats()["failures"] > 0:
            break
        await asyncio.sleep(0.05)
    assert sink.stats()["failures"] > 0 and sink.stats()["buffered_signals"] == 70

    await asyncio.to_thread(pg.start)
    assert await sink.flush(timeout_s=20)
    await sink.close()
    assert _count(pg.url, "signals") == 120
    assert _count(pg.url, "liq_1s") == 70  # one row per second T0+50 .. T0+119
    assert sink.stats()["drops"] == {"aggregates": 0, "signals": 0, "bad_ts": 0}
    assert sink.stats()["reconnects"] >= 1
