"""BitMEX realtime API: liquidations (`liquidation` table), trades (`trade`), funding, open
interest and mark (`instrument`, `funding`) (docs/exchanges.md §5).

Tables send `partial` (a snapshot) first, then `insert` / `update` / `delete`:
- `liquidation`: only `insert` is a new liquidation order entering the book; `partial`
  (open liquidation orders at subscribe time) is ignored, `update`/`delete` (the order
  filling or leaving) yield nothing. `side` is the ORDER side: Sell ⇒ a long was liquidated.
  Rows have no timestamp: the event time is the receive time.
- `trade`: `partial` replays the last trade and is ignored; `homeNotional` is the base qty.
- `instrument`: rows are merged per symbol (updates hold only changed fields); Mark,
  Funding and OpenInterest are emitted for the fields a row carries.
- `funding`: one row per settlement.

Contract units (§1.2): inverse (XBTUSD) 1 contract = |multiplier|/1e8 USD (= 1 USD);
linear base = contracts / underlyingToPositionMultiplier (XBTUSDT 1e6); quanto (ETHUSD)
base = contracts × multiplier × XBTUSD / 1e8, which needs an XBTUSD price (kept from the
`instrument:XBTUSD` stream the SPEC always subscribes). When an instrument has no metadata,
the base quantity per contract learned from its trades (homeNotional / size) is used.
Otherwise a liquidation of an unknown instrument is a parse error, never a guess.

Metadata read, keyed by symbol (fields as in GET /api/v1/instrument/active), e.g.
`{"XBTUSDT": {"isInverse": false, "isQuanto": false, "multiplier": 1,
"underlyingToPositionMultiplier": 1000000, "baseAsset": "BTC"}}`: `isInverse`,
`isQuanto`, `multiplier`, `underlyingToPositionMultiplier`, `baseAsset` (or
`underlying`). The `instrument` stream's partial rows carry the same fields and are used for
the subscribed symbols. Bundled: XBTUSD, XBTUSDT, ETHUSD (values documented in
exchanges.md §5); other symbols' units were not verifiable offline, so none are guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
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
    as_list,
    chunks,
    decode,
    is_text,
    json_message,
    opt_num,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Trade

VENUE = "bitmex"
WS_URL = "wss://ws.bitmex.com/realtime"
ARGS_PER_MESSAGE = 10
XBTUSD = "XBTUSD"
SATOSHI = 1e8
_EPOCH_2000 = datetime.fromisoformat("2000-01-01T00:00:00+00:00")

BUNDLED: dict[str, dict[str, Any]] = {
    "XBTUSD": {"isInverse": True, "isQuanto": False, "multiplier": -100_000_000, "baseAsset": "BTC"},
    "XBTUSDT": {
        "isInverse": False,
        "isQuanto": False,
        "underlyingToPositionMultiplier": 1_000_000,
        "baseAsset": "BTC",
    },
    "ETHUSD": {"isInverse": False, "isQuanto": True, "multiplier": 100, "baseAsset": "ETH"},
}


def iso_ts(x: Any) -> float:
    """BitMEX ISO-8601 time ("2021-07-22T22:36:10.014Z") -> epoch seconds."""
    if not isinstance(x, str):
        raise FrameError(f"timestamp is not a string: {x!r}")
    return datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()


def interval_hours(x: Any) -> float | None:
    """`fundingInterval` is a duration written as a date after 2000-01-01 ("...T08:00" = 8 h)."""
    if not isinstance(x, str):
        return None
    hours = (datetime.fromisoformat(x.replace("Z", "+00:00")) - _EPOCH_2000).total_seconds() / 3600.0
    return hours if hours > 0 else None


class _BitmexInfo(InstrumentInfo):
    """BitMEX metadata names the base asset `underlying` (XBT); accept it as `baseAsset`."""

    def asset(self, instrument: str, fallback_symbol: str | None = None) -> str:
        if self.field(instrument, "baseAsset") is None:
            underlying = self.field(instrument, "underlying")
            if isinstance(underlying, str) and underlying:
                return "BTC" if underlying.upper() == "XBT" else underlying.upper()
        return super().asset(instrument, fallback_symbol)


class BitmexParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = _BitmexInfo(self.metadata, BUNDLED)
        self._instruments: dict[str, dict[str, Any]] = {}  # symbol -> merged instrument row
        self._base_per_contract: dict[str, float] = {}  # learned from trades
        self._xbt_usd: float | None = None

    def reset(self) -> None:
        self._instruments.clear()

    # ------------------------------------------------------------------ units

    def _unit_field(self, symbol: str, name: str) -> Any:
        """A contract-unit field: the `instrument` stream's own row first (its partial carries
        the venue's current definition), else parser metadata (network, cache, or the shipped
        2021 table when neither is at hand), else the bundled values.

        When the live row defines the contract at all, its absent fields are absent (a linear
        row has no quanto multiplier): metadata must not fill them in."""
        live = self._instruments.get(symbol)
        if live is not None and ("isQuanto" in live or "isInverse" in live):
            return live.get(name)
        meta = self.metadata.get(symbol)
        if isinstance(meta, Mapping) and meta.get(name) not in (None, ""):
            return meta[name]
        return self._info.field(symbol, name)

    def to_base_usd(self, symbol: str, contracts: float, price: float) -> tuple[float, float]:
        """(base qty, USD) of `contracts` at `price`; raises when the unit is unknown."""
        field = self._unit_field
        if field(symbol, "isInverse"):
            mult = opt_num(field(symbol, "multiplier"))
            usd = contracts * (abs(mult) / SATOSHI if mult else 1.0)
            return (usd / price if price else float("nan")), usd
        if field(symbol, "isQuanto"):
            mult = opt_num(field(symbol, "multiplier"))
            if mult and self._xbt_usd:
                base = contracts * mult * self._xbt_usd / SATOSHI
                return base, base * price
        else:
            u2p = opt_num(field(symbol, "underlyingToPositionMultiplier"))
            if u2p:
                base = contracts / u2p
                return base, base * price
        learned = self._base_per_contract.get(symbol)
        if learned:
            base = contracts * learned
            return base, base * price
        raise FrameError(f"no contract unit for BitMEX instrument {symbol} (pass instrument metadata)")

    # ------------------------------------------------------------------ frames

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        if is_text(frame, "pong"):
            raise Ignore
        msg = as_dict(decode(frame), "bitmex frame")
        table = msg.get("table")
        if not isinstance(table, str):
            if "error" in msg:
                self.stats.last_error = f"bitmex error: {msg.get('error')}"
                raise Ignore
            if "info" in msg or "success" in msg or "subscribe" in msg:
                raise Ignore  # welcome, subscribe acks
            raise FrameError("bitmex frame without a table")
        action = msg.get("action")
        data = as_list(msg.get("data"), "bitmex data")
        if table == "liquidation":
            if action == "insert":
                return self._liquidations(data, recv_ts)
            if action == "partial":
                raise Ignore  # open liquidation orders at subscribe time: not new
            if action in ("update", "delete"):
                return []  # the order filling or leaving the book: no new liquidation
        elif table == "trade":
            if action == "insert":
                return self._trades(data, recv_ts)
            if action == "partial":
                raise Ignore  # replays the last trade
        elif table == "instrument":
            if action in ("partial", "insert", "update"):
                return self._instrument(data, recv_ts)
            if action == "delete":
                return []
        elif table == "funding":
            if action == "insert":
                return self._funding(data, recv_ts)
            if action == "partial":
                raise Ignore  # past settlements
        else:
            raise Ignore  # orderBookL2, quote...: valid, unused
        raise FrameError(f"bitmex {table} action {action!r}")

    def _liquidations(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            try:
                out.append(self._liquidation(as_dict(row, "liquidation row"), recv_ts))
            except (FrameError, KeyError, ValueError, TypeError) as exc:
                self.row_failed(exc)  # one unknown contract costs its row, not the batch
        return out

    def _liquidation(self, row: dict[str, Any], recv_ts: float) -> Liquidation:
        symbol = str(row["symbol"])
        side = row["side"]
        if side not in ("Buy", "Sell"):
            raise FrameError(f"liquidation side {side!r}")
        contracts = fnum(row["leavesQty"])
        price = fnum(row["price"])
        qty, usd = self.to_base_usd(symbol, contracts, price)
        return self.keyed(
            Liquidation(
                venue=VENUE,
                instrument=symbol,
                asset=self._info.asset(symbol),
                side=LONG if side == "Sell" else SHORT,  # order side
                price=price,
                qty=qty,
                usd=usd,
                raw_size=contracts,
                event_ts=recv_ts,  # rows carry no time
                recv_ts=recv_ts,
                sampled=False,
            ),
            row.get("orderID"),  # the same order inserted again is the same liquidation
        )

    def _trades(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "trade row")
            symbol = str(row["symbol"])
            side = row["side"]
            if side not in ("Buy", "Sell"):
                raise FrameError(f"trade side {side!r}")
            size = fnum(row["size"])
            price = fnum(row["price"])
            home = opt_num(row.get("homeNotional"))
            if home is not None:
                qty = home
                if size > 0 and not self._unit_field(symbol, "isInverse"):
                    self._base_per_contract[symbol] = home / size
            else:
                qty, _ = self.to_base_usd(symbol, size, price)
            if symbol == XBTUSD:
                self._xbt_usd = price
            out.append(
                Trade(
                    venue=VENUE,
                    instrument=symbol,
                    asset=self._info.asset(symbol),
                    price=price,
                    qty=qty,
                    usd=qty * price,
                    taker_side="buy" if side == "Buy" else "sell",
                    event_ts=iso_ts(row["timestamp"]),
                    recv_ts=recv_ts,
                )
            )
        return out

    def _instrument(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "instrument row")
            symbol = str(row["symbol"])
            state = self._instruments.setdefault(symbol, {})
            state.update(row)
            asset = self._info.asset(symbol)
            event_ts = iso_ts(state["timestamp"]) if "timestamp" in state else recv_ts
            mark = opt_num(state.get("markPrice"))
            if symbol == XBTUSD and mark:
                self._xbt_usd = mark
            if "markPrice" in row and mark is not None:
                out.append(
                    Mark(
                        venue=VENUE,
                        instrument=symbol,
                        asset=asset,
                        price=mark,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                        index=opt_num(state.get("indicativeSettlePrice")),
                    )
                )
            rate = opt_num(state.get("fundingRate"))
            if "fundingRate" in row and rate is not None:
                next_ts = state.get("fundingTimestamp")
                out.append(
                    Funding(
                        venue=VENUE,
                        instrument=symbol,
                        asset=asset,
                        rate=rate,
                        interval_h=interval_hours(state.get("fundingInterval")) or 8.0,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                        next_ts=iso_ts(next_ts) if next_ts else None,
                    )
                )
            contracts = opt_num(state.get("openInterest"))
            if "openInterest" in row and contracts is not None and mark:
                base, usd = self.to_base_usd(symbol, contracts, mark)
                out.append(
                    OpenInterest(
                        venue=VENUE,
                        instrument=symbol,
                        asset=asset,
                        oi=base,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                        usd=usd,
                    )
                )
        return out

    def _funding(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "funding row")
            symbol = str(row["symbol"])
            out.append(
                Funding(
                    venue=VENUE,
                    instrument=symbol,
                    asset=self._info.asset(symbol),
                    rate=fnum(row["fundingRate"]),
                    interval_h=interval_hours(row.get("fundingInterval")) or 8.0,
                    event_ts=iso_ts(row["timestamp"]),
                    recv_ts=recv_ts,
                )
            )
        return out


# ---------------------------------------------------------------------- connection spec


def topics(req: SubscribeRequest) -> list[str]:
    args = [f"liquidation:{s}" for s in req.liquidation_instruments] or ["liquidation"]
    trade_symbols = [*req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])]
    args += [f"trade:{s}" for s in trade_symbols]
    # XBTUSD's price converts quanto contracts, so its instrument stream is always on
    args += [f"instrument:{s}" for s in [XBTUSD, *req.instruments]]
    args += [f"funding:{s}" for s in req.instruments]
    return unique(args)


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    messages = [
        json_message({"op": "subscribe", "args": part}) for part in chunks(topics(req), ARGS_PER_MESSAGE)
    ]
    return [Subscription(url=WS_URL, messages=messages, name="realtime")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    """BTC -> the inverse XBTUSD (BitMEX's main market); others -> their USDT linear perp."""
    return [XBTUSD if a.upper() in ("BTC", "XBT") else f"{a.upper()}USDT" for a in assets]


BTC_INSTRUMENT = XBTUSD

SPEC = VenueSpec(
    id=VENUE,
    rank=4,
    metadata_source=metadata.BITMEX_SOURCE,
    name="BitMEX",
    parser=BitmexParser,
    subscriptions=subscriptions,
    keepalive=Keepalive(kind="text", interval=10.0, message="ping"),  # answered by "pong"
    rest_polls=None,  # funding and open interest arrive on the instrument table
    sampled=False,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,
    stale_after_s=60.0,
    notes=(
        "A liquidation is a liquidation order entering the book (insert), sized by its leavesQty; "
        "rows carry no timestamp (receive time is used) and may arrive seconds late."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
