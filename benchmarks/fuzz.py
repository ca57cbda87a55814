"""One million mutated frames per venue parser; prints one JSON object.

The seed frames are the fuzz corpus of the test suite (tests/fuzz/corpus.py) and the
mutation mechanics are the suite's own (`paths`, `mutate` from tests/fuzz/test_parser_fuzz.py):
field deletion, type swaps to weird values (NaN/Infinity strings, huge integers, negative
numbers, unicode, NUL, nested containers), deeper nesting, truncation, and some random
bytes/text. Hypothesis draws ~1 000 examples/s, too slow for a million per parser, so the
draws here come from a seeded `random.Random` instead.

    .venv/bin/python benchmarks/fuzz.py [--frames 1000000] [--venues binance,okx] [--seed 1]

Pass criteria (issue #8): exceptions escaped = 0 and invalid events = 0 for every parser,
and each parser's accounting adds up (frames = parsed + ignored + parse_errors).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.fuzz` from a checkout

from cascade_tui.feeds import make_parser, venue_ids
from cascade_tui.feeds.base import valid_event
from cascade_tui.model import Liquidation
from tests.fuzz.corpus import seed_json
from tests.fuzz.test_parser_fuzz import mutate, paths

RECV_TS = 1_767_225_600.0
WEIRD_STRINGS = ("NaN", "nan", "Infinity", "-Infinity", "-1", "0", "1e400", "-0", "", " ", "１２３", "💥", "\x00")
OPS = ("set", "set", "delete", "nest")


def weird_value(rng: random.Random) -> Any:
    """The same families of values as the suite's WEIRD_VALUES strategy."""
    kind = rng.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70)
    if kind == 3:
        return rng.choice((math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324, rng.uniform(-1e6, 1e6)))
    if kind == 4:
        return rng.choice(WEIRD_STRINGS)
    if kind == 5:
        return "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x3000)))) for _ in range(rng.randrange(21)))
    if kind == 6:
        return [rng.randint(-5, 5) for _ in range(rng.randrange(4))]
    if kind == 7:
        return {str(rng.randrange(100)): rng.randint(-5, 5) for _ in range(rng.randrange(4))}
    return str(rng.uniform(-1e9, 1e9))


class FrameMutator:
    """Mutated frames for one venue, drawn from its corpus seeds."""

    def __init__(self, venue: str, rng: random.Random) -> None:
        self.venue = venue
        self.rng = rng
        self.seeds = seed_json(venue)
        # paths of the unmutated seed; after a structural mutation some may be gone, and
        # mutate() then raises, which just skips that mutation
        self.seed_paths = [paths(json.loads(s)) for s in self.seeds]

    def frame(self) -> str | bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            return self._random_blob()
        i = rng.randrange(len(self.seeds))
        obj = json.loads(self.seeds[i])
        candidates = self.seed_paths[i]
        for _ in range(rng.randint(1, 4)):
            path = rng.choice(candidates)
            try:
                obj = mutate(obj, path, rng.choice(OPS), weird_value(rng))
            except (KeyError, IndexError, TypeError):
                continue
        text = json.dumps(obj, allow_nan=True, ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.1:
            text = text[: rng.randrange(len(text) + 1)]
        if self.venue == "htx":
            return gzip.compress(text.encode("utf-8", "surrogatepass"), compresslevel=1)
        return text

    def _random_blob(self) -> str | bytes:
        rng = self.rng
        n = rng.randrange(300)
        if rng.random() < 0.5:
            return rng.randbytes(n)
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(n))


def fuzz_venue(venue: str, frames: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{venue}")
    mutator = FrameMutator(venue, rng)
    parser = make_parser(venue)
    escaped = 0
    invalid = 0
    events = 0
    examples: list[str] = []
    t0 = time.perf_counter()
    for _ in range(frames):
        frame = mutator.frame()
        try:
            out = parser.parse(frame, RECV_TS)
        except Exception as exc:  # the property under test: this must never happen
            escaped += 1
            if len(examples) < 5:
                examples.append(f"escaped {type(exc).__name__}: {exc!s:.200} on {frame!r:.300}")
            continue
        events += len(out)
        for ev in out:
            ok = valid_event(ev)
            if ok and isinstance(ev, Liquidation):
                ok = ev.side in ("long", "short") and math.isfinite(ev.usd) and ev.usd > 0
            if not ok:
                invalid += 1
                if len(examples) < 5:
                    examples.append(f"invalid {ev!r:.300}")
    wall = time.perf_counter() - t0
    s = parser.stats
    return {
        "frames": frames,
        "exceptions_escaped": escaped,
        "invalid_events": invalid,
        "events": events,
        "parsed": s.parsed,
        "ignored": s.ignored,
        "parse_errors": s.parse_errors,
        "rejected": s.rejected,
        "accounting_ok": s.frames == frames - escaped and s.frames == s.parsed + s.ignored + s.parse_errors,
        "frames_per_s": round(frames / wall) if wall > 0 else 0,
        "examples": examples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000, help="mutated frames per parser")
    ap.add_argument("--venues", default=",".join(venue_ids()), help="comma-separated venue ids")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    venues = [v for v in args.venues.split(",") if v]
    t0 = time.perf_counter()
    per_venue = {}
    for venue in venues:
        per_venue[venue] = fuzz_venue(venue, args.frames, args.seed)
        print(f"fuzz {venue}: {json.dumps({k: v for k, v in per_venue[venue].items() if k != 'examples'})}",
              file=sys.stderr)
    escaped = sum(r["exceptions_escaped"] for r in per_venue.values())
    invalid = sum(r["invalid_events"] for r in per_venue.values())
    accounting = all(r["accounting_ok"] for r in per_venue.values())
    print(json.dumps({
        "benchmark": "fuzz",
        "python": platform.python_version(),
        "frames_per_parser": args.frames,
        "parsers": len(venues),
        "frames_total": args.frames * len(venues),
        "exceptions_escaped": escaped,
        "invalid_events": invalid,
        "accounting_ok": accounting,
        "target_exceptions_escaped": 0,
        "target_invalid_events": 0,
        "passed": escaped == 0 and invalid == 0 and accounting,
        "wall_s": round(time.perf_counter() - t0, 1),
        "venues": per_venue,
    }))


if __name__ == "__main__":
    main()
