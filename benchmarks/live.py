"""Live receive → engine cost per frame, on the local WebSocket servers. Prints one JSON object.

    .venv/bin/python benchmarks/live.py [--rate 10000] [--seconds 20]

A server process (benchmarks/latency.py's server role: tests/wsservers speaking the Binance,
Bybit and OKX protocols) sends simulator frames at `--rate` parsed events per second; this
process runs the real live path with no sink: LiveSource (connection URLs rewritten to the
local servers) -> Pipeline -> Engine. Measured in this process, per frame received:
- `receive_to_engine_us`: CPU time in our code from the moment a connection hands a received
  frame on (`LiveSource.deliver`: the merged venue queue) through the batch pop, the parser and
  the engine (`Pipeline.process_batch`) — summed thread CPU time / frames, less the meter's
  own cost per call. The
  WebSocket library's own frame decoding and asyncio's socket reads come before and are not
  in it;
- `process_cpu_us`: the whole process's CPU time / frames, everything included (WebSocket
  protocol, asyncio, the status timers), for context.
Target (issue 15): receive_to_engine_us ≤ 8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* from a checkout

TARGET_US = 8.0
VENUES = ("binance", "bybit", "okx")


class Meter:
    """Sums the CPU time of this thread spent inside wrapped calls (CPU, not wall time: on a
    shared machine a wall interval also counts the time the thread waited for a core)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Any) -> Any:
        perf = time.thread_time

        def timed(*args: Any) -> Any:
            t0 = perf()
            try:
                return fn(*args)
            finally:
                self.seconds += perf() - t0
                self.calls += 1

        return timed


def meter_overhead_s() -> float:
    """What one wrapped call costs the meter itself (two clock reads), to subtract."""
    m = Meter()
    noop = m.wrap(lambda: None)
    for _ in range(20_000):
        noop()
    return m.seconds / m.calls


async def run(ports: dict[str, int], server: asyncio.subprocess.Process, seconds: float) -> dict[str, Any]:
    import httpx

    from cascade_tui.config import VenueConfig
    from cascade_tui.feeds.connection import ConnectionOptions
    from cascade_tui.feeds.metadata import VenueMetadata
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.sources.live import LiveSource

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        venue = next(v for v in VENUES if v in (parts.hostname or ""))
        query = f"?{parts.query}" if parts.query else ""
        return f"ws://127.0.0.1:{ports[venue]}{parts.path or '/'}{query}"

    def offline(request: httpx.Request) -> httpx.Response:  # REST polls: no network here
        raise httpx.ConnectError("offline benchmark", request=request)

    put, pop, process = Meter(), Meter(), Meter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(offline)) as http:
        source = LiveSource(
            list(VENUES),
            VenueConfig(oi_symbols=["BTC", "ETH", "SOL"], btc_trades_venue="binance"),
            metadata={v: VenueMetadata(v, source="bundled") for v in VENUES},
            options=ConnectionOptions(url_rewrite=rewrite),
            http_client=http,
        )
        await source.prepare()
        source.deliver = put.wrap(source.deliver)  # type: ignore[method-assign]
        source._queue.pop_batch = pop.wrap(source._queue.pop_batch)  # type: ignore[method-assign]
        pipeline = Pipeline(source, metadata=source.parser_metadata)
        pipeline.process_batch = process.wrap(pipeline.process_batch)  # type: ignore[method-assign]
        task = asyncio.create_task(pipeline.run())
        deadline = time.monotonic() + 30
        while not all(st.state == "live" for st in source.feed_status().values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"venues did not connect: {source.feed_status()}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        put.seconds = pop.seconds = process.seconds = 0.0
        put.calls = pop.calls = process.calls = 0
        frames0 = pipeline.frames
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(b"go\n")
        await server.stdin.drain()
        done = json.loads(await asyncio.wait_for(server.stdout.readline(), seconds * 4 + 60))
        await asyncio.sleep(0.5)  # the last frames through
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        frames = pipeline.frames - frames0
        drops = sum(st.drops for st in source.feed_status().values())
        pipeline.stop()
        await asyncio.wait_for(task, 15)
    overhead = meter_overhead_s()
    put.seconds -= overhead * put.calls
    pop.seconds -= overhead * pop.calls
    process.seconds -= overhead * process.calls
    inside = put.seconds + pop.seconds + process.seconds
    return {
        "frames": frames,
        "events": pipeline.events,
        "sent": done.get("done"),
        "drops": drops,
        "wall_s": round(wall, 2),
        "receive_to_engine_us": round(inside / frames * 1e6, 3) if frames else None,
        "breakdown_us": {
            "queue_put": round(put.seconds / frames * 1e6, 3) if frames else None,
            "queue_pop": round(pop.seconds / frames * 1e6, 3) if frames else None,
            "parse_engine": round(process.seconds / frames * 1e6, 3) if frames else None,
        },
        "process_cpu_us": round(cpu / frames * 1e6, 3) if frames else None,
        "meter_overhead_us_per_call": round(overhead * 1e6, 3),
    }


async def orchestrate(rate: float, seconds: float, seed: int, out: Path) -> dict[str, Any]:
    latency = Path(__file__).resolve().parent / "latency.py"
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(latency), "--role", "server", "--rate", str(rate), "--seconds", str(seconds),
        "--seed", str(seed), "--out", str(out),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None and server.stdin is not None
    ready = json.loads(await server.stdout.readline())
    try:
        result = await run(ready["ports"], server, seconds)
    finally:
        server.stdin.write(b"stop\n")
        await server.stdin.drain()
        await asyncio.wait_for(server.wait(), 30)
    result["frames_per_s_sent"] = round(ready["frames_per_s"], 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=10_000.0, help="parsed events per second sent")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cascade-live-") as d:
        result = asyncio.run(orchestrate(args.rate, args.seconds, args.seed, Path(d) / "send.json"))
    print(json.dumps({
        "benchmark": "live",
        "python": platform.python_version(),
        "rate_events_per_s": args.rate,
        "target_receive_to_engine_us": TARGET_US,
        **result,
    }))


if __name__ == "__main__":
    main()
