"""Issue 14 items 5 and 6: a closed stdout ends a headless run cleanly (exit 0), and option
values that cannot be valid exit 2 with one message (no usage block)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascade_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--demo", "--theme", "nosuch"], "--theme: no theme 'nosuch'"),
        (["--demo", "--history-url", "bogus"], "--history-url: 'bogus' is not sqlite:///PATH"),
        (["--demo", "--history-url", "sqlite:///no/such/folder/h.db"], "no folder"),
        (["--demo", "--symbols", "NOSUCH"], "the demo market has no NOSUCH"),
        (["--symbols", "BTC-USD"], "BTC-USD is not a base asset"),
    ],
)
def test_impossible_values_exit_2_with_one_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "usage:" not in err and err.count("\n") == 1


def test_a_well_formed_unlisted_asset_only_warns(capsys: pytest.CaptureFixture[str]) -> None:
    from cascade_tui.cli import _check_symbols

    assert _check_symbols(["btc", "NEWCOIN"], "live") == ["BTC", "NEWCOIN"]
    err = capsys.readouterr().err
    assert "warning" in err and "NEWCOIN" in err and "BTC," not in err


def test_headless_stops_when_the_reader_closes_the_pipe(tmp_path: Path) -> None:
    """`cascade-tui --demo --no-ui --speed 0 | head -1`: without --duration the demo runs
    forever; once head has its line and exits, the run must end by itself, exit 0."""
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from cascade_tui.cli import main; sys.exit(main())", "--demo", "--no-ui", "--speed", "0", "--redis-url", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.startswith(b'{"v":1')
    proc.stdout.close()  # the reader goes away, as head does
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        pytest.fail("headless run kept going after its stdout closed")
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
