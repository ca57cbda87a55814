"""Recognise a venue's answer to a subscribe request: accepted, refused, or not an answer.

Shapes, per venue (docs/exchanges.md and each venue's doc):
    Binance      {"result": null, "id": 1}                     (none in combined-URL mode)
    Bybit        {"success": true, "op": "subscribe", ...}      refused: "success": false
    OKX, Bitget  {"event": "subscribe", "arg": {...}}           refused: {"event": "error", "msg": ...}
    BitMEX       {"success": true, "subscribe": "liquidation"}  refused: {"status": 400, "error": ...}
    Deribit      {"jsonrpc": "2.0", "id": 3, "result": [...]}   refused: {"id": 3, "error": {...}}
    Gate         {"event": "subscribe", "result": {"status": "success"}}  refused: "error" set
    HTX          {"op": "sub", "err-code": 0} / {"subbed": "...", "status": "ok"}
    Kraken       {"event": "subscribed", "feed": "trade"}       refused: {"event": "error"}
    dYdX         {"type": "subscribed", "channel": ...}         refused: {"type": "error"}
    Hyperliquid  {"channel": "subscriptionResponse", ...}       refused: {"channel": "error"}

One recogniser covers them all: the shapes do not collide with any venue's data frames
(data carries "data"/"params"/"table" with a topic; answers carry these request echoes).
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

ACK = "ack"
REFUSED = "refused"

# cheap pre-filter: a frame without any of these is never a subscribe answer
_MARKERS = ("subscri", "subbed", "error", '"result"', "err-code", '"success"')
_MAX_SCAN = 64 * 1024  # answers are small; a big frame is data


def _text(frame: str | bytes) -> str | None:
    if isinstance(frame, str):
        return frame
    try:
        raw = gzip.decompress(frame) if frame[:2] == b"\x1f\x8b" else frame  # HTX sends gzip
        return raw.decode("utf-8", "replace")
    except (OSError, EOFError, zlib.error):
        return None


def _error_text(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("message", "msg", "err-msg", "reason"):
            if value.get(key):
                return str(value[key])[:200]
    return str(value)[:200]


def subscribe_reply(frame: str | bytes) -> tuple[str, str] | None:
    """(ACK, "") for an accepted subscription, (REFUSED, why) for a refused one, else None."""
    text = _text(frame)
    if text is None or len(text) > _MAX_SCAN or not text.lstrip().startswith("{"):
        return None
    if not any(marker in text for marker in _MARKERS):
        return None
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    return _classify(msg)


def _classify(msg: dict[str, Any]) -> tuple[str, str] | None:
    event = msg.get("event")
    if event in ("subscribe", "subscribed"):
        if msg.get("error"):  # Gate puts a refusal under "error" with event "subscribe"
            return REFUSED, _error_text(msg["error"])
        result = msg.get("result")
        if isinstance(result, dict) and result.get("status") not in (None, "success"):
            return REFUSED, _error_text(result)
        return ACK, ""
    if event == "error":
        return REFUSED, _error_text(msg.get("msg") or msg.get("message") or msg)
    kind = msg.get("type")
    if kind == "subscribed":
        return ACK, ""
    if kind == "error" and "message" in msg:
        return REFUSED, _error_text(msg["message"])
    channel = msg.get("channel")
    if channel == "subscriptionResponse":
        return ACK, ""
    if channel == "error" and "data" in msg:
        return REFUSED, _error_text(msg["data"])
    op = msg.get("op")
    if op in ("subscribe", "sub"):
        if msg.get("success") is False:
            return REFUSED, _error_text(msg.get("ret_msg") or msg)
        code = msg.get("err-code")
        if code not in (None, 0, "0"):
            return REFUSED, _error_text(msg.get("err-msg") or code)
        return ACK, ""
    if "subbed" in msg:
        if msg.get("status") not in (None, "ok"):
            return REFUSED, _error_text(msg.get("err-msg") or msg)
        return ACK, ""
    if "subscribe" in msg and "success" in msg:  # BitMEX
        return (ACK, "") if msg["success"] else (REFUSED, _error_text(msg.get("error") or msg))
    if "error" in msg and ("status" in msg or "request" in msg):  # BitMEX refusal
        return REFUSED, _error_text(msg["error"])
    if "id" in msg and "method" not in msg and "params" not in msg:  # JSON-RPC answers
        if msg.get("error"):
            return REFUSED, _error_text(msg["error"])
        if "result" in msg:  # Binance {"result": null}, Deribit {"result": [channels]}
            return ACK, ""
    return None
