"""The demo market: the seeded simulator played in real time (or faster)."""

from __future__ import annotations

from cascade_tui.sources.paced import PacedSource
from cascade_tui.sources.simulate.mechanistic_simulator import make_simulator


class DemoSource(PacedSource):
    def __init__(
        self,
        *,
        seed: int = 7,
        speed: float = 1.0,
        duration_s: float | None = None,
        start_ts: float | None = None,
        profile: str = "demo",
    ) -> None:
        kwargs = {} if start_ts is None else {"start_ts": start_ts}
        self.simulator = make_simulator(seed, profile, **kwargs)  # "mechanistic": the position book
        self.seed = seed
        super().__init__(
            self.simulator.frames(duration_s),
            kind="demo",
            label=f"demo seed {seed}",
            speed=speed,
        )

    def label(self) -> str:
        speed_txt = "" if self.speed == 1 else (" max" if self.speed == 0 else f" ×{self.speed:g}")
        return f"demo seed {self.seed}{speed_txt}"
