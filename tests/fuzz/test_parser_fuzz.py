"""Property-based fuzzing of every venue parser, starting from real-shaped frames.

Mutations: field deletion, type swaps, huge numbers, NaN/Infinity, negative sizes, unicode,
deeper nesting, truncation, random bytes. Properties: no exception escapes a parser; every
event that comes out passes validation (finite, positive sizes and prices); the frame
accounting adds up (frames = parsed + ignored + parse_errors).
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
from cascade_tui.feeds.base import valid_event
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
