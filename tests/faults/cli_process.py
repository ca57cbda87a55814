"""The real program as a child process, watched from outside: stdout lines as they arrive
(with their arrival time), RSS samples, SIGTERM/SIGKILL, and the --stats file at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class CliRun:
    """`python -m cascade_tui.cli ARGS --stats FILE`, started on construction."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.stats_path = tmp_path / "stats.json"
        self.stderr_path = tmp_path / "stderr.txt"
        env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
        env.pop("CASCADE_REDIS_URL", None)
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cascade_tui.cli", *args, "--stats", str(self.stats_path)],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env,
        )  # fmt: skip
        self.lines: list[tuple[float, bytes]] = []  # (monotonic arrival, line)
        self.peak_rss_mb = 0.0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample_rss(self) -> float:
        if self.alive():
            self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.proc.pid))
        return self.peak_rss_mb

    def lines_between(self, start: float, end: float) -> int:
        return sum(1 for t, _ in self.lines if start <= t <= end)

    def wait_lines(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            assert self.alive(), f"the program exited early: {self.stderr()[-1500:]}"
            assert time.monotonic() < deadline, f"fewer than {n} stdout lines in {timeout} s"
            time.sleep(0.05)

    def watch(self, seconds: float) -> None:
        """Sleep `seconds`, sampling RSS and checking the process stays up."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert self.alive(), f"the program died: {self.stderr()[-1500:]}"
            self.sample_rss()
            time.sleep(0.1)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> int:
        self.proc.kill()
        return self.wait(10.0)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(5)
            self._stderr.close()
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text())
