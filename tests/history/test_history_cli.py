"""`cascade-tui history` on a SQLite file written by the sink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascade_tui.history_cli import main_history
from cascade_tui.sinks.history import HistorySink

from .test_history_sqlite import T0, liq, signal


async def test_history_command_json_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    sink = HistorySink(str(db), flush_interval_s=0.02)
    await sink.start()
    for i in range(5):
        sink.on_signal(signal(T0 + i * 60, level=1 + i % 3))
    sink.on_signal(signal(T0 + 86400, level=3))  # next day
    sink.on_event(liq(T0 + 86400, 1000.0))
    await sink.close()

    assert main_history(["--history-url", str(db), "--last", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["ts"] for s in data["signals"]] == [T0 + 86400, T0 + 240, T0 + 180]
    # days newest first: 2023-11-15 has one CRITICAL and the liquidation; 2023-11-14 has
    # levels 1,2,3,1,2 -> WATCH 2, WARNING 2, CRITICAL 1
    assert [d["day"] for d in data["days"]] == ["2023-11-15", "2023-11-14"]
    assert (data["days"][1]["WATCH"], data["days"][1]["WARNING"], data["days"][1]["CRITICAL"]) == (2, 2, 1)
    assert data["days"][0]["liquidations"] == 1 and data["days"][0]["long_usd"] == 1000.0
    # --days 1 keeps only the newest day
    assert main_history(["--history-url", str(db), "--days", "1", "--json"]) == 0
    assert [d["day"] for d in json.loads(capsys.readouterr().out)["days"]] == ["2023-11-15"]
    assert main_history(["--history-url", str(db)]) == 0
    assert "CRITICAL" in capsys.readouterr().out


def test_history_command_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main_history(["--history-url", str(tmp_path / "none.sqlite")]) == 2
    assert "no history database" in capsys.readouterr().err
    assert main_history(["--history-url", "off"]) == 2
    assert main_history(["--last", "x"]) == 2
