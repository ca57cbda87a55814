"""The liquidation map estimates exactly what it did before its numpy rewrite: scripted
OI / trade / mark / liquidation sequences (tests/engine/liqmap_scenarios.py) leave the same
bands, context, calibration and near_cluster as recorded from the dict-per-band estimator
(tests/engine/data/liqmap_golden.json, written once from that code, never from this one)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.engine.liqmap_scenarios import SCENARIOS, run_scenario

GOLDEN = json.loads((Path(__file__).parent / "data" / "liqmap_golden.json").read_text())


def assert_same(got: Any, want: Any, path: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {set(got) ^ set(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{path}/{key}")
    elif isinstance(want, list):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f"{path}: length"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, str):
        # sums may add the same bands in another order: equal within float tolerance
        assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_estimate_matches_the_recorded_estimator(name: str) -> None:
    got = json.loads(json.dumps(run_scenario(name)))  # same key/number types as the file
    assert_same(got, GOLDEN[name], name)


def test_the_scenarios_exercise_what_they_should() -> None:
    # a near cluster holds, a window jump empties the map, bands are kept in every run
    assert any(s["near_cluster"] for s in GOLDEN["quiet"])
    assert all(s["bands"] for runs in GOLDEN.values() for s in runs)
    assert min(s["bands_kept"] for s in GOLDEN["jump"]) < min(s["bands_kept"] for s in GOLDEN["walk"])
