"""The validation point's counters reach `--stats` (issue 12: "all counted in --stats"): a
replayed capture with a repeated liquidation, a stale one, a hostile symbol and a batch with
one unknown contract, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cascade_tui.capture import CaptureWriter
from cascade_tui.model import RawFrame

T0 = 1_767_225_600.0


def force_order(symbol: str, t_ms: int, z: str = "0.5", ap: str = "60000") -> str:
    # docs/exchanges.md §2 forceOrder shape (combined stream)
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t_ms, "o": {
        "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": z, "p": ap, "ap": ap, "X": "FILLED",
        "l": z, "z": z, "T": t_ms}}})


def okx_push(*rows: tuple[str, str]) -> str:
    # docs/exchanges.md §4 liquidation-orders shape: (instId, ts ms) per row
    return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
        {"details": [{"bkLoss": "0", "bkPx": "60000", "ccy": "", "posSide": "net", "side": "sell", "sz": "5",
                      "ts": ts}], "instId": inst, "instType": "SWAP"} for inst, ts in rows]})


def test_duplicates_stale_and_rejected_are_in_the_stats(tmp_path: Path) -> None:
    ms = int(T0 * 1000)
    frames = [
        (0.1, "binance", force_order("BTCUSDT", ms + 50)),
        (0.2, "binance", force_order("BTCUSDT", ms + 50)),  # the same liquidation again: duplicate
        (0.3, "binance", force_order("ETHUSDT", ms - 600_000, "1", "3000")),  # ten minutes old: stale
        (0.4, "binance", force_order("\x1b]2;TITLE\x07REDUSDT", ms + 300)),  # hostile symbol: rejected
        (0.5, "okx", okx_push(("NEW-USDT-SWAP", str(ms + 400)), ("BTC-USDT-SWAP", str(ms + 410)))),
    ]
    cap = tmp_path / "c.cap.gz"
    with CaptureWriter(cap, {"source": "hand-made"}) as w:
        for dt, venue, text in frames:
            w.write(RawFrame(T0 + dt, venue, text))
    stats_path = tmp_path / "stats.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", "--replay", str(cap), "--no-ui", "--redis-url", "off",
         "--stats", str(stats_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    venues = json.loads(stats_path.read_text())["venues"]
    binance, okx = venues["binance"], venues["okx"]
    assert (binance["duplicates"], binance["stale"], binance["rejected"]) == (1, 1, 1)
    assert binance["liquidations"]["long"]["count"] == 1
    assert (okx["rejected"], okx["parse_errors"]) == (1, 0)  # the unknown contract only
    assert okx["liquidations"]["long"]["count"] == 1  # BTC-USDT-SWAP kept
