"""Property-based fuzzing of every venue parser, starting from real-shaped frames.

Mutations: field deletion, type swaps, huge numbers, NaN/Infinity, negative sizes, unicode,
deeper nesting, truncation, random bytes; and targeted generators for hostile symbols
(control characters, `*`, 10 MB ids), hostile timestamps, repeated frames and oversized
frames. Properties: no exception escapes a parser; every event that comes out passes
validation (finite, positive sizes and prices, a printable bounded instrument, an asset id
per docs/DESIGN.md §5.1); a repeated frame never counts a liquidation twice; the frame accounting
adds up (frames = parsed + ignored + parse_errors).
"""

from __future__ import annotations

import gzip
import json
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade_tui.feeds import make_parser, venue_ids
from cascade_tui.feeds.base import ASSET_ID, MAX_INSTRUMENT_LEN, valid_event
from cascade_tui.model import Liquidation
from tests.fuzz.corpus import seed_json

EXAMPLES = int(os.environ.get("CASCADE_FUZZ_EXAMPLES", "300"))

WEIRD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "-1", "0", "1e400", "-0", "", " ", "１２３", "💥", "\x00"]),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, (*prefix, i))
    return out


def mutate(obj: Any, path: tuple, op: str, value: Any) -> Any:
    if not path:
        return obj
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "delete" and isinstance(parent, dict):
        del parent[last]
    elif op == "nest":
        parent[last] = [parent[last]] if isinstance(parent, dict) else {"x": parent[last]}
    else:
        parent[last] = value
    return obj


@st.composite
def mutated_frame(draw: st.DrawFn, venue: str) -> str | bytes:
    base = json.loads(draw(st.sampled_from(seed_json(venue))))
    for _ in range(draw(st.integers(1, 4))):
        ps = paths(base)
        if not ps:
            break
        base = mutate(base, draw(st.sampled_from(ps)), draw(st.sampled_from(["set", "set", "delete", "nest"])),
                      draw(WEIRD_VALUES))
    text = json.dumps(base, allow_nan=True, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    if venue == "htx":
        return gzip.compress(text.encode("utf-8", "surrogatepass"))
    return text


@pytest.mark.parametrize("venue", venue_ids())
def test_parsers_never_raise_and_emit_only_valid_events(venue: str) -> None:
    parser = make_parser(venue)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frame=mutated_frame(venue))
    def check(frame: str | bytes) -> None:
        events = parser.parse(frame, 1_767_225_600.0)
        for ev in events:
            assert valid_event(ev), ev
            if isinstance(ev, Liquidation):
                assert ev.side in ("long", "short")
                assert math.isfinite(ev.usd) and ev.usd > 0

    check()
    s = parser.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


@pytest.mark.parametrize("venue", venue_ids())
@settings(max_examples=max(50, EXAMPLES // 3), deadline=None, database=None)
@given(blob=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_bytes_and_text_are_counted_not_raised(venue: str, blob: bytes | str) -> None:
    parser = make_parser(venue)
    assert parser.parse(blob, 0.0) == [] or all(valid_event(e) for e in parser.parse(blob, 0.0))
    s = parser.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


@pytest.mark.parametrize("venue", venue_ids())
def test_oversized_frame_is_rejected_cleanly(venue: str) -> None:
    parser = make_parser(venue)
    big = '{"data":[' + ",".join(['{"s":"BTCUSDT","p":"1","v":"1"}'] * 60_000) + "]}"
    frame: str | bytes = gzip.compress(big.encode()) if venue == "htx" else big
    parser.parse(frame, 0.0)
    s = parser.stats
    assert s.frames == 1 and s.frames == s.parsed + s.ignored + s.parse_errors


# ----------------------------------------------------------------------- hostile identifiers,
# times and repeats (issue 12: symbols, timestamps, duplicates, oversized frames)

SYMBOL_KEYS = frozenset({"s", "symbol", "instId", "contract", "product_id", "instrument_name", "coin",
                         "contract_code", "id", "market"})
TIME_KEYS = frozenset({"T", "E", "ts", "time", "time_ms", "created_at", "timestamp", "createdAt", "create_time_ms"})

HOSTILE_SYMBOLS = st.one_of(
    st.sampled_from(["*", "*USDT", "\x1b]2;TITLE\x07REDUSDT", "BTC\nUSDT", "\u202eTDSUCTB", "1000PEPEUSDT",
                     "kPEPE", "1000000MOGUSDT", "币安人生USDT", "", " ", "A" * 65, "X" * 100_000]),
    st.text(min_size=1, max_size=30),
)
HOSTILE_TIMES = st.one_of(
    st.sampled_from([0, -1, 1, 1e12, 1e15, 1e18, 9.3e18, 2**63, "1700000000000", "0", "-5", 1.5e300]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _replace_keys(obj: Any, keys: frozenset[str], value: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (value if k in keys and not isinstance(v, dict | list) else _replace_keys(v, keys, value))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_keys(v, keys, value) for v in obj]
    return obj


def _encode(venue: str, obj: Any) -> str | bytes:
    text = json.dumps(obj, allow_nan=True)
    return gzip.compress(text.encode("utf-8", "surrogatepass")) if venue == "htx" else text


@pytest.mark.parametrize("venue", venue_ids())
def test_hostile_symbols_never_reach_an_event(venue: str) -> None:
    """Whatever a symbol field holds, an event that comes out has a printable, bounded
    instrument and an asset id per docs/DESIGN.md §5.1 (never `*`)."""
    parser = make_parser(venue)

    @settings(max_examples=max(50, EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(seed=st.sampled_from(seed_json(venue)), symbol=HOSTILE_SYMBOLS)
    def check(seed: str, symbol: str) -> None:
        frame = _encode(venue, _replace_keys(json.loads(seed), SYMBOL_KEYS, symbol))
        for ev in parser.parse(frame, 1_767_225_600.0):
            assert ev.instrument.isprintable() and 0 < len(ev.instrument) <= MAX_INSTRUMENT_LEN
            assert ASSET_ID.fullmatch(ev.asset), ev.asset

    check()
    s = parser.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


@pytest.mark.parametrize("venue", venue_ids())
def test_hostile_timestamps_are_counted_not_raised(venue: str) -> None:
    parser = make_parser(venue)

    @settings(max_examples=max(50, EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(seed=st.sampled_from(seed_json(venue)), when=HOSTILE_TIMES,
           recv=st.floats(min_value=0, max_value=4e9, allow_nan=False))
    def check(seed: str, when: Any, recv: float) -> None:
        frame = _encode(venue, _replace_keys(json.loads(seed), TIME_KEYS, when))
        for ev in parser.parse(frame, recv):
            assert valid_event(ev) and math.isfinite(ev.event_ts)

    check()
    s = parser.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


@pytest.mark.parametrize("venue", [v for v in venue_ids() if v != "hyperliquid"])
def test_repeated_frames_never_count_a_liquidation_twice(venue: str) -> None:
    @settings(max_examples=max(30, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(seed=st.sampled_from(seed_json(venue)), repeats=st.integers(2, 20))
    def check(seed: str, repeats: int) -> None:
        parser = make_parser(venue)
        frame = _encode(venue, json.loads(seed))
        first = sum(isinstance(e, Liquidation) for e in parser.parse(frame, 1_767_225_600.0))
        later = sum(
            isinstance(e, Liquidation) for i in range(1, repeats) for e in parser.parse(frame, 1_767_225_600.0 + i)
        )
        assert later == 0
        assert parser.stats.duplicates + parser.stats.stale >= first * (repeats - 1)

    check()


@pytest.mark.parametrize("venue", venue_ids())
def test_ten_megabyte_identifier_is_rejected_quickly(venue: str) -> None:
    parser = make_parser(venue)
    for seed in seed_json(venue):
        frame = _encode(venue, _replace_keys(json.loads(seed), SYMBOL_KEYS, "Z" * 10_000_000))
        assert all(len(ev.instrument) <= MAX_INSTRUMENT_LEN for ev in parser.parse(frame, 1_767_225_600.0))
    assert len(parser.stats.last_error) <= 300
