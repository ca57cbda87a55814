"""Issue 12 rows 4 and 5: SIGTERM or SIGHUP (closing the terminal) used to end the app with
143/129, no `--stats`, the embedded redis-server orphaned and `/tmp/cascade-redis-*` left;
`kill -9` of the app left the server running. Now SIGTERM, SIGHUP and SIGINT stop the real
program cleanly (exit 0, stats written, the server and its dir gone), headless and in a real
terminal (tmux); the server dies with the app even on `kill -9`, and the next start removes
what a killed app left behind."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cascade_tui.runtime.lifecycle import pid_alive
from cascade_tui.runtime.redis_server import DIR_PREFIX, OWNER_FILE, SERVER_FILE, remove_stale_dirs
from tests.faults.cli_process import CliRun
from tests.redis.server import redis_server_binary
from tests.services import missing_service

DEADLINE_S = 60.0  # generous: two busy cores


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if redis_server_binary() is None:
        missing_service("redis-server is not installed")
    tmp = tmp_path / "t"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the embedded server's dir lands here, alone
    with socket.socket() as probe:
        probe.settimeout(0.3)
        if probe.connect_ex(("127.0.0.1", 6379)) == 0:
            pytest.skip("a Redis on localhost:6379 is used before an embedded server would be")
    return tmp


def wait_until(cond, what: str, timeout: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def embedded_server(tmp: Path) -> tuple[Path, int]:
    """The embedded server's dir and pid, once it has started."""
    found: list[tuple[Path, int]] = []

    def started() -> bool:
        for d in tmp.glob(DIR_PREFIX + "*"):
            pid_file = d / SERVER_FILE
            if pid_file.exists() and pid_file.read_text().strip():
                found.append((d, int(pid_file.read_text())))
                return True
        return False

    wait_until(started, "the embedded redis-server")
    return found[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_headless_stops_cleanly_on_a_signal(tmp_path: Path, _private_tmp: Path, sig: signal.Signals) -> None:
    app = CliRun(tmp_path, "--demo", "--no-ui", "--speed", "20")
    try:
        directory, server = embedded_server(_private_tmp)
        app.wait_lines(1, timeout=DEADLINE_S)
        app.proc.send_signal(sig)
        code = app.wait(DEADLINE_S)
    finally:
        if app.alive():
            app.kill()
    assert code == 0, app.stderr()[-2000:]
    stats = app.stats()
    assert stats["events"] > 0 and stats["redis"].startswith("embedded")
    assert stats["sinks"]["redis"]["events_written"] > 0
    assert not pid_alive(server), "the embedded redis-server outlived the app"
    assert not directory.exists(), "the embedded server's temp dir was left behind"


def test_kill_9_takes_the_embedded_server_down_and_the_next_start_cleans_up(
    tmp_path: Path, _private_tmp: Path
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = CliRun(tmp_path / "first", "--demo", "--no-ui", "--speed", "20")
    try:
        directory, server = embedded_server(_private_tmp)
        first.wait_lines(1, timeout=DEADLINE_S)
        first.kill()  # SIGKILL: no handler, no atexit
    finally:
        if first.alive():
            first.kill()
    wait_until(lambda: not pid_alive(server), "the orphaned redis-server to die (parent-death signal)")
    assert directory.exists(), "nobody was left to remove it"
    second = CliRun(tmp_path / "second", "--demo", "--no-ui", "--speed", "20")
    try:
        new_dir, new_server = embedded_server_other_than(_private_tmp, directory)
        assert not directory.exists(), "the next start removes a dead app's dir"
        assert second.terminate(DEADLINE_S) == 0
    finally:
        if second.alive():
            second.kill()
    assert not pid_alive(new_server) and not new_dir.exists()


def embedded_server_other_than(tmp: Path, old: Path) -> tuple[Path, int]:
    found: list[tuple[Path, int]] = []

    def started() -> bool:
        for d in tmp.glob(DIR_PREFIX + "*"):
            pid_file = d / SERVER_FILE
            if d != old and pid_file.exists() and pid_file.read_text().strip():
                found.append((d, int(pid_file.read_text())))
                return True
        return False

    wait_until(started, "the second embedded redis-server")
    return found[0]


def test_stale_dirs_are_removed_only_when_their_app_is_dead(tmp_path: Path) -> None:
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f"{DIR_PREFIX}stale"
    live = tmp_path / f"{DIR_PREFIX}live"
    foreign = tmp_path / f"{DIR_PREFIX}test-abc"  # no owner file: e.g. the test suite's own servers
    for d in (stale, live, foreign):
        d.mkdir()
    (stale / OWNER_FILE).write_text(dead_pid)
    (live / OWNER_FILE).write_text(str(os.getpid()))
    assert remove_stale_dirs(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and foreign.exists()


# ------------------------------------------------------------------ the dashboard, in tmux

CLI = Path(sys.executable).parent / "cascade-tui"
# runs the dashboard as its child in the terminal and records its pid and exit code; like a
# login shell, it passes SIGHUP (the terminal closed: the kernel signals the session
# leader) on to its job, then outlives the terminal long enough to write the code
WRAPPER = """
import signal, subprocess, sys
child = None
signal.signal(signal.SIGHUP, lambda signum, frame: child and child.send_signal(signum))
child = subprocess.Popen(sys.argv[3:])
open(sys.argv[1], "w").write(str(child.pid))
code = child.wait()
open(sys.argv[2], "w").write(str(code))
"""


@pytest.fixture
def dashboard(tmp_path: Path, _private_tmp: Path) -> Iterator[dict[str, Path | str]]:
    if shutil.which("tmux") is None:
        missing_service("tmux is not installed")
    tmux_socket = f"harden-sig-{uuid.uuid4().hex[:8]}"
    files = {"pid": tmp_path / "pid", "rc": tmp_path / "rc", "stats": tmp_path / "stats.json"}
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"), "CASCADE_DATA_DIR": str(tmp_path / "data"),
        "TERM": "xterm-256color", "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
        "TMPDIR": str(_private_tmp),
    }  # fmt: skip
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    argv = [sys.executable, "-c", WRAPPER, str(files["pid"]), str(files["rc"]),
            str(CLI), "--demo", "--speed", "20", "--stats", str(files["stats"])]  # fmt: skip
    command = f"env -u COLUMNS -u LINES {exports} {shlex.join(argv)}"
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "sig", "-x", "120", "-y", "40", command],
                   check=True, timeout=10)  # fmt: skip
    try:
        yield {"socket": tmux_socket, **files}
    finally:
        subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], capture_output=True, timeout=10, check=False)
        if files["pid"].exists() and not files["rc"].exists():  # a failed test leaves nothing running
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(files["pid"].read_text()), signal.SIGKILL)


def screen(tmux_socket: str) -> str:
    return subprocess.run(["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", "sig"], capture_output=True,
                          text=True, timeout=10, check=False).stdout  # fmt: skip


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP: the terminal closes"])
def test_dashboard_stops_cleanly_on_sigterm_and_when_its_terminal_closes(
    dashboard: dict[str, Path | str], _private_tmp: Path, how: str
) -> None:
    tmux_socket = str(dashboard["socket"])
    pid_file, rc_file, stats_file = Path(dashboard["pid"]), Path(dashboard["rc"]), Path(dashboard["stats"])
    wait_until(lambda: "Cascade scores" in (s := screen(tmux_socket)) and "binance" in s, "the dashboard to show data")
    directory, server = embedded_server(_private_tmp)
    app_pid = int(pid_file.read_text())
    if how == "SIGTERM":
        os.kill(app_pid, signal.SIGTERM)
    else:
        subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "sig"], timeout=10, check=False)
    wait_until(rc_file.exists, "the dashboard to exit")
    assert rc_file.read_text() == "0"
    stats = json.loads(stats_file.read_text())
    assert stats["events"] > 0 and stats["redis"].startswith("embedded")
    assert not pid_alive(server) and not directory.exists()
