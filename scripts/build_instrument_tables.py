"""Builds cascade_tui/data/instruments/<venue>.json from the REST instrument snapshots in
tests/fixtures/venues/cryptofeed (see PROVENANCE.md there), using the same normalizers as the
live metadata fetch. These tables are the last fallback for contract values (after live
metadata and the on-disk cache), so replays of captures without metadata still size
contracts correctly for hundreds of instruments.

    .venv/bin/python scripts/build_instrument_tables.py [--samples tests/fixtures/venues/cryptofeed]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from cascade_tui.feeds.metadata import SOURCES

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "cascade_tui" / "data" / "instruments"

# venue -> (sample file, url fragment of the request the live fetch makes)
SAMPLES = {
    "binance": ("BINANCE_FUTURES.0", "/fapi/v1/exchangeInfo"),
    "okx": ("OKX.0", "instType=SWAP"),
    "bitmex": ("BITMEX.0", "/instrument/active"),
    "gate": ("GATEIO_FUTURES.0", "/futures/usdt/contracts"),
    "htx": ("HUOBI_SWAP.0", "/linear-swap-api/v1/swap_contract_info"),
    "kraken": ("KRAKEN_FUTURES.0", "/derivatives/api/v3/instruments"),
}


def bodies(path: Path, fragment: str) -> tuple[list[object], float]:
    """The newest `<url> -> <ts>: <json>` body whose url contains `fragment`."""
    found: list[tuple[float, object]] = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        head, sep, body = line.partition(": ")
        if not sep or " -> " not in head:
            continue
        url, _, ts = head.partition(" -> ")
        if fragment in url:
            found.append((float(ts), json.loads(body)))
    if not found:
        raise SystemExit(f"{path}: no response for {fragment}")
    ts, body = max(found, key=lambda x: x[0])
    return [body], ts


def current_units(venue: str, instruments: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Corrections for contracts whose units changed after the snapshot was recorded.

    BitMEX (2021 snapshot): every `*USDT` perpetual was then an XBT-settled quanto; BitMEX's
    USDT perpetuals are linear today (USDT-settled, `isQuanto` false, a per-contract
    `underlyingToPositionMultiplier`; docs/exchanges.md §1.2, §5). Their 2021 quanto
    multipliers would size them wrongly, and their current multipliers are not known offline:
    they are marked linear with no unit, so a parser takes the unit from the live
    `instrument` row (or from trades) and counts a row it cannot size instead of guessing.
    """
    if venue != "bitmex":
        return instruments
    out: dict[str, dict[str, object]] = {}
    for symbol, row in instruments.items():
        if symbol.endswith("USDT") and row.get("isQuanto"):
            row = {k: v for k, v in row.items() if k not in ("multiplier", "underlyingToPositionMultiplier")}
            row.update(isQuanto=False, isInverse=False)
        out[symbol] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=Path, default=REPO / "tests" / "fixtures" / "venues" / "cryptofeed")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for venue, (name, fragment) in SAMPLES.items():
        path = args.samples / f"{name}.gz"
        got, ts = bodies(path if path.exists() else args.samples / name, fragment)
        instruments, _ = SOURCES[venue].normalize(got)
        instruments = current_units(venue, instruments)
        doc = {
            "venue": venue,
            "source": f"cryptofeed sample_data/{name} (see tests/fixtures/venues/PROVENANCE.md)",
            "fetched_ts": ts,
            "instruments": dict(sorted(instruments.items())),
        }
        (OUT / f"{venue}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{venue}: {len(instruments)} instruments")


if __name__ == "__main__":
    main()
