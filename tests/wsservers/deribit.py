"""Deribit JSON-RPC: subscribe results, set_heartbeat then `test_request` heartbeats the
client must answer with public/test, trades carrying the `liquidation` flag."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class DeribitProtocol(VenueProtocol):
    venue = "deribit"
    app_ping_interval = 0.1

    def app_ping(self, session: Session, seq: int) -> Frame | None:
        return dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})

    def is_ping_answer(self, message: str) -> bool:
        return json.loads(message).get("method") == "public/test"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        method = msg.get("method")
        if method == "public/subscribe":
            session.subscribed = True
            return [dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": msg["params"]["channels"]})]
        if method in ("public/set_heartbeat", "public/test"):
            result = "ok" if method == "public/set_heartbeat" else {"version": "local"}
            return [dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": result})]
        return []

    def liquidation(self, i: int) -> Frame:
        # nautilus ws_trades.json BTC-PERPETUAL trade with liquidation "T" (taker liquidated)
        trade = {
            "timestamp": 1765531356452 + i,
            "price": 92294.5,
            "amount": 10.0 + i * 10,
            "direction": "sell",
            "index_price": 92276.75,
            "instrument_name": "BTC-PERPETUAL",
            "trade_seq": 271252854 + i,
            "mark_price": 92287.11,
            "tick_direction": 2,
            "contracts": 1.0 + i,
            "trade_id": str(403691824 + i),
            "liquidation": "T",
        }
        return dumps(
            {
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": {"channel": "trades.BTC-PERPETUAL.100ms", "data": [trade]},
            }
        )
