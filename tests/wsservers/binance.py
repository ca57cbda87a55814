"""Binance USD-M: streams in the URL (combined mode), server WS ping frames, SUBSCRIBE acks."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class BinanceProtocol(VenueProtocol):
    venue = "binance"
    ws_ping_interval = 0.2  # the real server pings every 3 min; tiny here so tests see several

    def welcome(self, session: Session) -> list[Frame]:
        session.subscribed = "streams=" in session.path  # combined mode subscribes in the URL
        return []

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        if msg.get("method") == "SUBSCRIBE":
            session.subscribed = True
            return [dumps({"result": None, "id": msg.get("id")})]
        return []

    def liquidation(self, i: int) -> Frame:
        # the exchanges.md §2 IOTX capture with a distinct time and size per i
        return dumps(
            {
                "stream": "!forceOrder@arr",
                "data": {
                    "e": "forceOrder",
                    "E": 1634653599186 + i,
                    "o": {
                        "s": "IOTXUSDT",
                        "S": "SELL",
                        "o": "LIMIT",
                        "f": "IOC",
                        "q": str(3661 + i),
                        "p": "0.06606",
                        "ap": "0.06669",
                        "X": "FILLED",
                        "l": "962",
                        "z": str(3661 + i),
                        "T": 1634653599180 + i,
                    },
                },
            }
        )
