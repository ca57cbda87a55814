"""The one validation point (feeds/base.py `FrameParser.parse`) seen through real frame
shapes: asset naming per docs/DESIGN.md §5.1 (one asset per coin across venues), hostile symbols
and ids (issue 12 row 17), event-time staleness against a measured venue clock (issue 13
item 8). Frames are the venues' documentation examples quoted in docs/exchanges.md, with the
symbol changed where a test needs another coin."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import make_parser
from cascade_tui.feeds.base import MAX_INSTRUMENT_LEN, STALE_AFTER_S, coin_and_multiplier, normalize_asset
from cascade_tui.model import Liquidation, Mark, Trade

T_MS = 1789670094099  # a 2026-09 venue time (the Bybit live example's)
RECV = T_MS / 1000 + 0.3


def binance_force_order(symbol: str, qty: str, price: str, t_ms: int = T_MS) -> str:
    # docs/exchanges.md §2 (real 2021 capture), symbol/size/price replaced
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t_ms, "o": {
        "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": qty, "p": price, "ap": price,
        "X": "FILLED", "l": qty, "z": qty, "T": t_ms}}})


def bybit_liquidation(symbol: str, qty: str, price: str, t_ms: int = T_MS) -> str:
    # docs/exchanges.md §3 (Bybit doc example / 2026-09 live shape), symbol/size/price replaced
    return json.dumps({"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": t_ms + 300,
                       "data": [{"T": t_ms, "s": symbol, "S": "Buy", "v": qty, "p": price}]})


def hyperliquid_trade(coin: str, sz: str, px: str, t_ms: int = T_MS) -> str:
    # docs/exchanges.md §7 trades shape (the nautilus/HL doc example), coin replaced
    return json.dumps({"channel": "trades", "data": [{"coin": coin, "side": "B", "px": px, "sz": sz,
                                                      "time": t_ms, "hash": "0x40d169aa", "tid": 1}]})


def okx_liquidation(inst_id: str, sz: str, px: str, t_ms: int = T_MS) -> str:
    # docs/exchanges.md §4 doc example, instrument/size/price replaced
    return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                       "data": [{"details": [{"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": "net",
                                              "side": "sell", "sz": sz, "ts": str(t_ms)}],
                                 "instId": inst_id, "instType": "SWAP"}]})


@pytest.mark.parametrize(
    ("name", "coin", "mult"),
    [
        ("1000PEPE", "PEPE", 1e3), ("kPEPE", "PEPE", 1e3), ("1000000MOG", "MOG", 1e6),
        ("1MBABYDOGE", "BABYDOGE", 1e6), ("SHIB1000", "SHIB", 1e3), ("10000LADYS", "LADYS", 1e4),
        ("1INCH", "1INCH", 1.0), ("KAS", "KAS", 1.0), ("C98", "C98", 1.0), ("BTC", "BTC", 1.0),
    ],
)
def test_multiplier_prefixes_fold_into_the_coin(name: str, coin: str, mult: float) -> None:
    assert coin_and_multiplier(name) == (coin, mult)


def test_pepe_is_one_asset_across_venues_with_quantities_in_pepe() -> None:
    """Issue 13 item 7 / docs/DESIGN.md §5.1: Binance and Bybit `1000PEPE`, Hyperliquid `kPEPE`
    and OKX `PEPE` are one asset PEPE; quantity and price are per PEPE, USD unchanged."""
    pepe_price = 0.00001  # USD per PEPE, so 0.01 per 1000 PEPE
    events = [
        *make_parser("binance").parse(binance_force_order("1000PEPEUSDT", "2000", "0.01"), RECV),
        *make_parser("bybit").parse(bybit_liquidation("1000PEPEUSDT", "2000", "0.01"), RECV),
        *make_parser("hyperliquid").parse(hyperliquid_trade("kPEPE", "2000", "0.01"), RECV),
        *make_parser("okx", {"PEPE-USDT-SWAP": {"ctVal": "10000000", "ctType": "linear", "ctValCcy": "PEPE"}}).parse(
            okx_liquidation("PEPE-USDT-SWAP", "0.2", "0.00001"), RECV
        ),
    ]
    assert len(events) == 4
    assert {e.asset for e in events} == {"PEPE"}
    for e in events:
        assert isinstance(e, Liquidation | Trade)
        assert e.price == pytest.approx(pepe_price)
        assert e.qty == pytest.approx(2_000_000)  # 2000 × 1000 PEPE; OKX 0.2 × 1e7
        assert e.usd == pytest.approx(20.0)
    # raw sizes stay as the venue sent them
    assert events[0].raw_size == 2000.0  # type: ignore[union-attr]


def test_million_prefix_scales_marks_and_keeps_usd() -> None:
    p = make_parser("binance")
    frame = json.dumps({"stream": "1000000mogusdt@markPrice@1s", "data": {
        "e": "markPriceUpdate", "E": T_MS, "s": "1000000MOGUSDT", "p": "1.5", "i": "1.49", "r": "0.0001",
        "T": T_MS + 3600_000}})
    mark = next(e for e in p.parse(frame, RECV) if isinstance(e, Mark))
    assert mark.asset == "MOG" and mark.price == pytest.approx(1.5e-6) and mark.index == pytest.approx(1.49e-6)


def test_star_symbol_never_becomes_the_market_wide_asset() -> None:
    """Issue 12 row 17: a symbol `*USDT` parsed to asset `*` (reserved for market-wide)."""
    p = make_parser("bybit")
    assert p.parse(bybit_liquidation("*USDT", "1", "100"), RECV) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0
    assert normalize_asset("*") is None and normalize_asset("") is None and normalize_asset("A" * 21) is None


def test_terminal_escape_in_a_symbol_is_rejected() -> None:
    """Issue 12 row 2/17: `\\x1b]2;TITLE\\x07REDUSDT` (sets the terminal title) never passes."""
    p = make_parser("bybit")
    assert p.parse(bybit_liquidation("\x1b]2;TITLE\x07REDUSDT", "1", "100"), RECV) == []
    assert p.stats.rejected == 1 and "instrument rejected" in p.stats.last_error
    assert "\x1b" not in p.stats.last_error


def test_ten_megabyte_product_id_is_rejected() -> None:
    """Issue 12 row 17: a 10 MB Kraken `product_id` was accepted as an asset."""
    # docs/exchanges.md §10 trade shape (nautilus ws_futures_trade.json), product_id replaced
    huge = "PF_" + "X" * 10_000_000
    frame = json.dumps({"feed": "trade", "product_id": huge, "uid": "u1", "side": "sell", "type": "liquidation",
                        "seq": 1, "time": T_MS, "qty": 1.0, "price": 100.0})
    p = make_parser("kraken", {huge: {"contractSize": 1, "type": "flexible_futures"}})
    assert p.parse(frame, RECV) == []
    assert p.stats.rejected == 2 and len(p.stats.last_error) < 300  # the liquidation and its trade
    ok = "A" * MAX_INSTRUMENT_LEN
    assert make_parser("bybit").parse(bybit_liquidation(ok + "USDT", "1", "1"), RECV) == []  # 68 chars: too long


def test_stale_liquidation_is_counted_apart_after_the_clock_is_measured() -> None:
    """Issue 13 item 8: with the venue's clock measured from fresh rows (here a venue 2 s
    behind us), a liquidation minutes old is counted `stale` and not passed on; one inside
    the window counts."""
    p = make_parser("binance")
    for i in range(10):  # fresh rows: the venue's time trails our receive time by 2 s
        assert len(p.parse(binance_force_order("BTCUSDT", "0.01", str(60000 + i), T_MS + i * 1000),
                           T_MS / 1000 + i + 2.0)) == 1
    assert p.clock_offset_s == pytest.approx(2.0)
    now = T_MS / 1000 + 20.0
    old = binance_force_order("ETHUSDT", "1", "3000", int((now - 2.0 - STALE_AFTER_S - 120) * 1000))
    assert p.parse(old, now) == [] and p.stats.stale == 1
    recent = binance_force_order("ETHUSDT", "1", "3001", int((now - 2.0 - 30) * 1000))
    assert len(p.parse(recent, now)) == 1


def test_a_machine_clock_off_by_minutes_is_not_all_stale() -> None:
    """The clock offset is measured, not assumed: a local clock 10 minutes ahead still counts
    every fresh row (the first rows measure the offset)."""
    p = make_parser("bybit")
    skew = 600.0
    counted = sum(
        len(p.parse(bybit_liquidation("BTCUSDT", "0.01", str(60000 + i), T_MS + i * 1000), T_MS / 1000 + i + skew))
        for i in range(20)
    )
    assert counted == 20 and p.stats.stale == 0 and p.clock_offset_s == pytest.approx(skew)


class _Str(str):
    pass


def _plain_fnum(x: object) -> float:
    """`fnum` before its exact-type fast path."""
    if isinstance(x, bool) or x is None:
        raise ValueError(f"not a number: {x!r}")
    return float(x)  # type: ignore[arg-type]


NUMBERS: list[object] = [
    "1.5", "-0", "1e400", "nan", "inf", " 7 ", "0x1", "", "abc", _Str("2.5"), 3, 2**80, -4.25,
    float("nan"), True, False, None, [1], {"a": 1}, b"3",
]  # fmt: skip


@pytest.mark.parametrize("x", NUMBERS, ids=repr)
def test_number_helpers_match_their_plain_form(x: object) -> None:
    """`fnum`/`opt_num` take a short path for str/float/int: same value or same exception
    as the plain checks for every kind of input a frame can hold (and a few it cannot)."""
    from cascade_tui.feeds.base import fnum
    from cascade_tui.feeds.common import opt_num

    def outcome(fn: object, arg: object) -> object:
        try:
            value = fn(arg)  # type: ignore[operator]
        except (ValueError, TypeError, OverflowError) as exc:
            return type(exc)
        return "nan" if value != value else value

    def plain_opt(v: object) -> float | None:
        return None if v is None or v == "" else _plain_fnum(v)

    assert outcome(fnum, x) == outcome(_plain_fnum, x)
    assert outcome(opt_num, x) == outcome(plain_opt, x)
