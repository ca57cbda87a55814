"""dYdX v4 indexer WebSocket (docs/exchanges.md §11).

`wss://indexer.dydx.trade/v4/ws`:
  - `v4_trades` per market (`id` = "BTC-USD"): trades with `type` LIMIT, MARKET, LIQUIDATED,
    DELEVERAGED. LIQUIDATED trades are Liquidations (and Trades: they printed); `side` is the
    taker side and the liquidation order is the taker, so SELL = a long was liquidated
    (§1.1); `size` is base (§1.2). DELEVERAGED is ADL of a profitable position, neither a
    liquidation nor a market trade, so it is skipped. The `subscribed` reply carries a
    snapshot of recent trades (78 old liquidations in one probe): ignored (§1.4); only
    `channel_data` counts.
  - `v4_markets` (all markets, no id): the `subscribed` reply is the current state of every
    market (used: it is state, not history); `channel_data` brings `trading` deltas
    (`nextFundingRate` hourly, `openInterest` base) and `oraclePrices`. The oracle price is
    what dYdX margins against, so it is emitted as the Mark and prices OI in USD.

Metadata read (dict keyed by market id, e.g. "BTC-USD"): `baseAsset` (default: the part
before "-"). Funding is hourly on every dYdX market.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

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
    as_list,
    chunks,
    decode,
    json_message,
    opt_num,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, TakerSide, Trade

VENUE = "dydx"
URL = "wss://indexer.dydx.trade/v4/ws"
BTC_INSTRUMENT = "BTC-USD"
FUNDING_INTERVAL_H = 1.0
# the indexer accepts at most 32 subscriptions per channel on one connection
MARKETS_PER_CONNECTION = 32
TAKER_SIDES: Final[dict[str, TakerSide]] = {"BUY": "buy", "SELL": "sell"}
TAPE_TYPES = ("LIMIT", "MARKET", "LIQUIDATED")
IGNORED_TYPES = frozenset({"connected", "unsubscribed", "pong"})


def iso_to_s(text: str) -> float:
    """ISO-8601 UTC time ("2026-09-17T13:39:47.542Z") -> epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # the indexer always says "Z"; never fall back to local time
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class DydxParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.info = InstrumentInfo(self.metadata, {})
        # market -> last oracle price, to value open interest in USD (per connection)
        self._oracle: dict[str, float] = {}

    def reset(self) -> None:
        self._oracle.clear()

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        msg = as_dict(decode(frame), "frame")
        kind = msg["type"]
        if kind in IGNORED_TYPES:
            raise Ignore
        if kind == "error":
            raise FrameError(f"venue error: {msg.get('message', '')}")
        feed = msg.get("channel")
        if kind == "subscribed":
            if feed == "v4_markets":
                markets = as_dict(as_dict(msg["contents"], "contents")["markets"], "markets")
                return self._market_updates(markets, recv_ts)
            raise Ignore  # v4_trades snapshot: old trades replayed on subscribe
        if kind == "channel_data":
            contents = [as_dict(msg["contents"], "contents")]
        elif kind == "channel_batch_data":
            contents = [as_dict(c, "contents") for c in as_list(msg["contents"], "contents")]
        else:
            raise FrameError(f"unknown message type {kind!r}")
        events: list[Event] = []
        if feed == "v4_trades":
            market = msg["id"]
            for c in contents:
                for row in as_list(c["trades"], "trades"):
                    events.extend(self._trade(market, as_dict(row, "trade"), recv_ts))
            return events
        if feed == "v4_markets":
            for c in contents:
                # oracle prices first so OI in the same message is valued at the new price
                if "oraclePrices" in c:
                    events.extend(self._oracle_prices(as_dict(c["oraclePrices"], "oraclePrices"), recv_ts))
                if "trading" in c:
                    events.extend(self._market_updates(as_dict(c["trading"], "trading"), recv_ts))
            return events
        raise Ignore  # a channel this adapter does not subscribe

    def _trade(self, market: str, row: dict[str, Any], recv_ts: float) -> list[Event]:
        kind = row["type"]
        if kind not in TAPE_TYPES:
            return []
        side = TAKER_SIDES.get(row["side"])
        if side is None:
            raise FrameError(f"unknown trade side {row['side']!r}")
        price = fnum(row["price"])
        size = fnum(row["size"])  # base
        asset = self.info.asset(market)
        event_ts = iso_to_s(row["createdAt"])
        trade = Trade(VENUE, market, asset, price, size, size * price, side, event_ts, recv_ts)
        if kind != "LIQUIDATED":
            return [trade]
        liquidation = self.keyed(
            Liquidation(
                venue=VENUE,
                instrument=market,
                asset=asset,
                side=LONG if side == "sell" else SHORT,  # taker SELL = the liquidated long's order
                price=price,
                qty=size,
                usd=size * price,
                raw_size=size,
                event_ts=event_ts,
                recv_ts=recv_ts,
                sampled=False,
            ),
            row.get("id"),
        )  # the indexer's trade id: the same fill re-sent is one liquidation
        return [liquidation, trade]

    def _oracle_prices(self, prices: dict[str, Any], recv_ts: float) -> list[Event]:
        events: list[Event] = []
        for market, row in prices.items():
            price = fnum(as_dict(row, "oraclePrice")["oraclePrice"])
            self._oracle[market] = price
            event_ts = iso_to_s(row["effectiveAt"]) if row.get("effectiveAt") else recv_ts
            events.append(Mark(VENUE, market, self.info.asset(market), price, event_ts, recv_ts))
        return events

    def _market_updates(self, markets: dict[str, Any], recv_ts: float) -> list[Event]:
        """Per-market state or deltas (fields present only when they changed)."""
        events: list[Event] = []
        for market, raw in markets.items():
            row = as_dict(raw, "market")
            asset = self.info.asset(market)
            oracle = opt_num(row.get("oraclePrice"))
            if oracle is not None:
                self._oracle[market] = oracle
                events.append(Mark(VENUE, market, asset, oracle, recv_ts, recv_ts))
            rate = opt_num(row.get("nextFundingRate"))
            if rate is not None:
                events.append(Funding(VENUE, market, asset, rate, FUNDING_INTERVAL_H, recv_ts, recv_ts))
            oi = opt_num(row.get("openInterest"))  # base units
            if oi is not None:
                price = self._oracle.get(market)
                usd = oi * price if price is not None else None
                events.append(OpenInterest(VENUE, market, asset, oi, recv_ts, recv_ts, usd=usd))
        return events


# --------------------------------------------------------------------------- connection


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """`v4_markets` once, `v4_trades` per market, at most 32 markets per connection.

    The indexer accepts 2 subscribe messages per second per connection: the connection loop
    paces `messages` accordingly.
    """
    markets = unique(
        [*req.liquidation_instruments, *req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])]
    )
    groups = chunks(markets, MARKETS_PER_CONNECTION) or [[]]
    subs: list[Subscription] = []
    for n, group in enumerate(groups):
        messages = [json_message({"type": "subscribe", "channel": "v4_trades", "id": m}) for m in group]
        if n == 0:
            messages.insert(0, json_message({"type": "subscribe", "channel": "v4_markets"}))
        subs.append(Subscription(url=URL, messages=messages, name=f"indexer-{n + 1}"))
    return subs


def instruments_for(assets: Sequence[str]) -> list[str]:
    return [f"{a.upper()}-USD" for a in assets]


SPEC = VenueSpec(
    id=VENUE,
    rank=10,
    metadata_source=metadata.DYDX_SOURCE,
    liquidations_per_symbol=True,  # one liquidation topic per instrument: subscribe them all
    name="dYdX v4",
    parser=DydxParser,
    subscriptions=subscriptions,
    # the server pings every 30 s and drops the socket without a pong within 10 s;
    # the WebSocket library answers, our own pings just detect a dead link sooner
    keepalive=Keepalive(kind="ws-ping", interval=30.0),
    sampled=False,
    has_liquidations=True,
    stale_after_s=60.0,  # oracle prices update every few seconds
    notes=(
        "dYdX v4: liquidations are LIQUIDATED trades per market (max 32 markets per connection, "
        "2 subscribe messages/s); subscribe snapshots of old trades are ignored; funding hourly."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
    message_interval_s=0.5,  # the indexer accepts at most 2 subscribe messages per second
)
