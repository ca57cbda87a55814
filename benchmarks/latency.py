"""End-to-end latency: receive -> parse -> engine -> signal -> Redis publish, on the real path.

Three processes, so that each side's CPU does not pollute the other's numbers:
  - a server process: local WebSocket servers on 127.0.0.1 speaking the Binance, Bybit and
    OKX protocols (tests/wsservers), replaying simulator frames at a fixed rate chosen so
    that the parsed events arrive at the target events/s; it logs each frame's send time;
  - this process: the real live pipeline — LiveSource (its connection URLs rewritten to the
    local servers) -> Pipeline -> Engine -> RedisSink on a real redis-server;
  - a subscriber process: `SUBSCRIBE cascade:signals` and `XREAD cascade:events`, logging
    when each signal/event arrives.
The parsers and the engine are wrapped (not modified) to time each stage per frame/event.

Stages (wall clock unless noted; p50/p99/max):
  network            server send -> frame stamped at receipt (RawFrame.ts)
  queue              receipt -> the pipeline starts parsing it
  parse              parse time of one frame
  engine_update_us   one Engine.process() call, in µs
  receive_to_processed   receipt -> the frame's events are through the engine (the moment
                     a signal caused by this frame is emitted)
  receive_to_signal  receipt of the triggering frame -> signal emitted
  signal_to_redis    signal emitted -> arrived at a Redis subscriber
  receive_to_redis   receipt of the triggering frame -> signal arrived at a Redis subscriber
  event_stream       receipt -> the event arrived through `cascade:events` (written in
                     batches every 100 ms by design, so expect ~50-100 ms)

    .venv/bin/python benchmarks/latency.py [--rates 1000,10000] [--seconds 30] [--warmup 3]

Targets (issue #8): receive -> Redis publish p99 <= 2 ms at 10 k events/s; engine update
p99 <= 20 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* from a checkout

TARGET_P99_MS = 2.0
TARGET_ENGINE_P99_US = 20.0
VENUES = ("binance", "bybit", "okx")  # the venues the simulator speaks
HOSTS = {"binance": "binance", "bybit": "bybit", "okx": "okx"}  # host fragment -> venue


def digest(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.blake2b(raw, digest_size=12).digest()


def run_queue_wait_s() -> float | None:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat): how
    much of the tail comes from sharing the machine rather than from the code."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def percentiles(values: list[float], scale: float = 1.0, digits: int = 3) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    xs = sorted(values)
    n = len(xs)

    def q(p: float) -> float:
        return round(xs[min(n - 1, int(p * n))] * scale, digits)

    return {"p50": q(0.50), "p99": q(0.99), "max": round(xs[-1] * scale, digits), "n": n}


# ============================================================================ server process


async def serve(seed: int, rate: float, seconds: float, sendlog: Path) -> None:
    from cascade_tui.feeds import make_parser
    from cascade_tui.sources.simulate import MarketSimulator
    from tests.wsservers.binance import BinanceProtocol
    from tests.wsservers.bybit import BybitProtocol
    from tests.wsservers.core import ProtocolServer
    from tests.wsservers.okx import OkxProtocol

    sim = MarketSimulator(seed, profile="demo")
    parsers = {v: make_parser(v) for v in VENUES}
    frames: list[tuple[str, str | bytes]] = []
    events = 0
    target_events = rate * seconds
    for f in sim.frames(None):
        frames.append((f.venue, f.data))
        events += len(parsers[f.venue].parse(f.data, f.ts, f.channel))
        if events >= target_events:
            break
    frames_per_s = rate * len(frames) / max(events, 1)
    class RealisticBinance(BinanceProtocol):
        # the test server pings every 0.2 s so tests see several; Binance itself pings every
        # 3 minutes (10 minutes to answer). A 0.2 s deadline would measure reconnects instead.
        ws_ping_interval = 180.0

    protocols = {"binance": RealisticBinance(), "bybit": BybitProtocol(), "okx": OkxProtocol(replay=0)}
    servers = {v: ProtocolServer(p) for v, p in protocols.items()}
    for server in servers.values():
        await server.__aenter__()
    print(json.dumps({"ports": {v: s.port for v, s in servers.items()}, "frames": len(frames),
                      "events": events, "frames_per_s": frames_per_s}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"

    def session_of(venue: str) -> Any:
        live = [s for s in servers[venue].live() if s.subscribed]
        return live[0] if live else None

    sent: list[tuple[int, float]] = []
    unsent = 0
    start = loop.time()
    for i, (venue, data) in enumerate(frames):
        due = start + i / frames_per_s
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        session = session_of(venue)
        if session is None:
            unsent += 1
            continue
        t = time.time()
        try:
            await session.ws.send(data)
        except Exception:
            unsent += 1
            continue
        sent.append((i, t))
    wall = loop.time() - start
    sendlog.write_text(json.dumps({
        "sent": [[frames[i][0], digest(frames[i][1]).hex(), t] for i, t in sent],
        "unsent": unsent,
        "wall_s": wall,
    }))
    print(json.dumps({"done": len(sent), "unsent": unsent, "wall_s": wall}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # keep serving until told to stop
    for server in servers.values():
        await server.__aexit__(None, None, None)


# ============================================================================ subscriber process


def subscribe(url: str, out: Path) -> None:
    import msgspec
    import redis

    stop = threading.Event()
    signals: list[tuple[float, str]] = []
    events: list[tuple[float, float]] = []

    def read_signals() -> None:
        client = redis.Redis.from_url(url)
        pubsub = client.pubsub()
        pubsub.subscribe("cascade:signals")
        while not stop.is_set():
            msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if msg is not None:
                signals.append((time.time(), msg["data"].decode()))
        pubsub.close()

    def read_events() -> None:
        client = redis.Redis.from_url(url)
        last = "$"
        while not stop.is_set():
            reply = client.xread({"cascade:events": last}, block=50, count=10_000)
            now = time.time()
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    ev = msgspec.json.decode(fields[b"e"])
                    events.append((now, float(ev["recv_ts"])))

    threads = [threading.Thread(target=read_signals), threading.Thread(target=read_events)]
    for t in threads:
        t.start()
    print("subscribed", flush=True)
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join(5)
    out.write_text(json.dumps({"signals": signals, "events": events}))


# ============================================================================ the measured pipeline


class FrameClock:
    """Per-frame receipt, parse start, parse time and completion, filled by the wrappers."""

    def __init__(self) -> None:
        self.frames: list[tuple[str | bytes, float, float, float, float]] = []  # data, recv, start, parse_s, done
        self.engine_ns: list[int] = []
        self.last_done = 0.0
        self._open: list[Any] | None = None

    def close_frame(self) -> None:
        if self._open is not None:
            data, recv, start, parse_s, parse_end, n = self._open
            self.frames.append((data, recv, start, parse_s, self.last_done if n else parse_end))
            self._open = None


class TimedParser:
    """A venue parser with a stopwatch; everything else is the real parser's."""

    def __init__(self, inner: Any, clock: FrameClock) -> None:
        self.inner = inner
        self.clock = clock

    @property
    def stats(self) -> Any:
        return self.inner.stats

    def reset(self) -> None:
        self.inner.reset()

    def parse(self, data: str | bytes, recv_ts: float, channel: str = "") -> list[Any]:
        clock = self.clock
        clock.close_frame()
        start = time.time()
        p0 = time.perf_counter()
        events = self.inner.parse(data, recv_ts, channel)
        parse_s = time.perf_counter() - p0
        clock._open = [data, recv_ts, start, parse_s, start + parse_s, len(events)]
        return events


def timed_engine_class() -> type:
    from cascade_tui.engine import Engine

    class TimedEngine(Engine):
        clock: FrameClock

        def process(self, ev: Any) -> Any:
            t0 = time.perf_counter_ns()
            out = super().process(ev)
            self.clock.engine_ns.append(time.perf_counter_ns() - t0)
            self.clock.last_done = time.time()
            return out

    return TimedEngine


async def run_pipeline(ports: dict[str, int], redis_url: str, server: asyncio.subprocess.Process,
                       seconds: float) -> dict[str, Any]:
    import httpx

    from cascade_tui.config import VenueConfig
    from cascade_tui.engine.types import signal_encoder
    from cascade_tui.feeds import make_parser
    from cascade_tui.feeds.connection import ConnectionOptions
    from cascade_tui.feeds.metadata import VenueMetadata
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.sinks.redis import RedisSink
    from cascade_tui.sources.live import LiveSource

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        venue = next(v for fragment, v in HOSTS.items() if fragment in host)
        query = f"?{parts.query}" if parts.query else ""
        return f"ws://127.0.0.1:{ports[venue]}{parts.path or '/'}{query}"

    def offline(request: httpx.Request) -> httpx.Response:  # REST polls: no network here
        raise httpx.ConnectError("offline benchmark", request=request)

    clock = FrameClock()
    engine = timed_engine_class()()
    engine.clock = clock
    emitted: list[tuple[float, float, bytes]] = []  # emit wall, signal ts, payload
    async with httpx.AsyncClient(transport=httpx.MockTransport(offline)) as http:
        source = LiveSource(
            list(VENUES),
            VenueConfig(oi_symbols=["BTC", "ETH", "SOL"], btc_trades_venue="binance"),
            metadata={v: VenueMetadata(v, source="bundled") for v in VENUES},
            options=ConnectionOptions(url_rewrite=rewrite),
            http_client=http,
        )
        await source.prepare()
        sink = RedisSink(redis_url)
        pipeline = Pipeline(source, engine, [sink], metadata=source.parser_metadata,
                            on_signal=lambda s: emitted.append((time.time(), s.ts, signal_encoder.encode(s))))
        for venue in VENUES:
            pipeline.parsers[venue] = TimedParser(make_parser(venue, source.parser_metadata.get(venue)), clock)
        run = asyncio.create_task(pipeline.run())
        deadline = time.monotonic() + 20
        while not all(st.state == "live" for st in source.feed_status().values()) or sink.state != "connected":
            if time.monotonic() > deadline:
                raise RuntimeError(f"venues did not connect: {source.feed_status()}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # subscriptions acknowledged
        go_wall = time.time()
        waited_before = run_queue_wait_s()
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(b"go\n")
        await server.stdin.drain()
        done_line = await asyncio.wait_for(server.stdout.readline(), seconds * 4 + 60)
        waited_after = run_queue_wait_s()
        await asyncio.sleep(1.0)  # let the last frames through and the Redis writer flush
        clock.close_frame()
        status = {v: {"frames": st.frames, "drops": st.drops, "reconnects": st.reconnects}
                  for v, st in source.feed_status().items()}
        redis_round_trip = percentiles(list(sink._own_latency), 1000.0)
        sink_stats = sink.stats()
        snap = pipeline.latest_snapshot
        builtin = {k: {"p50_ms": round(v.p50_ms, 4), "p99_ms": round(v.p99_ms, 4)} for k, v in snap.latency.items()} if snap else {}
        pipeline.stop()
        await asyncio.wait_for(run, 15)
    return {
        "go_wall": go_wall, "server_done": json.loads(done_line), "clock": clock, "emitted": emitted,
        "status": status, "redis_round_trip_ms": redis_round_trip, "redis_sink": sink_stats,
        "pipeline_latency": builtin, "events": pipeline.events,
        "run_queue_wait_s": None if waited_before is None or waited_after is None else waited_after - waited_before,
    }


def measure_rate(rate: float, seconds: float, warmup: float, seed: int, work: Path) -> dict[str, Any]:
    from tests.redis.server import RedisServer

    sendlog, sublog = work / f"send-{rate:g}.json", work / f"sub-{rate:g}.json"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    me = str(Path(__file__).resolve())
    with RedisServer() as redis_server:
        subscriber = subprocess.Popen(
            [sys.executable, me, "--role", "subscriber", "--redis-url", redis_server.url, "--out", str(sublog)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        assert subscriber.stdout is not None and subscriber.stdin is not None
        subscriber.stdout.readline()

        async def orchestrate() -> dict[str, Any]:
            server = await asyncio.create_subprocess_exec(
                sys.executable, me, "--role", "server", "--rate", str(rate), "--seconds", str(seconds + warmup),
                "--seed", str(seed), "--out", str(sendlog),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            assert server.stdout is not None and server.stdin is not None
            ready = json.loads(await server.stdout.readline())
            try:
                out = await run_pipeline(ready["ports"], redis_server.url, server, seconds + warmup)
            finally:
                server.stdin.write(b"stop\n")
                await server.stdin.drain()
                await asyncio.wait_for(server.wait(), 30)
            out["server_ready"] = ready
            return out

        res = asyncio.run(orchestrate())
        subscriber.stdin.write(b"stop\n")
        subscriber.stdin.flush()
        subscriber.wait(30)
    return analyse(rate, seconds, warmup, res, json.loads(sendlog.read_text()), json.loads(sublog.read_text()))


def analyse(rate: float, seconds: float, warmup: float, res: dict[str, Any], sendlog: dict[str, Any],
            sub: dict[str, Any]) -> dict[str, Any]:
    clock: FrameClock = res["clock"]
    measure_from = res["go_wall"] + warmup
    sent_at: dict[bytes, list[float]] = {}
    for _venue, hexdigest, t in sendlog["sent"]:
        sent_at.setdefault(bytes.fromhex(hexdigest), []).append(t)
    network, queue, parse, processed = [], [], [], []
    matched = 0
    for data, recv, start, parse_s, done in clock.frames:
        times = sent_at.get(digest(data))
        if not times:
            continue  # acks, pongs: not data frames
        sent = times.pop(0)
        matched += 1
        if sent < measure_from:
            continue
        network.append(recv - sent)
        queue.append(start - recv)
        parse.append(parse_s)
        processed.append(done - recv)
    engine_us = [ns / 1000.0 for ns in clock.engine_ns[len(clock.engine_ns) // 10 :]]  # skip a warm-up tenth
    arrivals = {payload: t for t, payload in sub["signals"]}
    to_signal, to_redis, end_to_end = [], [], []
    for emit_wall, sig_ts, payload in res["emitted"]:
        if sig_ts < measure_from:
            continue
        to_signal.append(emit_wall - sig_ts)
        arrived = arrivals.get(payload.decode())
        if arrived is not None:
            to_redis.append(arrived - emit_wall)
            end_to_end.append(arrived - sig_ts)
    stream = [arr - recv for arr, recv in sub["events"] if recv >= measure_from]
    measured_wall = max(1e-9, sendlog["wall_s"] - warmup)
    stages = {
        "network_ms": percentiles(network, 1000.0),
        "queue_ms": percentiles(queue, 1000.0),
        "parse_ms": percentiles(parse, 1000.0, 4),
        "engine_update_us": percentiles(engine_us, 1.0, 2),
        "receive_to_processed_ms": percentiles(processed, 1000.0),
        "receive_to_signal_ms": percentiles(to_signal, 1000.0),
        "signal_to_redis_ms": percentiles(to_redis, 1000.0),
        "receive_to_redis_ms": percentiles(end_to_end, 1000.0),
        "event_stream_ms": percentiles(stream, 1000.0),
    }
    e2e_p99 = stages["receive_to_redis_ms"].get("p99")
    return {
        "target_events_per_s": rate,
        "achieved_events_per_s": round(res["events"] / max(1e-9, sendlog["wall_s"]), 1),
        "frames_per_s": round(res["server_ready"]["frames_per_s"], 1),
        "frames_sent": len(sendlog["sent"]),
        "frames_unsent": sendlog["unsent"],
        "frames_matched": matched,
        "measured_s": round(measured_wall, 2),
        "signals_emitted": len(res["emitted"]),
        "signals_seen_in_redis": len(sub["signals"]),
        "events_seen_in_stream": len(sub["events"]),
        "stages": stages,
        "redis_round_trip_ms": res["redis_round_trip_ms"],
        "pipeline_builtin_latency": res["pipeline_latency"],
        "source": res["status"],
        # share of the run this process was runnable but had no CPU (other processes had it)
        "cpu_wait_share": round(res["run_queue_wait_s"] / sendlog["wall_s"], 4) if res["run_queue_wait_s"] is not None else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "redis_sink": {k: res["redis_sink"][k] for k in ("drops", "published", "events_written", "errors")},
        "receive_to_redis_p99_ms": e2e_p99,
        "receive_to_processed_p99_ms": stages["receive_to_processed_ms"].get("p99"),
        "meets_p99_target": e2e_p99 is not None and e2e_p99 <= TARGET_P99_MS,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,10000", help="events/s to replay, comma-separated")
    ap.add_argument("--seconds", type=float, default=30.0, help="measured seconds per rate")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds sent before measuring")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--role", choices=("bench", "server", "subscriber"), default="bench", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=1000.0, help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "server":
        asyncio.run(serve(args.seed, args.rate, args.seconds, args.out))
        return
    if args.role == "subscriber":
        subscribe(args.redis_url, args.out)
        return

    import tempfile

    work = Path(tempfile.mkdtemp(prefix="cascade-latency-"))
    results = {}
    for rate in (float(r) for r in args.rates.split(",") if r):
        results[f"{rate:g}"] = measure_rate(rate, args.seconds, args.warmup, args.seed, work)
        print(f"latency {rate:g}/s: {json.dumps(results[f'{rate:g}']['stages'])}", file=sys.stderr)
    top = results[max(results, key=float)] if results else {}
    engine_p99 = max((r["stages"]["engine_update_us"].get("p99", 0.0) for r in results.values()), default=None)
    print(json.dumps({
        "benchmark": "latency",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "target_receive_to_redis_p99_ms": TARGET_P99_MS,
        "target_engine_update_p99_us": TARGET_ENGINE_P99_US,
        "receive_to_redis_p99_ms_at_top_rate": top.get("receive_to_redis_p99_ms"),
        "receive_to_processed_p99_ms_at_top_rate": top.get("receive_to_processed_p99_ms"),
        "engine_update_p99_us": engine_p99,
        "rates": results,
    }))


if __name__ == "__main__":
    main()
