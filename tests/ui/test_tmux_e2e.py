"""End to end: the real program in a real terminal (tmux), driven by keys like a user.

Runs `cascade-tui --demo --redis-url off`, waits for the panels to fill, nudges a threshold,
quits with `q` and expects exit code 0.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cascade_tui.engine.params import Thresholds
from tests.services import missing_service

CLI = Path(sys.executable).parent / "cascade-tui"
TIMEOUT_S = 30.0



@pytest.fixture(autouse=True)
def _tmux_and_entry_point() -> None:
    if shutil.which("tmux") is None:
        missing_service("tmux is not installed")
    # the entry point is part of this package's install, not an optional service
    assert CLI.exists(), f"the cascade-tui entry point is not installed at {CLI} (run scripts/setup.sh)"


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return out.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "e2e", key)
            time.sleep(0.15)

    def wait_for(self, ready: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + TIMEOUT_S
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"cascade-e2e-{uuid.uuid4().hex[:8]}")
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CASCADE_DATA_DIR": str(tmp_path / "data"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    # COLUMNS/LINES inherited from the test runner would override the real terminal size
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    exit_file = tmp_path / "exit-code"
    command = (
        f"env -u COLUMNS -u LINES {exports} {shlex.quote(str(CLI))} --demo --redis-url off --speed 20;"
        f" echo $? > {shlex.quote(str(exit_file))}; sleep 30"
    )
    term.tmux("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", command)
    term.exit_file = exit_file  # type: ignore[attr-defined]
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_demo_fills_the_panels_takes_a_threshold_and_quits_cleanly(terminal: Terminal) -> None:
    screen = terminal.wait_for(lambda s: "Venues" in s and "Cascade scores" in s, "the dashboard to draw")
    screen = terminal.wait_for(
        lambda s: "ev/s" in s and "binance" in s and "waiting for data" not in s, "the panels to fill"
    )
    assert "demo seed 7" in screen
    terminal.keys("1", "]", "]")
    nudged = f"▸WATCH {Thresholds().watch + 0.02:.2f}"  # two steps of 0.01 above the default
    screen = terminal.wait_for(lambda s: nudged in s, "the nudged WATCH threshold")
    terminal.keys("q")
    exit_file: Path = terminal.exit_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + TIMEOUT_S
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.exists(), "the program did not exit after q"
    assert exit_file.read_text().strip() == "0"
