"""`cascade-tui liqmap`: print the estimated liquidation map as a table or JSON.

    cascade-tui liqmap                      # the running instance's map, from Redis
    cascade-tui liqmap CAP [CAP ...]        # the map at the end of capture(s), replayed here
    cascade-tui liqmap --asset BTC --json   # the `cascade:liqmap:{asset}` payload, one line each

Without captures the map comes from Redis (`cascade:liqmap:{asset}`, written by a running
`cascade-tui`): --redis-url, else CASCADE_REDIS_URL, else the config's redis.url, else
redis://localhost:6379. With captures, they are replayed through the engine as fast as
possible (nothing is written anywhere) and the map at the end is printed.
Exit codes: 0 printed, 1 no map found, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cascade_tui.engine.liqmap import LiqMapView
from cascade_tui.text import usd

DEFAULT_REDIS_URL = "redis://localhost:6379"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui liqmap",
        description="Print the estimated liquidation map (USD per price band around the price).",
    )
    p.add_argument(
        "captures", nargs="*", metavar="CAP", help="capture file(s) to replay; default: read Redis"
    )
    p.add_argument("--asset", type=str.upper, help="one asset (default: every asset with a map)")
    p.add_argument("--json", action="store_true", help="one JSON object per asset (the Redis payload)")
    p.add_argument("--range", type=float, default=5.0, metavar="PCT", help="table span: ±PCT %% of price (5)")
    p.add_argument(
        "--step", type=float, default=0.5, metavar="PCT", help="table row height in %% of price (0.5)"
    )
    p.add_argument("--redis-url", metavar="URL", help="Redis to read (default: env, config, localhost)")
    p.add_argument("--redis-prefix", metavar="PREFIX", help="key namespace (default from config)")
    p.add_argument("--config", metavar="FILE", help="settings TOML (for redis.url / redis.prefix)")
    return p


def maps_from_captures(paths: Sequence[str]) -> list[LiqMapView]:
    """Replay captures through a fresh engine (frame by frame, as the live pipeline would);
    a frame of an unknown venue is skipped, a bad frame counted by its parser."""
    from cascade_tui.capture import CaptureReader
    from cascade_tui.engine import Engine
    from cascade_tui.feeds import make_parser
    from cascade_tui.feeds.base import FrameParser

    engine = Engine()
    parsers: dict[str, FrameParser | None] = {}
    for path in paths:
        for frame in CaptureReader(path):
            if frame.venue not in parsers:
                try:
                    parsers[frame.venue] = make_parser(frame.venue)
                except (KeyError, ImportError, AttributeError):
                    parsers[frame.venue] = None
            parser = parsers[frame.venue]
            engine.tick(frame.ts)
            if parser is not None:
                engine.process_frame(parser.parse(frame.data, frame.ts, frame.channel))
    return list(engine.snapshot().liqmap)


def maps_from_redis(url: str, prefix: str, asset: str | None) -> list[LiqMapView]:
    from cascade_tui.redis_client import make_sync_client
    from cascade_tui.redis_schema import RedisKeys, decode_liqmap

    keys = RedisKeys(prefix)
    client = make_sync_client(url, connect_timeout_s=5.0, command_timeout_s=5.0)
    try:
        names = [keys.liqmap(asset)] if asset else sorted(client.scan_iter(match=keys.liqmap("*"), count=500))
        views = []
        for name in names:
            raw = client.get(name)
            if raw is not None:
                views.append(decode_liqmap(raw))
        return sorted(views, key=lambda v: v.asset)
    finally:
        client.close()


def table(view: LiqMapView, range_pct: float, step_pct: float) -> str:
    """Rows of step_pct from +range to −range (shorts above the price, longs below)."""
    lines = [f"{view.asset}  price {view.price:,.6g}  (estimate: positions opened while watched)"]
    if not view.trades_seen:
        lines.append("no trades of this asset seen: new positions split 50/50 long/short")
    cov = f"{100 * view.coverage:.0f} %" if view.coverage is not None else "—"
    ratio = f"{view.seen_per_est:.2f}" if view.seen_per_est is not None else "—"
    lines.append(
        f"calibration: seen liquidation USD in estimated bands {cov}; seen per estimated USD crossed {ratio}"
    )
    if view.price is None:
        return "\n".join(lines)
    n = max(1, math.ceil(range_pct / step_pct))
    rows: dict[int, list[float]] = {i: [0.0, 0.0] for i in range(-n, n)}
    for band in view.bands:
        pct = (math.sqrt(band.low * band.high) / view.price - 1.0) * 100.0
        i = math.floor(pct / step_pct)
        if i in rows:
            rows[i][0] += band.long_usd
            rows[i][1] += band.short_usd
    peak = max((max(v) for v in rows.values()), default=0.0) or 1.0
    lines.append(f"{'from':>12} {'to':>12} {'longs':>10} {'shorts':>10}")
    for i in range(n - 1, -n - 1, -1):
        lo = view.price * (1 + i * step_pct / 100.0)
        hi = view.price * (1 + (i + 1) * step_pct / 100.0)
        long_usd, short_usd = rows[i]
        bar = "#" * round(20 * max(long_usd, short_usd) / peak)
        lines.append(f"{lo:>12,.6g} {hi:>12,.6g} {usd(long_usd):>10} {usd(short_usd):>10} {bar}")
        if i == 0:
            lines.append(f"{'── price ' + format(view.price, ',.6g') + ' ──':^47}")
    within = "  ".join(f"≤{k}%: longs {usd(view.long_within[k])} shorts {usd(view.short_within.get(k, 0.0))}"
                       for k in view.long_within)  # fmt: skip
    lines.append(within)
    if view.near_cluster is not None:
        lines.append(f"near_cluster: {view.near_cluster}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not (0 < args.step <= args.range <= 15):
        print("cascade-tui liqmap: error: need 0 < --step <= --range <= 15", file=sys.stderr)
        return 2
    for path in args.captures:
        if not Path(path).is_file():
            print(f"cascade-tui liqmap: error: no such file: {path}", file=sys.stderr)
            return 2
    if args.captures:
        from cascade_tui.capture import CaptureError

        try:
            views = maps_from_captures(args.captures)
        except CaptureError as exc:
            print(f"cascade-tui liqmap: error: {exc}", file=sys.stderr)
            return 2
        if args.asset:
            views = [v for v in views if v.asset == args.asset]
    else:
        from cascade_tui.config import ConfigError, load_config
        from cascade_tui.runtime.redis_server import ENV_VAR

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"cascade-tui liqmap: error: {exc}", file=sys.stderr)
            return 2
        url = args.redis_url or os.environ.get(ENV_VAR, "").strip() or config.redis.url or DEFAULT_REDIS_URL
        prefix = config.redis.prefix if args.redis_prefix is None else args.redis_prefix
        try:
            views = maps_from_redis(url, prefix, args.asset)
        except Exception as exc:  # connection refused, auth, bad payload: say which
            from cascade_tui.runtime.redis_server import redact_url

            print(f"cascade-tui liqmap: error: reading {redact_url(url)}: {exc}", file=sys.stderr)
            return 1
    if not views:
        print(
            "cascade-tui liqmap: no liquidation map found (no open-interest changes seen yet?)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        from cascade_tui.redis_schema import liqmap_payload

        for view in views:
            sys.stdout.write(liqmap_payload(view).decode() + "\n")
    else:
        print("\n\n".join(table(view, args.range, args.step) for view in views))
    return 0
