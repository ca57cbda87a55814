"""Issue 12 row 6: a malformed `postgresql://u:SECRET@[::1/db` printed its password on
stderr, in the stats `last_error` and in the history errors. Every URL form (redis, rediss,
unix, postgresql — parseable or not — and webhooks with tokens) is masked in logs, stats,
display strings and exception messages, by the one module `cascade_tui.redaction`."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cascade_tui.redaction import redact_text, redact_url, scrub_secrets
from cascade_tui.runtime.logs import SafeFormatter

SECRET = "S3cr3tPa55"

URLS = [
    f"redis://user:{SECRET}@host:6379/0",
    f"redis://:{SECRET}@host:6379",
    f"rediss://user:{SECRET}@host:6380/1",
    f"unix://user:{SECRET}@/tmp/redis.sock?db=1",
    f"unix:///tmp/redis.sock?password={SECRET}",
    f"postgresql://u:{SECRET}@db.example:5432/cascade",
    f"postgresql://u:{SECRET}@[::1/db",  # unparseable: no closing bracket
    f"postgres://u:{SECRET}@host:notaport/db",  # unparseable: bad port
    f"postgresql://u@host/db?password={SECRET}",
    f"https://hooks.example.com/hook?token={SECRET}&x=1",
    f"https://{SECRET}@hooks.example.com/a",
    f"redis://user:{SECRET}@127.0.0.1:99999/0",
]


@pytest.mark.parametrize("url", URLS)
def test_every_url_form_is_masked(url: str) -> None:
    assert SECRET not in redact_url(url)
    assert SECRET not in redact_text(f"could not connect to {url!r}: refused")
    assert SECRET not in redact_text(f'in URI: "{url}"\n')
    assert SECRET not in scrub_secrets(f"error for {url}; password {SECRET} rejected", url)


def test_what_is_not_secret_stays_readable() -> None:
    assert redact_url(f"postgresql://u:{SECRET}@[::1/db") == "postgresql://***"
    assert redact_text(f"at postgresql://u:{SECRET}@[::1/db now") == "at postgresql://u:***@[::1/db now"
    assert redact_text(f"host=db user=u password={SECRET} dbname=x") == "host=db user=u password=*** dbname=x"
    assert redact_text("no url here: a@b c=d") == "no url here: a@b c=d"
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ", keep_path=False) == "https://hooks.slack.com/***"


def test_the_log_formatter_masks_whatever_code_logged_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.security.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("cannot open %s", f"postgresql://u:{SECRET}@[::1/db")
        try:
            raise ConnectionError(f"refused by redis://user:{SECRET}@h:1/0")
        except ConnectionError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert SECRET not in text
    assert "postgresql://u:***@[::1/db" in text and "Traceback" in text


def run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    stats = tmp_path / "stats.json"
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CASCADE_REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args, "--stats", str(stats)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    return proc, stats.read_text() if stats.exists() else ""


def test_a_malformed_postgresql_url_never_shows_its_password(tmp_path: Path) -> None:
    proc, stats_text = run(
        tmp_path, "--demo", "--no-ui", "--speed", "0", "--duration", "30", "--redis-url", "off",
        "--history-url", f"postgresql://u:{SECRET}@[::1/db",
    )  # fmt: skip
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    assert SECRET not in proc.stdout + proc.stderr + stats_text
    if proc.returncode == 0:  # the run went on without history: its error is shown, masked
        history = json.loads(stats_text)["sinks"]["history"]
        assert history["last_error"] and "postgresql://***" in history["last_error"]


def test_a_malformed_redis_url_error_is_masked(tmp_path: Path) -> None:
    proc, stats_text = run(tmp_path, "--demo", "--no-ui", "--duration", "1", "--redis-url", f"redis://u:{SECRET}@[::1/0")
    assert proc.returncode == 2
    assert SECRET not in proc.stdout + proc.stderr + stats_text
