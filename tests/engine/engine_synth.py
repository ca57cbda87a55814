"""A tiny deterministic event generator for engine tests (not the project's simulator).

It makes a quiet background of liquidations, trades, open interest and funding for a few
assets, and can inject a liquidation burst with a falling price and OI. Same seed, same
events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from cascade_tui.model import Event, Funding, Liquidation, OpenInterest, Trade

START_TS = 1_760_000_000.0
PRICES = {"BTC": 100_000.0, "ETH": 4_000.0, "SOL": 200.0}
BG_RATE = {"BTC": 0.08, "ETH": 0.05, "SOL": 0.03}  # liquidations/s in the background
BG_MEAN_USD = {"BTC": 5_000.0, "ETH": 3_000.0, "SOL": 1_500.0}


def liquidation(
    asset: str, side: str, usd: float, ts: float, venue: str = "bybit", sampled: bool = False
) -> Liquidation:
    price = PRICES.get(asset, 1.0)
    return Liquidation(
        venue=venue,
        instrument=f"{asset}USDT",
        asset=asset,
        side=side,  # type: ignore[arg-type]
        price=price,
        qty=usd / price,
        usd=usd,
        raw_size=usd / price,
        event_ts=ts,
        recv_ts=ts,
        sampled=sampled,
    )


def trade(asset: str, price: float, ts: float, venue: str = "bybit") -> Trade:
    return Trade(
        venue=venue,
        instrument=f"{asset}USDT",
        asset=asset,
        price=price,
        qty=0.01,
        usd=price * 0.01,
        taker_side="sell",
        event_ts=ts,
        recv_ts=ts,
    )


class Market:
    """Background market state for a handful of assets, advanced in 100 ms steps."""

    def __init__(self, seed: int, assets: tuple[str, ...] = ("BTC", "ETH", "SOL")) -> None:
        self.rng = random.Random(seed)
        self.assets = assets
        self.ts = START_TS
        self.price = {a: PRICES.get(a, 1.0) for a in assets}
        self.oi = {a: 1_000_000.0 / PRICES.get(a, 1.0) for a in assets}
        self.sigma_1s = 0.8e-4  # ≈ 45 % annualized

    def quiet(self, seconds: float, vol_mult: float = 1.0, liquidations: bool = True) -> Iterator[Event]:
        """Background: Poisson liquidations at BG_RATE, trades every 100 ms, OI/funding each 30 s.

        vol_mult scales the price volatility (a vol spike); liquidations=False silences them.
        """
        yield from self._run(seconds, {}, vol_mult, liquidations)

    def burst(self, asset: str, seconds: float, peak_rate: float, side: str = "long") -> Iterator[Event]:
        """A cascade on `asset`: the rate ramps up to peak_rate/s, price and OI move with it."""
        yield from self._run(seconds, {asset: (peak_rate, side)})

    def bursts(self, assets: tuple[str, ...], seconds: float, peak_rate: float) -> Iterator[Event]:
        """Long cascades on several assets at once (a market-wide episode)."""
        yield from self._run(seconds, dict.fromkeys(assets, (peak_rate, "long")))

    def _run(
        self,
        seconds: float,
        cascades: dict[str, tuple[float, str]],
        vol_mult: float = 1.0,
        liquidations: bool = True,
    ) -> Iterator[Event]:
        rng = self.rng
        steps = int(seconds * 10)
        for i in range(steps):
            self.ts = round(self.ts + 0.1, 6)
            ts = self.ts
            for a in self.assets:
                drift = 0.0
                rate = BG_RATE.get(a, 0.02)
                usd_mean = BG_MEAN_USD.get(a, 1_000.0)
                side = "long" if rng.random() < 0.5 else "short"
                if a in cascades:
                    peak, side = cascades[a]
                    rate += peak * min(1.0, (i + 1) / (steps / 3))  # ramp over the first third
                    usd_mean *= 10.0
                    drift = (-1 if side == "long" else 1) * 2e-4
                    self.oi[a] *= 1.0 - 2e-4
                self.price[a] *= 1.0 + drift + rng.gauss(0.0, vol_mult * self.sigma_1s / 3.16)
                yield trade(a, self.price[a], ts)
                n = _poisson(rng, rate * 0.1) if liquidations else 0
                for _ in range(n):
                    yield liquidation(a, side, rng.expovariate(1.0 / usd_mean), ts)
                if i % 300 == 0:
                    yield OpenInterest(
                        venue="bybit", instrument=f"{a}USDT", asset=a, oi=self.oi[a], event_ts=ts, recv_ts=ts
                    )
                    yield Funding(
                        venue="bybit",
                        instrument=f"{a}USDT",
                        asset=a,
                        rate=0.0001,
                        interval_h=8.0,
                        event_ts=ts,
                        recv_ts=ts,
                    )


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for the small means used here
    limit = pow(2.718281828459045, -mean)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
