"""The program stopped while recording (`cascade-tui --demo --no-ui --speed 0 --record X`):
SIGTERM is a clean exit (code 0, complete capture); SIGKILL leaves a capture readable up to
its last flush. Either capture replays through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from cascade_tui.capture import CaptureReader
from tests.faults.cli_process import CliRun


def recording(tmp_path: Path) -> tuple[CliRun, Path]:
    cap = tmp_path / "rec.cap.gz"
    run = CliRun(tmp_path, "--demo", "--no-ui", "--speed", "0", "--redis-url", "off", "--record", str(cap))
    return run, cap


def wait_for_flushes(cap: Path, run: CliRun, min_bytes: int = 50_000, timeout: float = 20.0) -> None:
    """The recorder flushes every 0.5 s: wait until several flushes reached the file."""
    deadline = time.monotonic() + timeout
    while not cap.exists() or cap.stat().st_size < min_bytes:
        assert run.alive(), run.stderr()[-1500:]
        assert time.monotonic() < deadline, "the recorder wrote nothing"
        time.sleep(0.05)


def replay(tmp_path: Path, cap: Path) -> dict:
    stats = tmp_path / "replay-stats.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", "--replay", str(cap), "--no-ui", "--redis-url", "off",
         "--stats", str(stats)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(stats.read_text())


def test_sigterm_while_recording_exits_0_with_a_complete_capture(tmp_path: Path) -> None:
    run, cap = recording(tmp_path)
    wait_for_flushes(cap, run)
    assert run.terminate() == 0, run.stderr()[-2000:]
    stats = run.stats()
    reader = CaptureReader(cap)
    frames = list(reader)
    assert reader.error is None, reader.error  # closed cleanly: gzip trailer present
    recorded = stats["sinks"]["recorder"]
    assert recorded["frames"] == len(frames) == stats["frames"]  # every processed frame was kept
    assert recorded["drops"] == {"recorder": 0}
    (tmp_path / "r").mkdir()
    replayed = replay(tmp_path / "r", cap)
    assert replayed["frames"] == len(frames)
    assert replayed["events"] == stats["events"]


def test_sigkill_while_recording_leaves_a_capture_readable_to_its_last_flush(tmp_path: Path) -> None:
    run, cap = recording(tmp_path)
    wait_for_flushes(cap, run, min_bytes=200_000)
    run.kill()
    reader = CaptureReader(cap)
    frames = list(reader)
    assert len(frames) > 1000
    # each flush appends a whole gzip member: a kill between flushes leaves a clean file; one in
    # the middle of a write leaves a cut member, reported (not raised) after the whole ones
    if reader.error is not None:
        assert any(why in reader.error for why in ("trailer", "truncated", "damaged")), reader.error
    assert reader.bad_lines == 0
    ts = [f.ts for f in frames]
    assert ts == sorted(ts)
    (tmp_path / "r").mkdir()
    replayed = replay(tmp_path / "r", cap)
    assert replayed["frames"] == len(frames)
    assert replayed["events"] > 0
