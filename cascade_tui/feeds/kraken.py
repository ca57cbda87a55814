"""Kraken Futures (ex Crypto Facilities) public WebSocket v1 (docs/exchanges.md §10).

One socket `wss://futures.kraken.com/ws/v1`, feeds per `product_ids`:
  - `trade`: every trade; `type` is `fill`, `liquidation`, `block` or `termination`.
    A `liquidation` trade is a Liquidation (and also a Trade: it printed on the tape);
    `side` is the TAKER side and the liquidation order is the taker [INFERRED], so
    `sell` = a long was liquidated (§1.1). `qty` is base coin on linear products (`PF_`,
    `FF_`) and USD contracts on inverse ones (`PI_`, `FI_`) (§1.2). The `trade_snapshot`
    sent after subscribing is history and is ignored (§1.4).
  - `ticker` (1/s): `relative_funding_rate` (fraction of price per funding period; the
    absolute `funding_rate` is ignored), `next_funding_rate_time`, `openInterest` (contracts:
    base on linear, USD on inverse), `markPrice`, `index`. Fields are absent when zero.
  - `heartbeat`: subscribed so a quiet market still shows a live socket; ignored.

Metadata read (dict keyed by product id, upper or lower case as Kraken's REST
`/derivatives/api/v3/instruments` returns it): `contractSize` (default 1: 1 USD per inverse
contract, 1 coin per linear one), `type` (`futures_inverse` marks an inverse product; default
from the `PI_`/`FI_` prefix), `funding_interval_h` (default 1 h [UNCERTAIN §15.9: hourly per
`next_funding_rate_time` spacing]), `baseAsset`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cascade_tui.feeds import metadata
from cascade_tui.feeds.base import (
    FrameParser,
    Ignore,
    Keepalive,
    SubscribeRequest,
    Subscription,
    VenueSpec,
    fnum,
)
from cascade_tui.feeds.common import (
    FrameError,
    InstrumentInfo,
    as_dict,
    decode,
    json_message,
    ms_to_s,
    opt_num,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Trade

VENUE = "kraken"
URL = "wss://futures.kraken.com/ws/v1"
BTC_INSTRUMENT = "PF_XBTUSD"
DEFAULT_FUNDING_INTERVAL_H = 1.0
INVERSE_PREFIXES = ("PI_", "FI_")
# trade types that printed on the tape (termination = contract expiry settlement, not a trade)
TAPE_TYPES = ("fill", "liquidation", "block")
IGNORED_FEEDS = frozenset({"heartbeat", "trade_snapshot", "book", "book_snapshot", "ticker_lite"})
IGNORED_EVENTS = frozenset({"info", "subscribed", "unsubscribed"})


class KrakenParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.info = InstrumentInfo(self.metadata, {})
        # product id -> (is_inverse, contract size), cached: both are fixed per product
        self._contracts: dict[str, tuple[bool, float]] = {}

    def _field(self, product: str, name: str) -> Any:
        value = self.info.field(product, name)
        return value if value is not None else self.info.field(product.lower(), name)

    def _contract(self, product: str) -> tuple[bool, float]:
        cached = self._contracts.get(product)
        if cached is None:
            kind = self._field(product, "type")
            inverse = (
                kind == "futures_inverse" if isinstance(kind, str) else product.startswith(INVERSE_PREFIXES)
            )
            size = opt_num(self._field(product, "contractSize")) or 1.0
            cached = self._contracts[product] = (inverse, size)
        return cached

    def _asset(self, product: str) -> str:
        # "FI_XBTUSD_210924" -> "FI_XBTUSD" so the generic symbol parser sees prefix + pair
        return self.info.asset(product, "_".join(product.split("_")[:2]))

    def _base_and_usd(self, product: str, size: float, price: float) -> tuple[float, float]:
        """Contracts as sent -> (base quantity, USD notional)."""
        inverse, contract_size = self._contract(product)
        if inverse:
            usd = size * contract_size
            return (usd / price if price else 0.0), usd
        base = size * contract_size
        return base, base * price

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        msg = as_dict(decode(frame), "frame")
        event = msg.get("event")
        if event is not None:
            if event in IGNORED_EVENTS:
                raise Ignore
            raise FrameError(f"venue {event}: {msg.get('message', '')}")
        feed = msg["feed"]
        if feed == "trade":
            return self._trade(msg, recv_ts)
        if feed == "ticker":
            return self._ticker(msg, recv_ts)
        if feed in IGNORED_FEEDS:
            raise Ignore
        raise FrameError(f"unknown feed {feed!r}")

    def _trade(self, msg: dict[str, Any], recv_ts: float) -> list[Event]:
        kind = msg["type"]
        if kind not in TAPE_TYPES:
            return []
        product = str(msg["product_id"]).upper()
        side = msg["side"]
        if side not in ("buy", "sell"):
            raise FrameError(f"unknown trade side {side!r}")
        price = fnum(msg["price"])
        size = fnum(msg["qty"])
        qty, usd = self._base_and_usd(product, size, price)
        asset = self._asset(product)
        event_ts = ms_to_s(msg["time"])
        trade = Trade(VENUE, product, asset, price, qty, usd, side, event_ts, recv_ts)
        if kind != "liquidation":
            return [trade]
        liquidation = self.keyed(
            Liquidation(
                venue=VENUE,
                instrument=product,
                asset=asset,
                side=LONG if side == "sell" else SHORT,  # taker sell = forced sell of a long
                price=price,
                qty=qty,
                usd=usd,
                raw_size=size,
                event_ts=event_ts,
                recv_ts=recv_ts,
                sampled=False,
            ),
            msg.get("uid"),
        )  # Kraken's trade id: the same trade re-sent is one liquidation
        return [liquidation, trade]

    def _ticker(self, msg: dict[str, Any], recv_ts: float) -> list[Event]:
        product = str(msg["product_id"]).upper()
        asset = self._asset(product)
        event_ts = ms_to_s(msg["time"]) if "time" in msg else recv_ts
        events: list[Event] = []
        mark = opt_num(msg.get("markPrice"))
        if mark is not None:
            events.append(
                Mark(VENUE, product, asset, mark, event_ts, recv_ts, index=opt_num(msg.get("index")))
            )
        rate = opt_num(msg.get("relative_funding_rate"))
        if rate is not None:
            next_ms = opt_num(msg.get("next_funding_rate_time"))
            interval = opt_num(self._field(product, "funding_interval_h")) or DEFAULT_FUNDING_INTERVAL_H
            events.append(
                Funding(
                    venue=VENUE,
                    instrument=product,
                    asset=asset,
                    rate=rate,
                    interval_h=interval,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                    next_ts=next_ms / 1000.0 if next_ms else None,
                )
            )
        contracts = opt_num(msg.get("openInterest"))
        if contracts is not None:
            inverse, _ = self._contract(product)
            if mark is not None:
                base, usd = self._base_and_usd(product, contracts, mark)
                events.append(OpenInterest(VENUE, product, asset, base, event_ts, recv_ts, usd=usd))
            elif not inverse:  # base units need no price; USD does
                base, _ = self._base_and_usd(product, contracts, 0.0)
                events.append(OpenInterest(VENUE, product, asset, base, event_ts, recv_ts))
        return events


# --------------------------------------------------------------------------- connection


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """One socket: heartbeat, trades (liquidations ride on them) and tickers."""
    trade_ids = unique(
        [*req.liquidation_instruments, *req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])]
    )
    messages = [json_message({"event": "subscribe", "feed": "heartbeat"})]
    if trade_ids:
        messages.append(json_message({"event": "subscribe", "feed": "trade", "product_ids": trade_ids}))
    if req.instruments:
        messages.append(
            json_message({"event": "subscribe", "feed": "ticker", "product_ids": unique(req.instruments)})
        )
    return [Subscription(url=URL, messages=messages, name="public")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    """Linear multi-collateral perpetuals; Kraken spells BTC as XBT."""
    return [f"PF_{'XBT' if a.upper() == 'BTC' else a.upper()}USD" for a in assets]


SPEC = VenueSpec(
    id=VENUE,
    rank=9,
    metadata_source=metadata.KRAKEN_SOURCE,
    liquidations_per_symbol=True,  # one liquidation topic per instrument: subscribe them all
    name="Kraken Futures",
    parser=KrakenParser,
    subscriptions=subscriptions,
    # Kraken closes a connection without a ping for 60 s
    keepalive=Keepalive(kind="ws-ping", interval=30.0),
    sampled=False,
    has_liquidations=True,
    stale_after_s=60.0,  # the heartbeat feed and 1 s tickers keep a live socket busy
    notes=(
        "Kraken Futures: liquidations are trades with type=liquidation, per product_ids; "
        "liquidation side read as taker side [inferred]; funding period assumed hourly [verify]."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
