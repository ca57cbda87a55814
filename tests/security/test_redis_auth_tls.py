"""Redis with an ACL user + password, over plain TCP and over TLS (`rediss://`), through the
real command line: the app connects and publishes, and the password never shows — not on
stdout/stderr, in the --stats file, in the dashboard's log file or status text
(`pipeline.info`), nor in an error message when the password is wrong or the certificate
is not trusted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.server import RedisServer, redis_server_binary
from tests.security.tls_redis import TLSRedisServer, openssl_binary

if redis_server_binary() is None:
    pytest.skip("redis-server is not installed", allow_module_level=True)

PASSWORD = "s3cr3t-Pa55-9f1c"
USER = "cascade"
DEMO = ("--demo", "--no-ui", "--speed", "0", "--duration", "300", "--log-level", "DEBUG")


@pytest.fixture(params=["tcp", "tls"])
def auth_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    if request.param == "tls":
        if openssl_binary() is None:
            pytest.skip("openssl is not installed: cannot make a test certificate")
        server: RedisServer = TLSRedisServer(user=USER, password=PASSWORD)
    else:
        server = RedisServer(user=USER, password=PASSWORD)
    try:
        server.start()
    except RuntimeError as exc:
        server.close()
        if request.param == "tls":
            pytest.skip(f"this redis-server cannot serve TLS: {exc}")
        raise
    yield server
    server.close()


def run_cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    stats = tmp_path / "stats.json"
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CASCADE_REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args, "--stats", str(stats)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    return proc, stats.read_text() if stats.exists() else ""


def test_cli_publishes_with_a_password_that_never_shows(tmp_path: Path, auth_server: RedisServer) -> None:
    proc, stats_text = run_cli(tmp_path, *DEMO, "--redis-url", auth_server.url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(stats_text)
    sink = stats["sinks"]["redis"]
    # (errors may be a connect timeout on a busy machine: delivery is what must hold)
    assert sink["events_written"] > 0
    assert sink["published"] == len(proc.stdout.splitlines())  # every printed signal went to Redis too
    client = auth_server.client()
    try:
        assert client.xlen("cascade:events") > 0
        assert client.exists("cascade:heartbeat") == 1
    finally:
        client.close()
    shown = proc.stdout + proc.stderr + stats_text
    assert PASSWORD not in shown
    assert f"{USER}:***@127.0.0.1" in stats_text


def test_refused_credentials_or_certificate_keep_the_run_going_without_leaking(
    tmp_path: Path, auth_server: RedisServer
) -> None:
    if isinstance(auth_server, TLSRedisServer):
        bad_url, reason = auth_server.untrusted_url, "certificate"
    else:
        bad_url, reason = auth_server.url.replace(PASSWORD, PASSWORD + "-wrong"), "username-password"
    proc, stats_text = run_cli(tmp_path, *DEMO, "--redis-url", bad_url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(stats_text)
    assert stats["events"] > 0, "the engine ran although Redis refused us"
    sink = stats["sinks"]["redis"]
    assert sink["errors"] > 0 and sink["published"] == 0
    assert reason.lower() in sink["last_error"].lower()
    shown = proc.stdout + proc.stderr + stats_text
    assert PASSWORD not in shown


DASHBOARD_RUN = """
import asyncio, json, sys
from cascade_tui.cli import _setup_logging, main_parser, options_from_args
from cascade_tui.config import Config
from cascade_tui.runtime.build import build_pipeline
from cascade_tui.runtime.stats import build_stats
log_path = _setup_logging("DEBUG", to_file=True)  # exactly what the dashboard does
opts = options_from_args(main_parser().parse_args(sys.argv[1:]), Config())
pipeline = build_pipeline(opts)
asyncio.run(pipeline.run())
print(json.dumps({"log": str(log_path), "info": pipeline.info, "sinks": [repr(s) for s in pipeline.sinks],
                  "stats": build_stats(pipeline)}))
"""


def test_dashboard_status_text_and_log_file_hide_the_password(tmp_path: Path, auth_server: RedisServer) -> None:
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-c", DASHBOARD_RUN, "--demo", "--speed", "0", "--duration", "120",
         "--redis-url", auth_server.url],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    log_text = Path(out["log"]).read_text()
    assert "redis" in log_text.lower(), "the log file is the one the run wrote to"
    assert out["stats"]["sinks"]["redis"]["events_written"] > 0
    assert f"{USER}:***@127.0.0.1" in out["info"]["redis"]
    assert PASSWORD not in log_text + proc.stdout + proc.stderr


def test_malformed_url_error_hides_the_password(tmp_path: Path) -> None:
    proc, stats_text = run_cli(tmp_path, *DEMO, "--redis-url", f"redis://{USER}:{PASSWORD}@127.0.0.1:99999/0")
    assert "Port out of range" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr + stats_text


def test_malformed_url_is_a_usage_error(tmp_path: Path) -> None:
    proc, _ = run_cli(tmp_path, *DEMO, "--redis-url", f"redis://{USER}:{PASSWORD}@127.0.0.1:99999/0")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
