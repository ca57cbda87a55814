"""Full replay (`cascade-tui --replay CAP --no-ui --redis-url off`, in process) against bare
stdlib-json decoding of the same capture, side by side in one run. Prints one JSON object.

    .venv/bin/python benchmarks/replay.py [--minutes 60] [--repeat 3] [--profile]

Two captures from the seeded simulator:
- sparse: Binance only (aggTrade, forceOrder liquidation batches, markPrice), ~5-7 frames
  per market second;
- dense: Binance, Bybit and OKX with market time compressed ×3, ≥ 50 frames per market second.

Each is written in both capture formats (DESIGN §5.1): v1 (frames as JSON strings) and v2
(JSON frames as JSON values, what `--record` and `simulate --out` write). Measured per frame:
- `bare_json_us`: `gzip.open` + `json.loads` of each line and of its frame string (v1 file) —
  the least any replay of that capture must do;
- `bare_json_v2_us`: `gzip.open` + `json.loads` of each line of the v2 file (the frame comes
  decoded with its line);
- `replay_us` per format: the whole replay (read, decode, parse, engine, signal lines to
  /dev/null), built exactly as the command line builds it;
- `ratio` = bare_json_us / replay_us (≥ 1 means the replay is faster than merely decoding the
  capture with the standard library). Targets: v2 sparse ≥ 0.6, v2 dense ≥ 1.0;
- `record_us`: what recording costs a frame (CaptureWriter: encode the line, gzip), v2 at the
  default compressor (ISA-L level 1 when the `isal` package is installed, else zlib level 3),
  with zlib at level 1 (`v2_level_1`), and v1. Target (issue 15): ≤ 2.
Timings are CPU time of this (single-threaded) process, the minimum over `--repeat` runs: on a
shared machine a wall clock would also count the time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cascade_tui.capture import CaptureWriter
from cascade_tui.model import RawFrame
from cascade_tui.sources.simulate import MarketSimulator

START_TS = 1_767_225_600.0
TARGETS = {"sparse": 0.6, "dense": 1.0}


def sparse_frames(minutes: float, seed: int) -> Iterator[RawFrame]:
    yield from MarketSimulator(seed, profile="realistic", venues=("binance",)).frames(minutes * 60.0)


def dense_frames(minutes: float, seed: int, squeeze: float = 3.0) -> Iterator[RawFrame]:
    """Three venues, market time compressed `squeeze` times: the same market, busier."""
    for f in MarketSimulator(seed, profile="realistic").frames(minutes * 60.0 * squeeze):
        yield RawFrame(START_TS + (f.ts - START_TS) / squeeze, f.venue, f.data, f.channel)


def write(path: Path, frames: list[RawFrame], version: int, level: int | None = None) -> float:
    """Writes a capture as the recorder does (encode, one gzip member per MB); CPU seconds."""
    kwargs = {} if level is None else {"level": level}
    t0 = time.process_time()
    with CaptureWriter(path, {"source": "benchmark"}, version=version, sync=False, **kwargs) as w:
        w.write_many(frames)
    return time.process_time() - t0


def bare_json(path: Path) -> float:
    loads = json.loads
    t0 = time.process_time()
    with gzip.open(path, "rb") as fh:
        next(fh)
        for line in fh:
            rec = loads(line)
            frame = rec.get("frame")
            if frame is not None:
                loads(frame)
    return time.process_time() - t0


def bare_json_lines(path: Path) -> float:
    loads = json.loads
    t0 = time.process_time()
    with gzip.open(path, "rb") as fh:
        next(fh)
        for line in fh:
            loads(line)
    return time.process_time() - t0


def replay(path: Path) -> tuple[float, dict[str, Any]]:
    """The command line's headless replay, in process: wall time of pipeline.run()."""
    from cascade_tui.runtime.build import build_pipeline
    from cascade_tui.runtime.options import RunOptions
    from cascade_tui.sinks.jsonl import JsonLinesSink

    opts = RunOptions(source="replay", replay=[str(path)], speed=0.0, no_ui=True, redis_url="off")
    pipeline = build_pipeline(opts)
    with open(os.devnull, "wb") as devnull:
        for sink in pipeline.sinks:
            if isinstance(sink, JsonLinesSink):
                sink.stream = devnull
        t0 = time.process_time()
        asyncio.run(pipeline.run())
        wall = time.process_time() - t0
    return wall, {"frames": pipeline.frames, "events": pipeline.events, "signals": pipeline.signals_emitted}


def profile_replay(path: Path) -> str:
    prof = cProfile.Profile()
    prof.enable()
    replay(path)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def measure(name: str, frames: list[RawFrame], tmp: Path, repeat: int, profile: bool) -> dict[str, Any]:
    v1 = tmp / f"{name}.v1.cap.gz"
    v2 = tmp / f"{name}.v2.cap.gz"
    n = len(frames)
    record_v1 = write(v1, frames, 1)
    record_v2 = min(write(v2, frames, 2) for _ in range(repeat))
    record_v2_fast = min(write(tmp / "fast.cap.gz", frames, 2, level=1) for _ in range(repeat))
    span = frames[-1].ts - frames[0].ts if n > 1 else 0.0
    bare = min(bare_json(v1) for _ in range(repeat))
    bare_v2 = min(bare_json_lines(v2) for _ in range(repeat))
    result: dict[str, Any] = {
        "frames": n,
        "market_s": round(span, 1),
        "frames_per_market_s": round(n / span, 2) if span else None,
        "bare_json_us": round(bare / n * 1e6, 3),
        "bare_json_v2_us": round(bare_v2 / n * 1e6, 3),
        "target_ratio_v2": TARGETS[name],
        # the recorder's per-frame work: encode + gzip (the default compressor, and zlib level 1)
        "record_us": {
            "v2": round(record_v2 / n * 1e6, 3),
            "v2_level_1": round(record_v2_fast / n * 1e6, 3),
            "v1": round(record_v1 / n * 1e6, 3),
        },
    }
    for label, path in (("v1", v1), ("v2", v2)):
        runs = [replay(path) for _ in range(repeat)]
        wall = min(r[0] for r in runs)
        result[label] = {
            "bytes": path.stat().st_size,
            "replay_us": round(wall / n * 1e6, 3),
            "ratio": round(bare / wall, 3),
            **runs[0][1],
        }
        if profile:
            print(f"--- {name} {label}\n" + profile_replay(path), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0, help="market minutes per capture")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="also print cProfile's top functions per replay")
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "replay", "minutes": args.minutes, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as d:
        tmp = Path(d)
        for name, make in (("sparse", sparse_frames), ("dense", dense_frames)):
            frames = list(make(args.minutes, args.seed))
            out[name] = measure(name, frames, tmp, args.repeat, args.profile)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
