"""An offline headless replay imports no network client and no UI library (redis, httpx,
websockets, textual cost 70-95 ms of start-up; a replay of a small capture takes less)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cascade_tui.capture import CaptureWriter
from cascade_tui.sources.simulate import MarketSimulator

PROBE = """
import json, sys
from cascade_tui.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("redis", "httpx", "textual", "websockets") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_offline_replay_imports_no_network_or_ui_library(tmp_path: Path) -> None:
    cap = tmp_path / "c.cap.gz"
    with CaptureWriter(cap) as w:
        w.write_many(MarketSimulator(2, profile="demo").frames(30.0))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "--replay", str(cap), "--no-ui", "--redis-url", "off"],
        capture_output=True, text=True, timeout=120, check=False, env={"CASCADE_DATA_DIR": str(tmp_path / "d"),
                                                                       "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}
