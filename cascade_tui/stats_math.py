"""The one percentile every figure uses (latency views, backtest lags, benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float, *, is_sorted: bool = False) -> float | None:
    """Linear-interpolated percentile, q in [0, 1] (numpy's default method); None for no values.

    Pass is_sorted=True for an ascending sequence to skip the sort.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile q must be in [0, 1], got {q}")
    if not values:
        return None
    ordered = values if is_sorted else sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
