"""Why near_cluster warnings are false (issue 17): every warning of benchmarks/liqmap_quality.py
on a train or validation set, with what the map expected and what happened afterwards.

Markets run as in liqmap_quality (`run_market(..., trace=True)`: the same engine and the same
warnings, plus the price and the map's expectation once a second while a warning is in force).
For each warning (started after the warm-up) one row:
- `x0`, `xmax`: the expectation over its bar at the start and at its highest; `above`: share
  of the warning's seconds the expectation was at or over the bar; `tail_s`: seconds from the
  last such second to the end (held by the minimum hold or the exit ratio alone);
- `dist0`: how far from price (%) the expectation sat at the start (expectation-weighted);
- `toward`, `away`: the largest move of price toward the side's bands (down for longs, up for
  shorts) and away from them (%), from the start to the end + LEAD_WINDOW_S;
- `own_usd`: true liquidated USD of the side in that window, over the bar at the start;
- `pre_x`, `pre_toward`: the side's true liquidated USD in the PRE_S (300 s) before the start,
  over the bar at the start, and the largest move of price toward its bands in them (%);
- `other`: labelled cascades of the asset's other side starting in [start − 60 s, end];
- `ctx`: share of the seconds the warning was context on the side's own WATCH, not its trigger;
- `cut`: the market ends before end + LEAD_WINDOW_S, so a cascade that would have followed the
  warning cannot be seen (liqmap_quality counts such a warning false all the same).
`false` is liqmap_quality's rule. Never on the test set.

    .venv/bin/python benchmarks/liqmap_false_warnings.py [--set train|validation] [--hours 10]
        [--all]  # every warning, not only the false ones
"""

from __future__ import annotations

import argparse
import bisect
import sys
from dataclasses import dataclass

from liqmap_quality import LEAD_WINDOW_S, SEEDS, WARM_UP_S, MarketResult, _followed, run_market

from cascade_tui.engine.liqmap import LiqMapParams

PRE_S = 300.0  # the look-back of `pre_x` and `pre_toward`


@dataclass
class Row:
    seed: int
    asset: str
    side: str
    start: float  # seconds after the warm-up
    dur: float
    x0: float
    xmax: float
    above: float
    tail_s: float
    dist0: float
    toward: float
    away: float
    own_x: float
    pre_x: float
    pre_toward: float
    other: int
    ctx: float
    cut: bool
    false: bool


def rows_of(r: MarketResult) -> list[Row]:
    t0 = r.points[0].ts if r.points else 0.0
    end = t0 + r.hours * 3600.0 - WARM_UP_S
    labels = [lab for lab in r.labels if lab["end"] >= t0]
    prices: dict[str, tuple[list[float], list[float]]] = {}
    for ts, asset, price in r.prices:
        times, values = prices.setdefault(asset, ([], []))
        times.append(ts)
        values.append(price)
    out: list[Row] = []
    for a, b, asset, side in r.stints:
        if a < t0:
            continue
        seconds = [x for x in r.trace if x[1] == asset and x[2] == side and a <= x[0] <= b]
        if not seconds:
            continue
        ratios = [exp / need for _, _, _, _, exp, need, _ in seconds]
        above = [x[0] for x, q in zip(seconds, ratios, strict=True) if q >= 1.0]
        times, values = prices[asset]
        lo = bisect.bisect_left(times, a)
        hi = bisect.bisect_right(times, b + LEAD_WINDOW_S)
        p0 = values[lo]
        window = values[lo:hi] or [p0]
        down = 100.0 * (p0 - min(window)) / p0
        up = 100.0 * (max(window) - p0) / p0
        long = side == "long"
        need0 = seconds[0][5]
        own = sum(usd for ts, s_asset, s_long, usd, _ in r.liquidations
                  if s_asset == asset and s_long == long and a <= ts <= b + LEAD_WINDOW_S)  # fmt: skip
        pre = sum(usd for ts, s_asset, s_long, usd, _ in r.liquidations
                  if s_asset == asset and s_long == long and a - PRE_S <= ts < a)  # fmt: skip
        before = values[bisect.bisect_left(times, a - PRE_S) : lo + 1] or [p0]
        pre_toward = 100.0 * ((max(before) - p0) if long else (p0 - min(before))) / p0
        other = sum(1 for lab in labels
                    if lab["asset"] == asset and lab["direction"] != side and a - 60.0 <= lab["start"] <= b)  # fmt: skip
        out.append(
            Row(
                seed=r.seed,
                asset=asset,
                side=side,
                start=a - t0,
                dur=b - a,
                x0=ratios[0],
                xmax=max(ratios),
                above=len(above) / len(seconds),
                tail_s=b - (above[-1] if above else a),
                dist0=seconds[0][6],
                toward=down if long else up,
                away=up if long else down,
                own_x=own / need0,
                pre_x=pre / need0,
                pre_toward=pre_toward,
                other=other,
                ctx=sum(1 for x in seconds if x[3] != "near_cluster") / len(seconds),
                cut=b + LEAD_WINDOW_S > end,
                false=not _followed(labels, asset, side, a, b),
            )
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("train", "validation"), default="train")
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--all", action="store_true", help="every warning, not only the false ones")
    args = ap.parse_args()
    rows: list[Row] = []
    for seed in SEEDS[args.set]:
        r = run_market(seed, args.hours, LiqMapParams(), trace=True)
        print(f"seed {seed}: {len(r.stints)} warnings, {r.seconds:.0f} s", file=sys.stderr)
        rows += rows_of(r)
    head = ("seed", "asset", "side", "start_s", "dur_s", "x0", "xmax", "above", "tail_s", "dist0%",
            "toward%", "away%", "own_x", "pre_x", "pre_tw%", "other", "ctx", "cut", "false")  # fmt: skip
    print(" ".join(f"{h:>7}" for h in head))
    for w in rows:
        if args.all or w.false:
            print(
                f"{w.seed:>7} {w.asset:>7} {w.side:>7} {w.start:>7.0f} {w.dur:>7.0f} {w.x0:>7.2f} {w.xmax:>7.2f} "
                f"{w.above:>7.2f} {w.tail_s:>7.0f} {w.dist0:>7.2f} {w.toward:>7.2f} {w.away:>7.2f} "
                f"{w.own_x:>7.2f} {w.pre_x:>7.2f} {w.pre_toward:>7.2f} {w.other:>7} {w.ctx:>7.2f} {'cut' if w.cut else '':>7} {'FALSE' if w.false else '':>7}"
            )
    false = sum(w.false for w in rows)
    cut = sum(w.false and w.cut for w in rows)
    print(
        f"{false} false of {len(rows)} warnings after the {WARM_UP_S / 3600:g} h warm-up ({cut} cut by the market's end)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
