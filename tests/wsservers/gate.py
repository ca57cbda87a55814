"""Gate USDT futures: subscribe results per channel, JSON `futures.ping` answered by
`futures.pong`, `futures.public_liquidates` updates (signed contract sizes)."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class GateProtocol(VenueProtocol):
    venue = "gate"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        channel = msg.get("channel", "")
        if channel == "futures.ping":
            return [
                dumps(
                    {
                        "time": msg.get("time"),
                        "time_ms": 1700000000123,
                        "channel": "futures.pong",
                        "event": "",
                        "result": None,
                    }
                )
            ]
        if msg.get("event") == "subscribe":
            session.subscribed = True
            return [
                dumps(
                    {
                        "time": 1700000000,
                        "time_ms": 1700000000123,
                        "channel": channel,
                        "event": "subscribe",
                        "result": {"status": "success"},
                    }
                )
            ]
        return []

    def is_ping_answer(self, message: str) -> bool:
        return json.loads(message).get("channel") == "futures.ping"

    def liquidation(self, i: int) -> Frame:
        # the exchanges.md §9 doc example (BTC_USDT, a long liquidated), distinct per i
        row = {
            "contract": "BTC_USDT",
            "price": "96000.1",
            "size": str(-12 - i),
            "time_ms": 1700000000100 + i,
            "time": 1700000000,
        }
        return dumps(
            {
                "time": 1700000000,
                "time_ms": 1700000000123 + i,
                "channel": "futures.public_liquidates",
                "event": "update",
                "result": [row],
            }
        )
