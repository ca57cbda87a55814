"""One venue registry (issue 16): venues are discovered from their modules' SPEC, everything
else derives from it, and each venue brings its conformance fixture
(tests/fixtures/venues/<id>/liquidation.json: a documented or recorded frame with the
expected events) and its test module. The conformance check also repeats every fixture 100
times: a liquidation the venue sends again is counted once (issue 12 row 18)."""

from __future__ import annotations

import ast
import gzip
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import cascade_tui
import cascade_tui.feeds as feeds
from cascade_tui.config import VenueConfig
from cascade_tui.feeds import make_parser, spec, venue_ids
from cascade_tui.feeds.base import VenueSpec
from cascade_tui.model import Liquidation, Trade

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "venues"
PACKAGE = Path(cascade_tui.__file__).resolve().parent


def test_every_module_with_a_spec_is_registered_once_in_rank_order() -> None:
    with_spec = set()
    for info in pkgutil.iter_modules(feeds.__path__):
        module = __import__(f"cascade_tui.feeds.{info.name}", fromlist=["SPEC"])
        if isinstance(getattr(module, "SPEC", None), VenueSpec):
            with_spec.add(info.name)
    ids = venue_ids()
    assert set(ids) == with_spec and len(ids) == len(set(ids)) == 11
    ranks = [spec(v).rank for v in ids]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    # docs/DESIGN.md §5.1 lists the venue ids in this order
    assert ids == ("binance", "bybit", "okx", "bitmex", "deribit", "gate", "bitget", "htx", "kraken", "dydx",
                   "hyperliquid")


def test_every_other_venue_list_is_derived() -> None:
    from cascade_tui.feeds import metadata

    assert VenueConfig().enabled == list(venue_ids())
    assert set(metadata.SOURCES) == {v for v in venue_ids() if spec(v).metadata_source is not None}
    assert {v for v in venue_ids() if spec(v).liquidations_per_symbol} == {"bybit", "kraken", "dydx"}


def _venue_literals(path: Path, ids: set[str]) -> list[tuple[int, list[str]]]:
    """Literal lists/tuples/sets/dict keys in `path` holding four or more venue ids."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        elements: list[ast.expr | None] = []
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            elements = list(node.elts)
        elif isinstance(node, ast.Dict):
            numeric = all(
                isinstance(v, ast.Constant) and isinstance(v.value, int | float) and not isinstance(v.value, bool)
                for v in node.values
            )
            if numeric:
                continue  # a per-venue parameter table with a default (engine/liqmap mmr): not a list
            elements = list(node.keys)
        names = [e.value for e in elements if isinstance(e, ast.Constant) and e.value in ids]
        if len(set(names)) >= 4:
            found.append((node.lineno, names))
    return found


def test_no_module_lists_the_venues_by_hand() -> None:
    """Adding a 12th venue must touch its module, its fixture and its test only: no other
    package module may hold a hand-written list of venues. (Numeric per-venue tables whose
    code falls back to a default for an unlisted venue are parameters, not lists.)"""
    ids = set(venue_ids())
    offenders = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := _venue_literals(path, ids))
    }
    assert offenders == {}


@pytest.mark.parametrize("venue", venue_ids())
def test_every_venue_has_its_fixture_and_test_module(venue: str) -> None:
    assert (FIXTURES / venue / "liquidation.json").is_file()
    assert (REPO / "tests" / "feeds" / f"test_{venue}.py").is_file()


def _fixture(venue: str) -> dict[str, Any]:
    return json.loads((FIXTURES / venue / "liquidation.json").read_text(encoding="utf-8"))


def _frame(doc: dict[str, Any]) -> str | bytes:
    text = json.dumps(doc["frame"])
    return gzip.compress(text.encode()) if doc.get("gzip") else text


@pytest.mark.parametrize("venue", venue_ids())
def test_conformance_fixture_parses_to_the_expected_events(venue: str) -> None:
    doc = _fixture(venue)
    assert doc["source"] and doc["verified_by"]
    parser = make_parser(venue, doc.get("metadata"))
    events = [e for e in parser.parse(_frame(doc), doc["recv_ts"]) if isinstance(e, Liquidation | Trade)]
    got = [
        {"kind": "liquidation" if isinstance(e, Liquidation) else "trade", "instrument": e.instrument,
         "asset": e.asset, "usd": pytest.approx(e.usd), **({"side": e.side} if isinstance(e, Liquidation) else {})}
        for e in events
    ]
    assert [{**x, "usd": pytest.approx(x["usd"])} for x in doc["expect"]] == got
    assert parser.stats.parse_errors == 0 and parser.stats.rejected == 0 and parser.stats.stale == 0


@pytest.mark.parametrize("venue", [v for v in venue_ids() if spec(v).has_liquidations])
def test_the_same_liquidation_sent_100_times_counts_once(venue: str) -> None:
    doc = _fixture(venue)
    parser = make_parser(venue, doc.get("metadata"))
    frame = _frame(doc)
    liquidations = sum(
        isinstance(e, Liquidation) for i in range(100) for e in parser.parse(frame, doc["recv_ts"] + i * 0.01)
    )
    expected = sum(1 for x in doc["expect"] if x["kind"] == "liquidation")
    assert liquidations == expected
    assert parser.stats.duplicates == 99 * expected
