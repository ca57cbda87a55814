"""Kraken Futures v1: subscribed events, a trade_snapshot on subscribe (history, not
counted), liquidations as trades with type=liquidation; client WS ping frames answered."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


def _trade(i: int, kind: str) -> dict[str, object]:
    # nautilus ws_futures_trade.json (the docs example) on the linear PF_XBTUSD
    return {
        "feed": "trade",
        "product_id": "PF_XBTUSD",
        "uid": f"uid-{kind}-{i}",
        "side": "sell",
        "type": kind,
        "seq": 653355 + i,
        "time": 1612266317519 + i,
        "qty": 0.015 + i / 1000,
        "price": 34969.5,
    }


class KrakenProtocol(VenueProtocol):
    venue = "kraken"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        if msg.get("event") != "subscribe":
            return []
        session.subscribed = True
        out: list[Frame] = [
            dumps({"event": "subscribed", "feed": msg.get("feed"), "product_ids": msg.get("product_ids", [])})
        ]
        if msg.get("feed") == "trade":
            out += self.snapshot(session)
        return out

    def snapshot(self, session: Session) -> list[Frame]:
        trades = [{k: v for k, v in _trade(i, "liquidation").items() if k != "feed"} for i in range(3)]
        return [dumps({"feed": "trade_snapshot", "product_id": "PF_XBTUSD", "trades": trades})]

    def liquidation(self, i: int) -> Frame:
        return dumps(_trade(i, "liquidation"))
