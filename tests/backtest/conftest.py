"""Short labelled simulator captures shared by the backtest tests (a few simulated minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascade_tui.capture import CaptureWriter
from cascade_tui.labels import write_labels
from cascade_tui.sources.simulate import MarketSimulator


def simulate(
    directory: Path, name: str, seed: int, duration_s: float, start_ts: float | None = None
) -> tuple[Path, Path]:
    kwargs = {} if start_ts is None else {"start_ts": start_ts}
    sim = MarketSimulator(seed, profile="demo", **kwargs)
    cap, labels = directory / f"{name}.cap.gz", directory / f"{name}.labels"
    with CaptureWriter(cap, {"source": "simulate", "seed": seed}) as writer:
        for frame in sim.frames(duration_s):
            writer.write(frame)
    write_labels(sim.labels, labels)
    return cap, labels


@pytest.fixture(scope="session")
def sim_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Seed 4, 300 s of the demo market: 5 labels, 2 of them major (ETH, LINK), all longs."""
    return simulate(tmp_path_factory.mktemp("sim"), "seed4", 4, 300.0)


@pytest.fixture(scope="session")
def sim_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    """Two different 240 s markets for train/validation (different seeds and start times)."""
    d = tmp_path_factory.mktemp("pair")
    return simulate(d, "train", 11, 240.0), simulate(d, "valid", 13, 240.0, start_ts=1_767_300_000.0)
