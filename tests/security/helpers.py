"""Small builders shared by the security and fault tests."""

from __future__ import annotations

from cascade_tui.engine.types import Signal
from cascade_tui.model import Liquidation


def liquidation(i: int, ts: float = 1_767_225_600.0) -> Liquidation:
    return Liquidation(
        venue="binance", instrument="BTCUSDT", asset="BTC", side="long", price=60_000.0,
        qty=0.01 + i * 1e-6, usd=600.0, raw_size=0.01, event_ts=ts + i * 1e-3, recv_ts=ts + i * 1e-3,
    )  # fmt: skip


def signal(i: int, ts: float = 1_767_225_600.0, level: int = 2) -> Signal:
    return Signal(
        v=1, ts=ts + i, asset="BTC", level=level, level_name=("NONE", "WATCH", "WARNING", "CRITICAL")[level],
        state="open", episode=f"BTC-{i}", score=0.7, components={"velocity": 0.9}, direction="long",
        venues=["binance"], regime="NORMAL",
    )  # fmt: skip
