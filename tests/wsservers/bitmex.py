"""BitMEX: welcome message, one success per subscribed topic, a `partial` snapshot per
table (never counted), liquidation `insert`s; text ping -> pong."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


def _row(i: int) -> dict[str, object]:
    # nautilus ws_liquidation.json, distinct order id and size per i
    return {
        "orderID": f"550e8400-e29b-41d4-a716-4466554{i:05d}",
        "symbol": "XBTUSD",
        "side": "Buy",
        "price": 95000.0,
        "leavesQty": 1000 + i,
    }


class BitmexProtocol(VenueProtocol):
    venue = "bitmex"

    def welcome(self, session: Session) -> list[Frame]:
        return [
            dumps(
                {
                    "info": "Welcome to the BitMEX Realtime API.",
                    "version": "local",
                    "limit": {"remaining": 39},
                }
            )
        ]

    def on_message(self, session: Session, message: str) -> list[Frame]:
        if message == "ping":
            return ["pong"]
        msg = json.loads(message)
        if msg.get("op") != "subscribe":
            return []
        session.subscribed = True
        out: list[Frame] = []
        for topic in msg.get("args", []):
            out.append(dumps({"success": True, "subscribe": topic, "request": msg}))
            if topic.split(":")[0] == "liquidation":
                out += self.snapshot(session)
        return out

    def is_ping_answer(self, message: str) -> bool:
        return message == "ping"

    def snapshot(self, session: Session) -> list[Frame]:
        return [
            dumps(
                {
                    "table": "liquidation",
                    "action": "partial",
                    "keys": ["orderID"],
                    "data": [_row(900 + j) for j in range(2)],
                }
            )
        ]

    def liquidation(self, i: int) -> Frame:
        return dumps({"table": "liquidation", "action": "insert", "data": [_row(i)]})
