"""Hyperliquid: `subscriptionResponse` acks, `{"method":"ping"}` answered by
`{"channel":"pong"}`. No public liquidation feed exists, so the data frames are trades."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class HyperliquidProtocol(VenueProtocol):
    venue = "hyperliquid"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        if msg.get("method") == "ping":
            return [dumps({"channel": "pong"})]
        if msg.get("method") == "subscribe":
            session.subscribed = True
            return [dumps({"channel": "subscriptionResponse", "data": msg})]
        return []

    def is_ping_answer(self, message: str) -> bool:
        return json.loads(message).get("method") == "ping"

    def liquidation(self, i: int) -> Frame:
        """A trade (Hyperliquid publishes no liquidations); the tests count trades here."""
        trade = {
            "coin": "BTC",
            "side": "B",
            "px": "69997.0",
            "sz": f"{0.38111 + i / 1000:.5f}",
            "time": 1730160006192 + i,
            "hash": f"0x40d169aa{i}",
            "tid": 1016375172059570 + i,
        }
        return dumps({"channel": "trades", "data": [trade]})
