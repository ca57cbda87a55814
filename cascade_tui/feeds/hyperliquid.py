"""Hyperliquid perpetuals (docs/exchanges.md §7): trades, funding, open interest, mark.

Hyperliquid has NO public liquidation feed: public trades carry no liquidation marker and
only a user's own fills (`user`/`userFills`, needing an address) show one. This adapter
therefore emits no Liquidation events and its SPEC says `has_liquidations=False`; private
channels, if they ever arrive, are ignored rather than turned into a partial feed.

`wss://api.hyperliquid.xyz/ws`, per coin:
  - `trades`: `side` B = taker bought, A = taker sold; `sz` base coin; `time` ms.
  - `activeAssetCtx`: `ctx.funding` (hourly rate; funding settles every hour on the hour),
    `ctx.openInterest` (one side, base coin), `ctx.markPx`, `ctx.oraclePx`.
Also understood (replays, or a future subscription): `allDexsAssetCtxs` (contexts of every
perp of every dex, positional: ordered like each dex's `meta` universe) and `webData2`-style
payloads carrying `meta.universe` beside `assetCtxs`.

Coins: "BTC"; "kPEPE" is 1000 PEPE per unit, normalized to asset "1000PEPE" like other
venues' 1000× contracts; HIP-3 builder perps are "dex:COIN" (asset "COIN").

Metadata read (dict keyed by coin, e.g. "BTC" or "xyz:NVDA"): `index` (position in its
dex's `meta` universe, needed to name positional `allDexsAssetCtxs` contexts; bundled for
BTC, ETH, ATOM, SOL on the main dex), `dex` (default "" = main dex), `baseAsset`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
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
    decode,
    json_message,
    ms_to_s,
    opt_num,
    rows,
    unique,
)
from cascade_tui.model import Event, Funding, Mark, OpenInterest, TakerSide, Trade

VENUE = "hyperliquid"
URL = "wss://api.hyperliquid.xyz/ws"
BTC_INSTRUMENT = "BTC"
FUNDING_INTERVAL_H = 1.0
TAKER_SIDES: Final[dict[str, TakerSide]] = {"B": "buy", "A": "sell"}
# Main-dex universe positions (the `meta` order; checked against the 2026-05 nautilus
# allDexsAssetCtxs capture: BTC 77562, ETH 2123.7, SOL 86.148 mark prices).
BUNDLED_COINS: Final[dict[str, dict[str, Any]]] = {
    "BTC": {"dex": "", "index": 0},
    "ETH": {"dex": "", "index": 1},
    "ATOM": {"dex": "", "index": 2},
    "SOL": {"dex": "", "index": 5},
}
IGNORED_CHANNELS: Final = frozenset({"subscriptionResponse", "pong"})


def coin_asset(coin: str) -> str:
    """Hyperliquid coin -> normalized base asset: "kPEPE" -> "1000PEPE", "xyz:NVDA" -> "NVDA"."""
    name = coin.split(":", 1)[1] if ":" in coin else coin
    if len(name) > 1 and name[0] == "k" and name[1:].isupper():
        return "1000" + name[1:]
    return name.upper()


class HyperliquidParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.info = InstrumentInfo(self.metadata, BUNDLED_COINS)
        # (dex, universe index) -> coin, for positional context lists
        self._by_position: dict[tuple[str, int], str] = {}
        for table in (BUNDLED_COINS, self.metadata):
            for coin, entry in table.items():
                if isinstance(entry, Mapping) and entry.get("index") is not None:
                    self._by_position[(str(entry.get("dex") or ""), int(entry["index"]))] = coin

    def _asset(self, coin: str) -> str:
        base = self.info.field(coin, "baseAsset")
        return str(base).upper() if base else coin_asset(coin)

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        msg = as_dict(decode(frame), "frame")
        feed = msg["channel"]
        if feed in IGNORED_CHANNELS:
            raise Ignore
        if feed == "error":
            raise FrameError(f"venue error: {str(msg.get('data'))[:200]}")
        data = msg["data"]
        if feed == "trades":
            return [self._trade(row, recv_ts) for row in rows(data, "trades")]
        if feed == "activeAssetCtx":
            body = as_dict(data, "data")
            return self._context(body["coin"], as_dict(body["ctx"], "ctx"), recv_ts)
        if feed == "allDexsAssetCtxs":
            return self._all_dexs(as_dict(data, "data"), recv_ts)
        if isinstance(data, dict) and "assetCtxs" in data and "meta" in data:  # webData2 shape
            names = [u["name"] for u in rows(as_dict(data["meta"], "meta")["universe"], "universe")]
            return self._named_contexts(
                zip(names, as_list(data["assetCtxs"], "assetCtxs"), strict=False), recv_ts
            )
        raise Ignore  # user fills, books...: not subscribed by this adapter

    def _trade(self, row: dict[str, Any], recv_ts: float) -> Trade:
        side = TAKER_SIDES.get(row["side"])
        if side is None:
            raise FrameError(f"unknown trade side {row['side']!r}")
        coin = row["coin"]
        price = fnum(row["px"])
        size = fnum(row["sz"])  # base coin
        return Trade(
            venue=VENUE,
            instrument=coin,
            asset=self._asset(coin),
            price=price,
            qty=size,
            usd=size * price,
            taker_side=side,
            event_ts=ms_to_s(row["time"]),
            recv_ts=recv_ts,
        )

    def _context(self, coin: str, ctx: dict[str, Any], recv_ts: float) -> list[Event]:
        """One perp's asset context. It carries no time: the receive time is the event time."""
        asset = self._asset(coin)
        events: list[Event] = []
        mark = opt_num(ctx.get("markPx"))
        if mark is not None:
            events.append(
                Mark(VENUE, coin, asset, mark, recv_ts, recv_ts, index=opt_num(ctx.get("oraclePx")))
            )
        rate = opt_num(ctx.get("funding"))
        if rate is not None:
            next_hour = (math.floor(recv_ts / 3600.0) + 1.0) * 3600.0  # funding settles on the hour
            events.append(
                Funding(VENUE, coin, asset, rate, FUNDING_INTERVAL_H, recv_ts, recv_ts, next_ts=next_hour)
            )
        oi = opt_num(ctx.get("openInterest"))  # one side, base coin
        if oi is not None:
            usd = oi * mark if mark is not None else None
            events.append(OpenInterest(VENUE, coin, asset, oi, recv_ts, recv_ts, usd=usd))
        return events

    def _named_contexts(self, pairs: Iterable[tuple[str, Any]], recv_ts: float) -> list[Event]:
        events: list[Event] = []
        for coin, ctx in pairs:
            events.extend(self._context(coin, as_dict(ctx, "ctx"), recv_ts))
        return events

    def _all_dexs(self, data: dict[str, Any], recv_ts: float) -> list[Event]:
        """Positional contexts of every dex; only positions with a known coin are emitted."""
        named: list[tuple[str, Any]] = []
        for entry in as_list(data["ctxs"], "ctxs"):
            dex, ctxs = as_list(entry, "dex entry")
            for i, ctx in enumerate(as_list(ctxs, "dex ctxs")):
                coin = self._by_position.get((str(dex), i))
                if coin is not None:
                    named.append((coin, ctx))
        return self._named_contexts(named, recv_ts)


# --------------------------------------------------------------------------- connection


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """Trades and asset context per coin on one socket (no liquidation channel exists)."""
    trade_coins = unique([*req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])])
    messages = [
        json_message({"method": "subscribe", "subscription": {"type": "trades", "coin": c}})
        for c in trade_coins
    ]
    messages += [
        json_message({"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": c}})
        for c in unique(req.instruments)
    ]
    return [Subscription(url=URL, messages=messages, name="public")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    """Assets -> coins; 1000× assets use Hyperliquid's k prefix ("1000PEPE" -> "kPEPE")."""
    out = []
    for a in assets:
        up = a.upper()
        out.append("k" + up[4:] if up.startswith("1000") and len(up) > 4 else up)
    return out


SPEC = VenueSpec(
    id=VENUE,
    rank=11,
    metadata_source=metadata.HYPERLIQUID_SOURCE,
    name="Hyperliquid",
    parser=HyperliquidParser,
    subscriptions=subscriptions,
    # the server closes a socket it has sent nothing to for 60 s
    keepalive=Keepalive(kind="json", interval=30.0, message='{"method":"ping"}'),
    sampled=False,
    has_liquidations=False,
    stale_after_s=60.0,
    notes="Hyperliquid: no public liquidation feed; trades, OI and funding only.",
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
