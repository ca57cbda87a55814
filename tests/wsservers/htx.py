"""HTX linear swaps: gzip binary frames, server app pings that must be answered
(`{"op":"ping"}` on the notification socket, `{"ping":T}` on the market socket)."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class HtxProtocol(VenueProtocol):
    venue = "htx"
    binary = True
    app_ping_interval = 0.1

    def app_ping(self, session: Session, seq: int) -> Frame | None:
        if "notification" in session.path:
            return dumps({"op": "ping", "ts": str(1789670000000 + seq)})
        return dumps({"ping": 1789670000000 + seq})  # market socket

    def is_ping_answer(self, message: str) -> bool:
        msg = json.loads(message)
        return (msg.get("op") == "pong" and str(msg.get("ts", "")).startswith("17896700")) or (
            isinstance(msg.get("pong"), int) and msg["pong"] > 1789670000000
        )

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        if msg.get("op") == "sub":
            session.subscribed = True
            return [
                dumps(
                    {
                        "op": "sub",
                        "cid": msg.get("cid"),
                        "topic": msg.get("topic"),
                        "err-code": 0,
                        "ts": 1789670000000,
                    }
                )
            ]
        if "sub" in msg:
            session.subscribed = True
            return [dumps({"id": msg.get("id"), "subbed": msg["sub"], "ts": 1789670000000, "status": "ok"})]
        return []

    def liquidation(self, i: int) -> Frame:
        # exchanges.md §12 live 2026-09 ETH-USDT row, distinct per i
        row = {
            "symbol": "ETH",
            "contract_code": "ETH-USDT",
            "direction": "buy",
            "offset": "close",
            "volume": 500 + i,
            "price": 2446.26,
            "created_at": 1789670297212 + i,
            "amount": 5 + i / 100,
            "trade_turnover": 12231.3 + i,
            "contract_type": "swap",
            "pair": "ETH-USDT",
            "business_type": "swap",
            "trade_partition": "USDT",
        }
        return dumps(
            {
                "op": "notify",
                "topic": "public.ETH-USDT.liquidation_orders",
                "ts": 1789670297217 + i,
                "data": [row],
            }
        )
