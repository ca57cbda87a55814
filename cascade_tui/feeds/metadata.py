"""Contract metadata at start-up: each venue's REST instrument list, normalized to the dict
its parser documents (keyed by the venue's instrument id), cached on disk.

Order of preference for each venue:
  1. the cache (`data_dir()/metadata/<venue>.json`) when younger than
     `VenueConfig.metadata_cache_hours` — no request at all;
  2. the venue's REST endpoint (short timeout), which refreshes the cache;
  3. the cache however old it is (logged as stale);
  4. the instrument tables shipped in `cascade_tui/data/instruments/` (built from recorded
     REST snapshots by scripts/build_instrument_tables.py), under the parser's own bundled
     values for the main symbols (logged).
Start-up is never held for long: all venues load concurrently under one deadline, and a
machine without network fails over to the cache in milliseconds (DNS errors are fast).

Besides the parser's metadata, a venue's entry lists its perpetual instruments: venues
whose liquidation topics are per symbol (`VenueSpec.liquidations_per_symbol`) need the full
list to see every liquidation.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from cascade_tui.feeds.base import base_asset

if TYPE_CHECKING:  # httpx loads only when metadata is fetched (replays use the bundled tables)
    import httpx

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_TIMEOUT_S = 5.0
MAX_PAGES = 20  # Bybit pagination guard (1000 instruments per page)

Row = dict[str, Any]
Instruments = dict[str, Row]


class VenueMetadata(msgspec.Struct):
    venue: str
    instruments: Instruments = msgspec.field(default_factory=dict)  # parser metadata
    perpetuals: list[str] = msgspec.field(default_factory=list)  # tradeable perpetual ids
    source: str = "bundled"  # network | cache | stale-cache | bundled
    fetched_ts: float | None = None  # wall time the instruments were fetched
    detail: str = ""  # why the network was not used, when it was not


# ----------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    json_body: Mapping[str, Any] | None = None
    optional: bool = False  # its failure does not fail the venue (extra fields only)


@dataclass(frozen=True)
class MetadataSource:
    """Where a venue's instruments come from and how to read them."""

    requests: tuple[Request, ...]
    # decoded bodies (one per request, None for a failed optional one) -> instruments, perpetual ids
    normalize: Callable[[list[Any]], tuple[Instruments, list[str]]]
    # next page of a paginated request, from its body (Bybit's cursor)
    next_page: Callable[[Request, Any], Request | None] | None = None


def _scalars(row: Mapping[str, Any], keys: Iterable[str]) -> Row:
    return {k: row[k] for k in keys if k in row and not isinstance(row[k], dict | list)}


def _asset(name: str) -> str:
    up = name.upper()
    return "BTC" if up == "XBT" else up


def _list_at(body: Any, *path: str) -> list[Any]:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body if isinstance(body, list) else []


def _binance(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in _list_at(bodies[0], "symbols"):
        if not isinstance(row, dict) or row.get("status") != "TRADING" or "symbol" not in row:
            continue
        out[row["symbol"]] = _scalars(row, ("baseAsset", "quoteAsset", "marginAsset", "contractType"))
        if row.get("contractType") == "PERPETUAL":
            perps.append(row["symbol"])
    funding = bodies[1] if len(bodies) > 1 and isinstance(bodies[1], list) else []
    for row in funding:
        if isinstance(row, dict) and row.get("symbol") in out and row.get("fundingIntervalHours"):
            out[row["symbol"]]["fundingIntervalHours"] = row["fundingIntervalHours"]
    # COIN-M (dapi): contracts of `contractSize` USD; its liquidations come on the all-market
    # stream, so these symbols are sized but not added to the per-symbol lists
    for row in _list_at(bodies[2] if len(bodies) > 2 else None, "symbols"):
        if not isinstance(row, dict) or "symbol" not in row:
            continue
        if row.get("contractStatus", "TRADING") != "TRADING":
            continue
        out[row["symbol"]] = _scalars(row, ("baseAsset", "marginAsset", "contractType", "contractSize", "pair"))
    return out, perps


def _bybit(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for body in bodies:
        for row in _list_at(body, "result", "list"):
            if not isinstance(row, dict) or row.get("status") != "Trading" or "symbol" not in row:
                continue
            rec = _scalars(row, ("contractType", "baseCoin", "quoteCoin", "settleCoin", "fundingInterval"))
            if row.get("baseCoin"):
                rec["baseAsset"] = _asset(row["baseCoin"])
            out[row["symbol"]] = rec
            perps.append(row["symbol"])  # allLiquidation exists for every trading contract
    return out, perps


def _bybit_next(request: Request, body: Any) -> Request | None:
    cursor = body.get("result", {}).get("nextPageCursor") if isinstance(body, dict) else None
    if not cursor or not isinstance(cursor, str):
        return None
    base = request.url.split("&cursor=", 1)[0]
    return Request(url=f"{base}&cursor={quote(cursor, safe='')}")


def _okx(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in (r for body in bodies for r in _list_at(body, "data")):  # SWAP, then FUTURES
        if not isinstance(row, dict) or row.get("state", "live") != "live" or "instId" not in row:
            continue
        rec = _scalars(row, ("ctVal", "ctMult", "ctType", "ctValCcy", "settleCcy", "instFamily", "uly"))
        family = row.get("instFamily") or row.get("uly") or row["instId"]
        rec["baseAsset"] = _asset(str(family).split("-", 1)[0])
        out[row["instId"]] = rec
        if row.get("instType") == "SWAP":
            perps.append(row["instId"])
    return out, perps


def _bitmex(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in bodies[0] if isinstance(bodies[0], list) else []:
        if not isinstance(row, dict) or "symbol" not in row or row.get("state") not in ("Open", None):
            continue
        rec = _scalars(
            row, ("isInverse", "isQuanto", "multiplier", "underlyingToPositionMultiplier", "underlying", "typ")
        )
        if row.get("underlying"):
            rec["baseAsset"] = _asset(row["underlying"])
        out[row["symbol"]] = rec
        if row.get("typ") == "FFWCSX":  # BitMEX's code for perpetual swaps
            perps.append(row["symbol"])
    return out, perps


def _deribit(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for body in bodies:
        for row in _list_at(body, "result"):
            if not isinstance(row, dict) or not row.get("is_active", True) or "instrument_name" not in row:
                continue
            if row.get("kind") not in ("future", None):
                continue
            rec = _scalars(
                row, ("instrument_type", "kind", "base_currency", "settlement_period", "contract_size")
            )
            if row.get("base_currency"):
                rec["baseAsset"] = _asset(row["base_currency"])
            out[row["instrument_name"]] = rec
            if row.get("settlement_period") == "perpetual":
                perps.append(row["instrument_name"])
    return out, perps


def _gate(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in bodies[0] if isinstance(bodies[0], list) else []:
        if not isinstance(row, dict) or "name" not in row or row.get("in_delisting"):
            continue
        rec = _scalars(row, ("quanto_multiplier", "funding_interval", "type"))
        rec["baseAsset"] = _asset(str(row["name"]).split("_", 1)[0])
        out[row["name"]] = rec
        perps.append(row["name"])
    return out, perps


def _bitget(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in _list_at(bodies[0], "data"):
        if not isinstance(row, dict) or "symbol" not in row or row.get("symbolStatus", "normal") != "normal":
            continue
        rec = _scalars(row, ("fundInterval", "baseCoin", "quoteCoin", "sizeMultiplier", "symbolType"))
        if row.get("baseCoin"):
            rec["baseAsset"] = _asset(row["baseCoin"])
        out[row["symbol"]] = rec
        if row.get("symbolType", "perpetual") == "perpetual":
            perps.append(row["symbol"])
    return out, perps


def _htx(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in _list_at(bodies[0], "data"):
        if not isinstance(row, dict) or "contract_code" not in row or row.get("contract_status", 1) != 1:
            continue
        rec = _scalars(row, ("contract_size", "symbol", "business_type", "contract_type"))
        if row.get("symbol"):
            rec["baseAsset"] = _asset(row["symbol"])
        out[row["contract_code"]] = rec
        if row.get("business_type", "swap") == "swap" and row.get("contract_type", "swap") == "swap":
            perps.append(row["contract_code"])
    return out, perps


def _kraken(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for row in _list_at(bodies[0], "instruments"):
        if not isinstance(row, dict) or "symbol" not in row or not row.get("tradeable", True):
            continue
        symbol = str(row["symbol"]).upper()
        if not symbol.startswith(("PF_", "PI_", "FF_", "FI_")):
            continue  # indices and spot references
        rec = _scalars(row, ("contractSize", "type", "base", "quote"))
        rec["baseAsset"] = _asset(row["base"]) if row.get("base") else base_asset(symbol)
        out[symbol] = rec
        if symbol.startswith(("PF_", "PI_")):
            perps.append(symbol)
    return out, perps


def _dydx(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    body = bodies[0]
    if isinstance(body, dict) and isinstance(body.get("result"), dict):
        body = body["result"]  # some recorders wrap the indexer's answer
    markets = body.get("markets") if isinstance(body, dict) else None
    out: Instruments = {}
    perps: list[str] = []
    for ticker, row in (markets or {}).items():
        if not isinstance(row, dict) or row.get("status", "ACTIVE") != "ACTIVE":
            continue
        rec = _scalars(row, ("status", "atomicResolution", "stepSize"))
        rec["baseAsset"] = _asset(str(ticker).split("-", 1)[0])
        out[ticker] = rec
        perps.append(ticker)
    return out, perps


def _hyperliquid(bodies: list[Any]) -> tuple[Instruments, list[str]]:
    out: Instruments = {}
    perps: list[str] = []
    for index, row in enumerate(_list_at(bodies[0], "universe")):
        if not isinstance(row, dict) or "name" not in row:
            continue
        # `index` is positional in the universe: counted even for delisted coins
        out[row["name"]] = {"index": index, "dex": "", "szDecimals": row.get("szDecimals")}
        if not row.get("isDelisted"):
            perps.append(row["name"])
    return out, perps


# Each venue module names its source in its SPEC (`VenueSpec.metadata_source`); the
# normalizers live here because they share helpers. `SOURCES` (venue -> source) is derived
# from the registry.
BINANCE_SOURCE = MetadataSource(
    requests=(
        Request("https://fapi.binance.com/fapi/v1/exchangeInfo"),
        Request("https://fapi.binance.com/fapi/v1/fundingInfo", optional=True),
        Request("https://dapi.binance.com/dapi/v1/exchangeInfo", optional=True),  # COIN-M contract sizes
    ),
    normalize=_binance,
)

BYBIT_SOURCE = MetadataSource(
    requests=(
        Request("https://api.bybit.com/v5/market/instruments-info?category=linear&limit=1000"),
        Request("https://api.bybit.com/v5/market/instruments-info?category=inverse&limit=1000", optional=True),
    ),
    normalize=_bybit,
    next_page=_bybit_next,
)

OKX_SOURCE = MetadataSource(
    requests=(
        Request("https://www.okx.com/api/v5/public/instruments?instType=SWAP"),
        Request("https://www.okx.com/api/v5/public/instruments?instType=FUTURES", optional=True),
    ),
    normalize=_okx,
)

BITMEX_SOURCE = MetadataSource(requests=(Request("https://www.bitmex.com/api/v1/instrument/active"),), normalize=_bitmex)

DERIBIT_SOURCE = MetadataSource(
    requests=(
        Request("https://www.deribit.com/api/v2/public/get_instruments?currency=any&kind=future&expired=false"),
    ),
    normalize=_deribit,
)

GATE_SOURCE = MetadataSource(requests=(Request("https://api.gateio.ws/api/v4/futures/usdt/contracts"),), normalize=_gate)

BITGET_SOURCE = MetadataSource(
    requests=(Request("https://api.bitget.com/api/v2/mix/market/contracts?productType=USDT-FUTURES"),),
    normalize=_bitget,
)

HTX_SOURCE = MetadataSource(
    requests=(Request("https://api.hbdm.com/linear-swap-api/v1/swap_contract_info"),), normalize=_htx
)

KRAKEN_SOURCE = MetadataSource(
    requests=(Request("https://futures.kraken.com/derivatives/api/v3/instruments"),), normalize=_kraken
)

DYDX_SOURCE = MetadataSource(requests=(Request("https://indexer.dydx.trade/v4/perpetualMarkets"),), normalize=_dydx)

HYPERLIQUID_SOURCE = MetadataSource(
    requests=(Request("https://api.hyperliquid.xyz/info", method="POST", json_body={"type": "meta"}),),
    normalize=_hyperliquid,
)


def source_for(venue: str) -> MetadataSource | None:
    """The metadata source a venue's SPEC names (None when it has no instrument endpoint)."""
    from cascade_tui.feeds import spec, venue_ids

    return spec(venue).metadata_source if venue in venue_ids() else None


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # venue -> MetadataSource, derived from the venue registry
        from cascade_tui.feeds import spec, venue_ids

        return {v: src for v in venue_ids() if (src := spec(v).metadata_source) is not None}
    raise AttributeError(name)


# ----------------------------------------------------------------------------- shipped tables


@functools.cache
def _shipped(venue: str) -> Instruments:
    try:
        text = resources.files("cascade_tui.data").joinpath("instruments", f"{venue}.json").read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return {}
    doc = json.loads(text)
    instruments = doc.get("instruments") if isinstance(doc, dict) else None
    return instruments if isinstance(instruments, dict) else {}


def bundled_instruments(venue: str) -> Instruments:
    """A fresh copy of the instrument table shipped with the package for `venue` ({} if none).

    The last fallback for contract values: a replay of a capture recorded without metadata,
    or a live start with neither network nor cache, still sizes hundreds of contracts."""
    return {k: dict(v) for k, v in _shipped(venue).items()}


# ----------------------------------------------------------------------------- cache


class _CacheFile(msgspec.Struct):
    v: int
    venue: str
    fetched_ts: float
    instruments: Instruments
    perpetuals: list[str]


def cache_path(cache_dir: Path, venue: str) -> Path:
    return cache_dir / f"{venue}.json"


def read_cache(cache_dir: Path, venue: str) -> VenueMetadata | None:
    path = cache_path(cache_dir, venue)
    try:
        cached = msgspec.json.decode(path.read_bytes(), type=_CacheFile)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("metadata %s: ignoring unreadable cache %s (%s)", venue, path, exc)
        return None
    if cached.v != CACHE_VERSION or cached.venue != venue:
        return None
    return VenueMetadata(
        venue=venue,
        instruments=cached.instruments,
        perpetuals=cached.perpetuals,
        source="cache",
        fetched_ts=cached.fetched_ts,
    )


def write_cache(cache_dir: Path, meta: VenueMetadata) -> None:
    """Atomic write (temp file + rename): a crash never leaves half a cache behind."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_path(cache_dir, meta.venue)
        tmp = path.with_suffix(".json.tmp")
        data = _CacheFile(CACHE_VERSION, meta.venue, meta.fetched_ts or time.time(), meta.instruments, meta.perpetuals)
        tmp.write_bytes(msgspec.json.encode(data))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only data dir costs the cache, not the start-up
        log.warning("metadata %s: cannot write cache in %s (%s)", meta.venue, cache_dir, exc)


def default_cache_dir() -> Path:
    from cascade_tui.paths import data_dir

    return data_dir() / "metadata"


# ----------------------------------------------------------------------------- fetching


async def _get(client: httpx.AsyncClient, request: Request) -> Any:
    if request.method == "POST":
        response = await client.post(request.url, json=dict(request.json_body or {}))
    else:
        response = await client.get(request.url)
    response.raise_for_status()
    return json.loads(response.content)


async def fetch_venue(venue: str, client: httpx.AsyncClient, source: MetadataSource | None = None) -> VenueMetadata:
    """Instruments from the network; raises on failure of any non-optional request."""
    import httpx

    source = source or source_for(venue)
    if source is None:
        raise KeyError(f"{venue}: no instrument endpoint known")
    bodies: list[Any] = []
    for request in source.requests:
        try:
            body = await _get(client, request)
            if source.next_page is not None:
                pages = [body]
                nxt = source.next_page(request, body)
                while nxt is not None and len(pages) < MAX_PAGES:
                    page = await _get(client, nxt)
                    pages.append(page)
                    nxt = source.next_page(nxt, page)
                bodies.extend(pages)
                continue
        except (httpx.HTTPError, ValueError) as exc:
            if not request.optional:
                raise
            log.info("metadata %s: optional %s failed (%s)", venue, request.url, exc)
            body = None
        bodies.append(body)
    instruments, perpetuals = source.normalize(bodies)
    if not instruments:
        raise ValueError("the instrument list was empty")
    return VenueMetadata(venue, instruments, perpetuals, source="network", fetched_ts=time.time())


def _age_text(seconds: float) -> str:
    hours = seconds / 3600.0
    return f"{hours:.1f} h" if hours >= 1 else f"{seconds / 60:.0f} min"


async def load_venue(
    venue: str,
    client: httpx.AsyncClient,
    *,
    cache_dir: Path,
    max_age_h: float,
    now: Callable[[], float] = time.time,
) -> VenueMetadata:
    cached = read_cache(cache_dir, venue)
    if cached is not None and cached.fetched_ts is not None and now() - cached.fetched_ts < max_age_h * 3600:
        log.info("metadata %s: %d instruments from cache", venue, len(cached.instruments))
        return cached
    if source_for(venue) is None:
        return VenueMetadata(venue, detail="no instrument endpoint known")
    try:
        fresh = await fetch_venue(venue, client)
    except Exception as exc:  # network, HTTP status, unexpected body: fall back, never fail start-up
        reason = f"{type(exc).__name__}: {str(exc)[:160]}" if str(exc) else type(exc).__name__
        # logged once for all venues by load_metadata()
        if cached is not None:
            age = now() - (cached.fetched_ts or 0.0)
            log.debug("metadata %s: network unavailable (%s); using the cache from %s ago", venue, reason, _age_text(age))
            cached.source, cached.detail = "stale-cache", f"{reason}; cache {_age_text(age)} old"
            return cached
        log.debug("metadata %s: network unavailable (%s) and no cache; shipped tables apply", venue, reason)
        return VenueMetadata(venue, instruments=bundled_instruments(venue), source="bundled", detail=reason)
    write_cache(cache_dir, fresh)
    log.info("metadata %s: %d instruments from the network", venue, len(fresh.instruments))
    return fresh


def _log_fallbacks(result: Mapping[str, VenueMetadata]) -> None:
    """One warning line for every venue that could not refresh its instruments."""
    stale = sorted(v for v, m in result.items() if m.source == "stale-cache")
    bundled = sorted(v for v, m in result.items() if m.source == "bundled")
    if not stale and not bundled:
        return
    reasons = {m.detail.split(";", 1)[0] for m in result.values() if m.source in ("stale-cache", "bundled")}
    why = next(iter(reasons)) if len(reasons) == 1 else "reasons differ per venue: see the info log"
    parts = []
    if stale:
        parts.append(f"cached instruments for {', '.join(stale)}")
    if bundled:
        parts.append(f"bundled contract values for {', '.join(bundled)}")
    log.warning("instrument metadata not refreshed (%s); using %s", why, " and ".join(parts))


async def load_metadata(
    venues: Sequence[str],
    *,
    max_age_h: float = 24.0,
    cache_dir: Path | None = None,
    client: httpx.AsyncClient | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, VenueMetadata]:
    """Metadata of every venue, concurrently, within about `timeout_s` in total."""
    # asyncio (and the ssl it pulls in, ~9 MB) loads only here: offline replays, the
    # backtest and the benchmarks parse with the bundled tables and never fetch
    import asyncio

    import httpx

    directory = cache_dir or default_cache_dir()
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=True)
    try:
        tasks = {
            venue: asyncio.create_task(load_venue(venue, http, cache_dir=directory, max_age_h=max_age_h))
            for venue in venues
        }
        _, pending = await asyncio.wait(tasks.values(), timeout=timeout_s + 1.0)
        for task in pending:
            task.cancel()
        out: dict[str, VenueMetadata] = {}
        for venue, task in tasks.items():
            if task in pending or task.cancelled():
                cached = read_cache(directory, venue)
                if cached is not None:
                    cached.source, cached.detail = "stale-cache", "timed out"
                out[venue] = cached or VenueMetadata(venue, detail="timed out")
                log.warning("metadata %s: timed out after %.0f s; using %s", venue, timeout_s, out[venue].source)
            else:
                out[venue] = task.result()
        _log_fallbacks(out)
        return out
    finally:
        if own_client:
            await http.aclose()
