"""OKX v5: per-arg subscribe events, text ping -> pong, and a replay of recent
liquidations right after a liquidation-orders subscribe (exchanges.md §1.4)."""

from __future__ import annotations

import json
import time

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class OkxProtocol(VenueProtocol):
    venue = "okx"

    def __init__(self, replay: int = 3) -> None:
        self.replay = replay
        self.recent: list[Frame] = []

    def on_message(self, session: Session, message: str) -> list[Frame]:
        if message == "ping":
            return ["pong"]
        msg = json.loads(message)
        if msg.get("op") != "subscribe":
            return []
        session.subscribed = True
        out: list[Frame] = [
            dumps({"event": "subscribe", "arg": arg, "connId": "local"}) for arg in msg.get("args", [])
        ]
        if any(arg.get("channel") == "liquidation-orders" for arg in msg.get("args", [])):
            out += self.snapshot(session)
        return out

    def is_ping_answer(self, message: str) -> bool:
        return message == "ping"

    def snapshot(self, session: Session) -> list[Frame]:
        return self.recent[-self.replay :] if self.replay else []

    def liquidation(self, i: int) -> Frame:
        # exchanges.md §4 doc example (IOST-USDT-SWAP), distinct size per i, stamped now as
        # OKX stamps a fresh liquidation (an old time would be a replay, counted stale)
        detail = {
            "bkLoss": "0",
            "bkPx": "0.007831",
            "ccy": "",
            "posSide": "short",
            "side": "buy",
            "sz": str(13 + i),
            "ts": str(int(time.time() * 1000)),
        }
        frame = dumps(
            {
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [
                    {
                        "details": [detail],
                        "instFamily": "IOST-USDT",
                        "instId": "IOST-USDT-SWAP",
                        "instType": "SWAP",
                        "uly": "IOST-USDT",
                    }
                ],
            }
        )
        self.recent.append(frame)
        return frame
