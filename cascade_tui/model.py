"""Normalized market events: the one vocabulary every source, parser, engine and sink speaks.

All timestamps are epoch seconds (float). `event_ts` is the venue's own time for the event;
`recv_ts` is when the frame carrying it was received (the capture's `ts` in a replay) and is
the engine's clock (docs/DESIGN.md §2).

Structs are frozen and `gc=False`: they are created at feed rate and never form cycles.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

# Side of the *liquidated position*: a liquidated long is a forced SELL (price falling).
Side = Literal["long", "short"]
LONG: Final = "long"
SHORT: Final = "short"

# Taker side of a trade.
TakerSide = Literal["buy", "sell"]

EVENT_KINDS: Final[tuple[str, ...]] = ("liquidation", "trade", "open_interest", "funding", "mark")


class Liquidation(msgspec.Struct, frozen=True, gc=False, tag="liquidation", tag_field="kind"):
    venue: str
    instrument: str  # the venue's own symbol, e.g. "BTCUSDT", "BTC-USDT-SWAP"
    asset: str  # base asset, upper case, e.g. "BTC", "1000PEPE"
    side: Side  # side of the position that was liquidated
    price: float  # fill / bankruptcy price in quote (USD-like) units
    qty: float  # base-asset quantity
    usd: float  # USD notional
    raw_size: float  # size exactly as the venue sent it (contracts, coins or USD)
    event_ts: float
    recv_ts: float
    sampled: bool = False  # True when the feed is throttled: counts/USD are lower bounds


class Trade(msgspec.Struct, frozen=True, gc=False, tag="trade", tag_field="kind"):
    venue: str
    instrument: str
    asset: str
    price: float
    qty: float  # base quantity
    usd: float
    taker_side: TakerSide
    event_ts: float
    recv_ts: float


class OpenInterest(msgspec.Struct, frozen=True, gc=False, tag="open_interest", tag_field="kind"):
    venue: str
    instrument: str
    asset: str
    oi: float  # open interest in base-asset units (one side)
    event_ts: float
    recv_ts: float
    usd: float | None = None  # USD value when the venue gives it or a price is known


class Funding(msgspec.Struct, frozen=True, gc=False, tag="funding", tag_field="kind"):
    venue: str
    instrument: str
    asset: str
    rate: float  # rate per funding interval, as a fraction (0.0001 = 0.01 %)
    interval_h: float  # funding interval in hours (8 on most venues, 1 on Hyperliquid/dYdX)
    event_ts: float
    recv_ts: float
    next_ts: float | None = None  # next funding time, epoch seconds, when known


class Mark(msgspec.Struct, frozen=True, gc=False, tag="mark", tag_field="kind"):
    venue: str
    instrument: str
    asset: str
    price: float  # mark price
    event_ts: float
    recv_ts: float
    index: float | None = None  # index price when the venue sends it


Event = Liquidation | Trade | OpenInterest | Funding | Mark

# Encoder/decoder for events on the wire (Redis stream `cascade:events`, history, tests).
event_encoder = msgspec.json.Encoder()
event_decoder = msgspec.json.Decoder(Event)


def annualized_funding(rate: float, interval_h: float) -> float:
    """Funding rate per interval -> simple annualized fraction (365 × 24 h / interval)."""
    if interval_h <= 0:
        return 0.0
    return rate * (365.0 * 24.0 / interval_h)


class RawFrame(msgspec.Struct, frozen=True, gc=False):
    """One frame as it came off a connection or a capture, before parsing.

    `channel` is empty for WebSocket frames and `rest:<endpoint>` for REST poll results.
    """

    ts: float  # receive time, epoch seconds
    venue: str
    data: str | bytes
    channel: str = ""
