"""Bybit v5: op subscribe acks, JSON op ping answered by a pong object, allLiquidation."""

from __future__ import annotations

import json

from tests.wsservers.core import Frame, Session, VenueProtocol, dumps


class BybitProtocol(VenueProtocol):
    venue = "bybit"

    def on_message(self, session: Session, message: str) -> list[Frame]:
        msg = json.loads(message)
        op = msg.get("op")
        if op == "ping":
            return [
                dumps(
                    {
                        "success": True,
                        "ret_msg": "pong",
                        "conn_id": "local",
                        "req_id": msg.get("req_id", ""),
                        "op": "ping",
                    }
                )
            ]
        if op == "subscribe":
            session.subscribed = True
            return [
                dumps(
                    {
                        "success": True,
                        "ret_msg": "subscribe",
                        "conn_id": "local",
                        "req_id": msg.get("req_id", ""),
                        "op": "subscribe",
                    }
                )
            ]
        return []

    def is_ping_answer(self, message: str) -> bool:
        return '"op":"ping"' in message.replace(" ", "")

    def liquidation(self, i: int) -> Frame:
        # exchanges.md §3 live example (ICPUSDT), distinct per i
        return dumps(
            {
                "topic": "allLiquidation.ICPUSDT",
                "type": "snapshot",
                "ts": 1789670094412 + i,
                "data": [
                    {"T": 1789670094099 + i, "s": "ICPUSDT", "S": "Buy", "v": f"{19.7 + i:.1f}", "p": "2.585"}
                ],
            }
        )
