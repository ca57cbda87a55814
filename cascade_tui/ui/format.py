"""Small text formatters shared by the panels (numbers, money, ages, clock times, bars)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from cascade_tui.text import usd as usd  # the money format, shared with the commands

LEVELS = ("NONE", "WATCH", "WARNING", "CRITICAL")
SPARK_CHARS = " ▁▂▃▄▅▆▇█"
BAR_FULL = "█"
BAR_EMPTY = "░"
BAR_EIGHTHS = " ▏▎▍▌▋▊▉"


def rate(value: float | None) -> str:
    """Events/s with a precision that suits the magnitude."""
    if value is None or not math.isfinite(value):
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def pct(value: float | None, *, digits: int = 1, sign: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}%" if sign else f"{value:.{digits}f}%"


def price(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if value >= 1000:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}"


def duration(seconds: float | None) -> str:
    """1h02m, 4m05s, 12s; long spans as days."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{(s % 86400) // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def age(seconds: float | None) -> str:
    """Age of the last message: sub-second precision when fresh."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    return duration(seconds)


def clock(ts: float | None, *, with_ms: bool = False) -> str:
    """UTC wall-clock time of an engine timestamp (deterministic: no local time zone)."""
    if ts is None or not math.isfinite(ts):
        return "--:--:--"
    text = time.strftime("%H:%M:%S", time.gmtime(ts))
    if with_ms:
        text += f".{int((ts % 1) * 1000):03d}"
    return text


def date_clock(ts: float | None) -> str:
    if ts is None or not math.isfinite(ts):
        return "----------"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction` with eighth-cell precision."""
    if width <= 0:
        return ""
    f = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    eighths = round(f * width * 8)
    full, part = divmod(eighths, 8)
    text = BAR_FULL * full
    if full < width:
        text += BAR_EIGHTHS[part] if part else BAR_EMPTY
        text += BAR_EMPTY * (width - full - 1)
    return text


def sparkline(values: Sequence[float], width: int, top: float | None = None) -> str:
    """Block-character sparkline over `width` cells, each cell the max of its bucket.

    The scale is anchored at zero (and at `top` when given) so a quiet venue looks quiet
    instead of being stretched to fill the range.
    """
    if width <= 0:
        return ""
    if not values:
        return " " * width
    n = len(values)
    buckets: list[float] = []
    for i in range(width):
        lo = i * n // width
        hi = max(lo + 1, (i + 1) * n // width)
        chunk = values[lo:hi]
        buckets.append(max(chunk) if chunk else 0.0)
    peak = top if top is not None and top > 0 else max(buckets)
    if peak <= 0:
        return SPARK_CHARS[1] * width if n else " " * width
    last = len(SPARK_CHARS) - 1
    out = []
    for v in buckets:
        if v <= 0:
            out.append(SPARK_CHARS[1] if v == 0 else " ")
            continue
        out.append(SPARK_CHARS[max(2, min(last, math.ceil(v / peak * last)))])
    return "".join(out)


def level_name(level: int) -> str:
    """NONE WATCH WARNING CRITICAL; an out-of-range level is shown, not raised."""
    return LEVELS[level] if 0 <= level < len(LEVELS) else f"LEVEL {level}"


WHY_HEAD = ("trigger", "context", "held_by", "score_held_by")


def _why_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def why_short(why: Mapping[str, object]) -> str:
    """The signal's `why` in a few words: what raised the level, what holds the next one."""
    parts = []
    trigger = why.get("trigger")
    if trigger == "none":  # the engine's word for a side that raised nothing
        parts.append("no trigger")
    elif trigger:
        parts.append(f"by {trigger}")
    if why.get("context"):  # what else holds on this side, e.g. a near cluster of the map
        parts.append(f"with {why['context']}")
    if why.get("held_by"):
        parts.append(f"next held by {why['held_by']}")
    elif why.get("score_held_by"):
        parts.append(f"score held by {why['score_held_by']}")
    return " · ".join(parts)


def why_text(why: Mapping[str, object]) -> str:
    """The whole `why` (DESIGN §5.1): the short form, then every number it carries."""
    numbers = " ".join(f"{k} {_why_value(v)}" for k, v in why.items() if k not in WHY_HEAD)
    head = why_short(why)
    return f"{head} · {numbers}" if head and numbers else head or numbers
