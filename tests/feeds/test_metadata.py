"""Contract metadata: every venue's recorded REST instrument list normalized to the shape its
parser reads; cache freshness, stale-cache and bundled fallbacks; a start-up that never
waits long for a dead network (httpx MockTransport serves the recorded bodies)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cascade_tui.feeds import make_parser
from cascade_tui.feeds.metadata import (
    SOURCES,
    VenueMetadata,
    bundled_instruments,
    fetch_venue,
    load_metadata,
    load_venue,
    read_cache,
    write_cache,
)
from cascade_tui.model import Liquidation
from tests.feeds.venue_samples import nautilus_text, rest_bodies


def cryptofeed_body(name: str, url_part: str) -> Any:
    return next(body for url, body in rest_bodies(name) if url_part in url)


BITGET_CONTRACTS = {  # the documented /api/v2/mix/market/contracts shape (no recording exists)
    "code": "00000",
    "msg": "success",
    "data": [
        {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "symbolType": "perpetual",
         "symbolStatus": "normal", "sizeMultiplier": "0.0001", "fundInterval": "8"},
        {"symbol": "OLDUSDT", "baseCoin": "OLD", "quoteCoin": "USDT", "symbolType": "perpetual",
         "symbolStatus": "off", "fundInterval": "8"},
    ],
}


def recorded_bodies() -> dict[str, Any]:
    """venue -> the recorded instrument-list body its first request returns."""
    return {
        "binance": cryptofeed_body("BINANCE_FUTURES.0", "exchangeInfo"),
        "bybit": json.loads(nautilus_text("bybit", "http_get_instruments_linear.json")),
        "okx": json.loads(nautilus_text("okx", "http_get_instruments_swap.json")),
        "bitmex": cryptofeed_body("BITMEX.0", "instrument/active"),
        "deribit": cryptofeed_body("DERIBIT.0", "currency=BTC"),
        "gate": cryptofeed_body("GATEIO_FUTURES.0", "contracts"),
        "bitget": BITGET_CONTRACTS,
        "htx": cryptofeed_body("HUOBI_SWAP.0", "linear-swap-api"),
        "kraken": cryptofeed_body("KRAKEN_FUTURES.0", "instruments"),
        "dydx": json.loads(nautilus_text("dydx", "http_get_perpetual_markets.json")),
        "hyperliquid": json.loads(nautilus_text("hyperliquid", "http_meta_perp_sample.json")),
    }


def serving(bodies: dict[str, Any], seen: list[str] | None = None) -> httpx.AsyncClient:
    """A client whose requests are answered with the recorded body of the venue's first URL."""
    first_urls = {SOURCES[v].requests[0].url.split("?")[0]: v for v in SOURCES}

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if seen is not None:
            seen.append(url)
        venue = first_urls.get(url.split("?")[0])
        if venue is None or venue not in bodies:
            return httpx.Response(404)
        return httpx.Response(200, json=bodies[venue])

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def unreachable() -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


EXPECTED: dict[str, tuple[str, dict[str, Any]]] = {
    # venue -> (a perpetual it must list, fields its parser reads on that instrument)
    "binance": ("BTCUSDT", {"baseAsset": "BTC"}),
    "bybit": ("BTCUSDT", {"contractType": "LinearPerpetual", "baseAsset": "BTC"}),
    "okx": ("BTC-USD-SWAP", {"ctVal": "100", "ctType": "inverse", "ctValCcy": "USD", "baseAsset": "BTC"}),
    "bitmex": ("XBTUSD", {"isInverse": True, "baseAsset": "BTC"}),
    "deribit": ("BTC-PERPETUAL", {"kind": "future", "baseAsset": "BTC"}),
    "gate": ("BTC_USDT", {"quanto_multiplier": "0.0001", "baseAsset": "BTC"}),
    "bitget": ("BTCUSDT", {"fundInterval": "8", "baseAsset": "BTC"}),
    "htx": ("BTC-USDT", {"contract_size": 0.001, "baseAsset": "BTC"}),
    "kraken": ("PI_XBTUSD", {"type": "futures_inverse", "contractSize": 1, "baseAsset": "BTC"}),
    "dydx": ("BTC-USD", {"baseAsset": "BTC"}),
    "hyperliquid": ("BTC", {"index": 0, "dex": ""}),
}


@pytest.mark.parametrize("venue", sorted(SOURCES))
async def test_recorded_instrument_lists_normalize_to_parser_metadata(venue: str) -> None:
    async with serving(recorded_bodies()) as client:
        meta = await fetch_venue(venue, client)
    perp, fields = EXPECTED[venue]
    assert meta.source == "network" and meta.fetched_ts is not None
    assert perp in meta.perpetuals
    for key, value in fields.items():
        assert meta.instruments[perp][key] == value, (venue, key)
    assert set(meta.perpetuals) <= set(meta.instruments)
    # every record is plain JSON: it survives the cache round trip
    assert json.loads(json.dumps(meta.instruments)) == meta.instruments
    make_parser(venue, meta.instruments)  # the parser accepts it


async def test_okx_parser_uses_normalized_contract_values() -> None:
    async with serving(recorded_bodies()) as client:
        meta = await fetch_venue("okx", client)
    parser = make_parser("okx", meta.instruments)
    frame = json.dumps({
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [{"details": [{"bkLoss": "0", "bkPx": "50000", "ccy": "", "posSide": "net", "side": "sell",
                               "sz": "3", "ts": "1700000000000"}], "instId": "BTC-USD-SWAP", "instType": "SWAP"}],
    })
    [liq] = parser.parse(frame, 1.0)
    assert isinstance(liq, Liquidation) and liq.usd == pytest.approx(300.0)  # 3 contracts × 100 USD


def test_filters_drop_untradeable_instruments() -> None:
    instruments, perps = SOURCES["bitget"].normalize([BITGET_CONTRACTS])
    assert "OLDUSDT" not in instruments and perps == ["BTCUSDT"]
    kraken, kperps = SOURCES["kraken"].normalize([recorded_bodies()["kraken"]])
    assert not any(s.startswith(("IN_", "RR_")) for s in kraken)
    assert all(p.startswith(("PF_", "PI_")) for p in kperps)
    gate, _ = SOURCES["gate"].normalize([[{"name": "X_USDT", "in_delisting": True}, "junk"]])
    assert gate == {}


async def test_bybit_instrument_pages_are_followed() -> None:
    pages = {
        "": {"result": {"list": [{"symbol": "AUSDT", "status": "Trading", "baseCoin": "A", "contractType": "LinearPerpetual"}],
                        "nextPageCursor": "p2=="}},
        "p2==": {"result": {"list": [{"symbol": "BUSDT", "status": "Trading", "baseCoin": "B", "contractType": "LinearPerpetual"}],
                            "nextPageCursor": ""}},
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.params.get("category") == "inverse":
            return httpx.Response(200, json={"result": {"list": [], "nextPageCursor": ""}})
        return httpx.Response(200, json=pages[request.url.params.get("cursor", "")])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        meta = await fetch_venue("bybit", client)
    assert meta.perpetuals == ["AUSDT", "BUSDT"]
    assert any("cursor=p2%3D%3D" in url for url in seen)


async def test_optional_request_failure_keeps_the_venue(tmp_path: Path) -> None:
    body = recorded_bodies()["binance"]

    def handler(request: httpx.Request) -> httpx.Response:
        if "fundingInfo" in str(request.url):
            return httpx.Response(503)
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        meta = await fetch_venue("binance", client)
    assert "BTCUSDT" in meta.instruments


# ---------------------------------------------------------------------- cache and fallbacks


async def test_network_result_is_cached_and_a_fresh_cache_skips_the_network(tmp_path: Path) -> None:
    seen: list[str] = []
    async with serving(recorded_bodies(), seen) as client:
        first = await load_venue("gate", client, cache_dir=tmp_path, max_age_h=24)
        assert first.source == "network" and (tmp_path / "gate.json").exists()
        requests = len(seen)
        second = await load_venue("gate", client, cache_dir=tmp_path, max_age_h=24)
    assert len(seen) == requests  # no request: the cache was fresh
    assert second.source == "cache" and second.instruments == first.instruments
    assert second.perpetuals == first.perpetuals


async def test_old_cache_is_refreshed_when_the_network_answers(tmp_path: Path) -> None:
    write_cache(tmp_path, VenueMetadata("gate", {"OLD_USDT": {"quanto_multiplier": "1"}}, ["OLD_USDT"], fetched_ts=time.time() - 48 * 3600))
    async with serving(recorded_bodies()) as client:
        meta = await load_venue("gate", client, cache_dir=tmp_path, max_age_h=24)
    assert meta.source == "network" and "BTC_USDT" in meta.instruments
    cached = read_cache(tmp_path, "gate")
    assert cached is not None and "OLD_USDT" not in cached.instruments


async def test_offline_falls_back_to_a_stale_cache_then_to_bundled(tmp_path: Path) -> None:
    write_cache(tmp_path, VenueMetadata("okx", {"BTC-USDT-SWAP": {"ctVal": "0.01"}}, ["BTC-USDT-SWAP"], fetched_ts=time.time() - 72 * 3600))
    async with unreachable() as client:
        stale = await load_venue("okx", client, cache_dir=tmp_path, max_age_h=24)
        bundled = await load_venue("gate", client, cache_dir=tmp_path, max_age_h=24)
    assert stale.source == "stale-cache" and stale.instruments["BTC-USDT-SWAP"]["ctVal"] == "0.01"
    assert "Name or service not known" in stale.detail
    # no network, no cache: the tables shipped with the package (built from recorded REST snapshots)
    assert bundled.source == "bundled" and bundled.perpetuals == []
    assert bundled.instruments == bundled_instruments("gate") and bundled.instruments["BTC_USDT"]["quanto_multiplier"]
    assert "cache 72.0 h old" in stale.detail


async def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "dydx.json").write_text("{half a file")
    assert read_cache(tmp_path, "dydx") is None
    (tmp_path / "dydx.json").write_text(json.dumps({"v": 99, "venue": "dydx", "fetched_ts": 1.0, "instruments": {}, "perpetuals": []}))
    assert read_cache(tmp_path, "dydx") is None


async def test_load_metadata_without_network_is_quick_complete_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    venues = sorted(SOURCES)
    write_cache(tmp_path, VenueMetadata("okx", {"BTC-USDT-SWAP": {"ctVal": "0.01"}}, ["BTC-USDT-SWAP"], fetched_ts=1.0))
    async with unreachable() as client:
        result = await asyncio.wait_for(load_metadata(venues, cache_dir=tmp_path, client=client), 3.0)
    assert set(result) == set(venues)
    assert result["okx"].source == "stale-cache"
    assert all(m.source == "bundled" for v, m in result.items() if v != "okx")
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "ConnectError: [Errno -2] Name or service not known" in warning
    assert "cached instruments for okx" in warning and "bundled contract values for binance, bitget" in warning


async def test_a_hanging_venue_cannot_hold_start_up(tmp_path: Path) -> None:
    write_cache(tmp_path, VenueMetadata("htx", {"BTC-USDT": {"contract_size": 0.001}}, ["BTC-USDT"], fetched_ts=1.0))

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as client:
        result = await load_metadata(["htx", "dydx"], cache_dir=tmp_path, client=client, timeout_s=0.1)
    assert result["htx"].source == "stale-cache" and "BTC-USDT" in result["htx"].instruments
    assert result["dydx"].source == "bundled" and result["dydx"].detail == "timed out"


