"""dYdX v4 indexer: `connected` on open, `subscribed` carrying recent trades (history,
never counted), `channel_data` updates; server WS ping frames."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


def _trade(i: int) -> dict[str, str]:
    # nautilus ws_trades_update.json trade shape, as a LIQUIDATED fill
    return {
        "id": f"trade-{i}",
        "side": "SELL",
        "size": f"{1.2 + i / 100:.2f}",
        "price": "43248.0",
        "type": "LIQUIDATED",
        "createdAt": "2024-01-01T00:00:01.000Z",
        "createdAtHeight": str(12345678 + i),
    }


class DydxProtocol(VenueProtocol):
    venue = "dydx"
    ws_ping_interval = 0.2

    def __init__(self) -> None:
        self.message_id = 0

    def _next(self) -> int:
        self.message_id += 1
        return self.message_id

    def welcome(self, session: Session) -> list[Frame]:
        return [dumps({"type": "connected", "connection_id": "local", "message_id": 0})]

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        if msg.get("type") != "subscribe":
            return []
        session.subscribed = True
        contents: dict[str, object] = (
            {"trades": [_trade(800 + j) for j in range(2)]}
            if msg.get("channel") == "v4_trades"
            else {"markets": {}}
        )
        reply = {
            "type": "subscribed",
            "connection_id": "local",
            "message_id": self._next(),
            "channel": msg.get("channel"),
            "contents": contents,
        }
        if msg.get("id"):
            reply["id"] = msg["id"]
        return [dumps(reply)]

    def liquidation(self, i: int) -> Frame:
        return dumps(
            {
                "type": "channel_data",
                "connection_id": "local",
                "message_id": self._next(),
                "id": "BTC-USD",
                "channel": "v4_trades",
                "version": "1.0.0",
                "contents": {"trades": [_trade(i)]},
            }
        )
