"""The typed msgspec fast path of the Binance, Bybit and OKX parsers gives exactly what the
generic dict path gives: the same events, in the same order, and the same counters, on
recorded venue frames, simulator frames and hand-made odd frames (which must fall back)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import msgspec
import pytest

from cascade_tui.feeds import binance, bybit, okx
from cascade_tui.feeds.base import FrameParser
from cascade_tui.sources.simulate import MarketSimulator
from tests.feeds.venue_samples import ws_frames

# the module-level typed decoders of each venue; a parser without them is the dict path
TYPED_DECODERS: dict[str, tuple[ModuleType, tuple[str, ...]]] = {
    "binance": (binance, ("_typed_decode",)),
    "bybit": (bybit, ("_decode_message",)),
    "okx": (okx, ("_decode_message",)),
}
PARSERS: dict[str, type[FrameParser]] = {
    "binance": binance.BinanceParser,
    "bybit": bybit.BybitParser,
    "okx": okx.OkxParser,
}

ODD_FRAMES: dict[str, list[str]] = {
    "binance": [
        '{"stream":"x","data":{"e":"aggTrade","s":"BTCUSDT","p":1.5,"q":"1","m":false,"T":1}}',  # number
        '{"stream":"x","data":{"e":"aggTrade","s":"BTCUSDT","p":"nan","q":"1","m":false,"T":1}}',
        '{"stream":"x","data":{"e":"forceOrder","E":5,"o":{"s":"BTCUSDT","S":"SELL","z":"0","ap":"1","p":"1"}}}',
        '{"stream":"x","data":{"e":"forceOrder","o":{"s":"BTCUSDT","S":"HOLD","z":"1","ap":"1","p":"1"}}}',
        '{"stream":"x","data":{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","z":"1","ap":"0","p":"2"}}}',
        '{"stream":"x","data":[]}',
        '{"stream":"x","data":[{"e":"depthUpdate"}]}',
        '{"stream":"x","data":{"e":"markPriceUpdate","E":1,"s":"ETHUSDT","p":"2","i":"","r":"","T":0}}',
        '{"result":null,"id":1}',
        "not json",
    ],
    "bybit": [
        '{"topic":"tickers.BTCUSDT","type":"delta","ts":1,"data":{"markPrice":"5"}}',  # delta first
        '{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"markPrice":"5"}}',  # no ts
        '{"topic":"tickers.BTCUSDT","type":"delta","ts":2,"data":{"fundingRate":"0.0001"}}',
        '{"topic":"tickers.BTCUSD","type":"snapshot","ts":3,"data":{"markPrice":"5","openInterest":"100"}}',
        '{"topic":"allLiquidation.BTCUSDT","ts":1,"data":[{"s":"BTCUSDT","S":"Up","v":"1","p":"2","T":1}]}',
        '{"topic":"allLiquidation.BTCUSD","ts":1,"data":[{"s":"BTCUSD","S":"Buy","v":"100","p":"0","T":1}]}',
        '{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"s":"BTCUSDT","S":"Sell","v":1,"p":"2","T":1}]}',
        '{"op":"pong","success":true}',
        "[1,2]",
    ],
    "okx": [
        '{"arg":{"channel":"trades"},"data":[{"instId":"BTC-USDT-SWAP","side":"buy","sz":"1","px":"2","ts":"1"}]}',
        '{"arg":{"channel":"trades"},"data":[{"instId":"ABC-USDT-SWAP","side":"buy","sz":"1","px":"2","ts":"1"}]}',
        '{"arg":{"channel":"open-interest"},"data":[{"instId":"BTC-USD-SWAP","oiCcy":"1","ts":"1"}]}',
        '{"arg":{"channel":"open-interest"},"data":[{"instId":"BTC-USD-SWAP","oiCcy":"1","oi":"5","ts":"1"}]}',
        '{"arg":{"channel":"funding-rate"},"data":[{"instId":"BTC-USDT-SWAP","fundingRate":"0.1","fundingTime":"10"}]}',
        '{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":'
        '[{"side":"sell","sz":"1","bkPx":"2","ts":"9"},{"side":"sell","sz":"1","bkPx":"2","ts":"9"}]}]}',
        '{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":'
        '[{"side":"sell","sz":"1","bkPx":"2","ts":"9"}]}]}',  # a pure replay
        '{"event":"subscribe","arg":{"channel":"trades"}}',
        "pong",
    ],
}


def _dict_path_only(monkeypatch: pytest.MonkeyPatch, venue: str) -> None:
    module, names = TYPED_DECODERS[venue]

    def refuse(_frame: Any) -> Any:
        raise msgspec.ValidationError("typed path disabled for this comparison")

    for name in names:
        monkeypatch.setattr(module, name, refuse)


def _run(venue: str, frames: list[tuple[float, str, str]]) -> tuple[list[bytes], dict[str, Any]]:
    parser = PARSERS[venue]()
    out: list[bytes] = []
    for ts, data, channel in frames:
        out.extend(msgspec.json.encode(ev) for ev in parser.parse(data, ts, channel))
    return out, msgspec.structs.asdict(parser.stats)


def _simulator_frames(venue: str) -> list[tuple[float, str, str]]:
    return [
        (f.ts, f.data, f.channel)
        for f in MarketSimulator(5, profile="demo").frames(120.0)
        if f.venue == venue
    ]


def _recorded(venue: str) -> Iterator[tuple[float, str, str]]:
    name = {"binance": "BINANCE_FUTURES.ws.1.0", "okx": "OKX.ws.1.0"}.get(venue)
    if name is not None:
        for ts, data in ws_frames(name):
            yield ts, data, ""


@pytest.mark.parametrize("venue", sorted(PARSERS))
def test_typed_path_matches_the_dict_path(venue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [*_recorded(venue), *_simulator_frames(venue), *((1.0, f, "") for f in ODD_FRAMES[venue])]
    typed_events, typed_stats = _run(venue, frames)
    _dict_path_only(monkeypatch, venue)
    dict_events, dict_stats = _run(venue, frames)
    assert typed_events and typed_events == dict_events
    assert typed_stats == dict_stats
    assert typed_stats["parse_errors"] > 0  # the odd frames were counted, not raised
