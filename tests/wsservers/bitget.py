"""Bitget v3: subscribe events, text ping -> pong, sampled liquidation topic."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class BitgetProtocol(VenueProtocol):
    venue = "bitget"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        if message == "ping":
            return ["pong"]
        msg = json.loads(message)
        if msg.get("op") != "subscribe":
            return []
        session.subscribed = True
        return [dumps({"event": "subscribe", "arg": arg}) for arg in msg.get("args", [])]

    def is_ping_answer(self, message: str) -> bool:
        return message == "ping"

    def liquidation(self, i: int) -> Frame:
        # the live 2026 APEUSDT record quoted by the Bitget adapter's tests, distinct per i
        return dumps(
            {
                "action": "update",
                "arg": {"instType": "usdt-futures", "topic": "liquidation"},
                "data": [
                    {
                        "symbol": "APEUSDT",
                        "side": "buy",
                        "price": "0.1649",
                        "amount": f"{13.70319 + i:.5f}",
                        "ts": str(1777358886549 + i),
                    }
                ],
                "ts": 1777358897167 + i,
            }
        )
