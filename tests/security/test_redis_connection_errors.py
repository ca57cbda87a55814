"""Issue 12 row 10: `--source redis` with a wrong password logged nothing and exited 0 (an
empty, calm market on screen). Now every Redis connection comes from one factory
(`cascade_tui.redis_client`) whose failures are classified (auth, unreachable, TLS, ...)
and redacted; a viewer that cannot use its Redis stops before it starts with exit 2 and
the reason, and one that loses it later says so in its log and stats."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade_tui.redis_client import RedisUnavailable, connect
from tests.faults.cli_process import CliRun
from tests.redis.server import RedisServer, redis_server_binary
from tests.security.tls_redis import TLSRedisServer, openssl_binary

if redis_server_binary() is None:
    pytest.skip("redis-server is not installed", allow_module_level=True)

PASSWORD = "vi3wer-Pa55-77ab"
PACKAGE = Path(__file__).resolve().parents[2] / "cascade_tui"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer(user="viewer", password=PASSWORD) as s:
        yield s


def viewer(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CASCADE_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", "--source", "redis", "--no-ui", "--redis-url", url],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


def test_a_viewer_with_a_wrong_password_exits_2_saying_why(tmp_path: Path, server: RedisServer) -> None:
    proc = viewer(tmp_path, server.url.replace(PASSWORD, PASSWORD + "-wrong"))
    assert proc.returncode == 2
    assert "authentication failed" in proc.stderr and "viewer:***@127.0.0.1" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_viewer_without_its_server_exits_2_saying_why(tmp_path: Path) -> None:
    proc = viewer(tmp_path, "redis://127.0.0.1:1/0")
    assert proc.returncode == 2
    assert "cannot connect" in proc.stderr and "127.0.0.1:1" in proc.stderr


def test_a_viewer_with_the_right_password_runs_until_stopped(tmp_path: Path, server: RedisServer) -> None:
    run = CliRun(tmp_path, "--source", "redis", "--no-ui", "--redis-url", server.url)
    client = server.client()
    try:
        deadline = time.monotonic() + 60
        while not any(c.get("cmd") == "xread" for c in client.client_list()):  # connected, waiting for events
            assert run.alive(), run.stderr()[-2000:]
            assert time.monotonic() < deadline, "the viewer never read the stream"
            time.sleep(0.05)
        assert run.terminate() == 0, run.stderr()[-2000:]
    finally:
        client.close()
        if run.alive():
            run.kill()
    stats = run.stats()
    assert stats["source"].startswith("redis redis://viewer:***@")
    assert PASSWORD not in run.stderr() + run.stats_path.read_text()
    assert not (tmp_path / "data" / "history.sqlite").exists(), "a viewer writes no history"


async def test_failures_are_classified_and_redacted(server: RedisServer) -> None:
    cases = [
        (server.url.replace(PASSWORD, "nope-nope"), "auth"),
        (f"redis://127.0.0.1:{server.port}/0", "auth"),  # no credentials at all: NOAUTH
        ("redis://127.0.0.1:1/0", "unreachable"),
    ]
    for url, kind in cases:
        with pytest.raises(RedisUnavailable) as err:
            await connect(url, connect_timeout_s=2.0)
        assert err.value.failure.kind == kind, str(err.value)
        assert PASSWORD not in str(err.value) and "nope-nope" not in str(err.value)
    client = await connect(server.url)
    assert await client.ping()
    await client.aclose()


async def test_a_failure_names_its_likely_cause(tmp_path: Path) -> None:
    """One classifier for every client (sink, viewer, command line): the short hint a status
    line shows, and the full reason with the driver's own words."""
    cases = [
        ("redis://127.0.0.1:1/0", "connection refused (is Redis running there?)"),
        (f"unix://{tmp_path / 'no.sock'}", "no socket at that path"),
    ]
    for url, hint in cases:
        with pytest.raises(RedisUnavailable) as err:
            await connect(url, connect_timeout_s=2.0)
        failure = err.value.failure
        assert failure.kind == "unreachable" and failure.hint == hint, failure
        assert failure.reason.startswith(f"cannot connect: {hint} (ConnectionError: "), failure.reason


async def test_an_untrusted_certificate_is_a_tls_failure(tmp_path: Path) -> None:
    if openssl_binary() is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    tls = TLSRedisServer(user="viewer", password=PASSWORD)
    try:
        tls.start()
    except RuntimeError as exc:
        tls.close()
        pytest.skip(f"this redis-server cannot serve TLS: {exc}")
    try:
        with pytest.raises(RedisUnavailable) as err:
            await asyncio.wait_for(connect(tls.untrusted_url, connect_timeout_s=2.0), 30)
        assert err.value.failure.kind == "tls" and PASSWORD not in str(err.value)
    finally:
        tls.close()


def test_one_factory_makes_every_redis_client() -> None:
    """No module but redis_client.py builds a client itself (three copies drifted apart)."""
    makers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "redis_client.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("from_url", "StrictRedis")) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Redis"
            ):
                makers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not makers, f"build Redis clients with cascade_tui.redis_client.make_client: {makers}"
