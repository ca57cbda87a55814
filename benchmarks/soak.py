"""Soak: a 24-hour-equivalent simulated market through the real program at full speed.

Runs `cascade-tui --demo --no-ui --speed 0 --duration <hours> --redis-url <local server>`
(the demo profile: volatility regimes that change every ~40 minutes and cascades of every
size) against a real redis-server, and samples from outside the process, every `--interval`
seconds of wall time: the process RSS, Redis `used_memory`, the Redis sink's queue depth and
drops (from `cascade:heartbeat`), the pipeline's stage latencies (from the
`performance:latency` hash: the last 4096 samples per stage), and the market time reached.

Writes benchmarks/soak.json (all samples) and benchmarks/soak_chart.txt (plotext charts),
and prints one JSON summary on stdout.

    .venv/bin/python benchmarks/soak.py [--hours 24] [--interval 2] [--seed 7]

Pass criteria (issue #8): flat memory — RSS and Redis used_memory in the last quarter of the
run within 10 % (+5 MB) of the second quarter; stable latency — the median sampled p99 of
each pipeline stage in the last quarter at most 2× that of the second quarter. (The first
quarter is warm-up: baselines, windows and the Redis stream fill up.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import plotext as plt
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.redis from a checkout

from tests.redis.server import RedisServer

HERE = Path(__file__).resolve().parent
MEMORY_TOLERANCE = 0.10
MEMORY_SLACK_MB = 5.0
LATENCY_TOLERANCE = 2.0
STAGES = ("parse", "engine", "signal", "redis")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # plotext colour codes: the chart file is plain text


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def sample(pid: int, client: redis.Redis, started: float, signals_path: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"wall_s": round(time.monotonic() - started, 2), "rss_mb": rss_mb(pid)}
    try:
        row["redis_used_mb"] = round(int(client.info("memory")["used_memory"]) / 1e6, 3)
        beat = client.get("cascade:heartbeat")
        latency = client.hgetall("performance:latency")
    except redis.RedisError as exc:
        row["redis_error"] = str(exc)
        return row
    if beat:
        hb = json.loads(beat)
        row["engine_ts"] = hb.get("engine_ts")
        row["events_total"] = hb.get("events_total")
        sink = hb.get("redis") or {}
        row["redis_queue"] = sink.get("queued")
        row["redis_drops"] = sum((sink.get("drops") or {}).values())
    for stage, raw in latency.items():
        view = json.loads(raw)
        row[f"p99_ms_{stage.decode()}"] = view.get("p99_ms")
        row[f"p50_ms_{stage.decode()}"] = view.get("p50_ms")
    try:
        with signals_path.open("rb") as fh:
            row["signal_lines"] = sum(1 for _ in fh)
    except OSError:
        pass
    return row


def quarter(rows: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    n = len(rows)
    return rows[index * n // 4 : (index + 1) * n // 4]


def values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def memory_verdict(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    early, late = values(quarter(rows, 1), key), values(quarter(rows, 3), key)
    if not early or not late:
        return {"flat": False, "why": f"not enough {key} samples"}
    early_max, late_max = max(early), max(late)
    limit = early_max * (1 + MEMORY_TOLERANCE) + MEMORY_SLACK_MB
    return {
        "second_quarter_max": round(early_max, 2),
        "last_quarter_max": round(late_max, 2),
        "limit": round(limit, 2),
        "flat": late_max <= limit,
    }


def latency_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage in STAGES:
        key = f"p99_ms_{stage}"
        early, late = values(quarter(rows, 1), key), values(quarter(rows, 3), key)
        if not early or not late:
            continue
        e, la = statistics.median(early), statistics.median(late)
        ratio = la / e if e > 0 else (1.0 if la == 0 else float("inf"))
        out[stage] = {
            "second_quarter_median_p99_ms": round(e, 4),
            "last_quarter_median_p99_ms": round(la, 4),
            "ratio": round(ratio, 3),
            "stable": ratio <= LATENCY_TOLERANCE,
        }
    return out


def draw(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    origin = next((r["engine_ts"] for r in rows if r.get("engine_ts")), 0.0)
    hours = [(r["engine_ts"] - origin) / 3600.0 if r.get("engine_ts") else None for r in rows]
    charts: list[str] = []

    def chart(series: list[tuple[str, str]], ylabel: str, name: str, log: bool = False) -> None:
        plt.clear_figure()
        plt.plotsize(100, 22)
        plt.theme("clear")
        if log:
            plt.yscale("log")  # stages differ by orders of magnitude
        for key, label in series:
            pts = [(h, r[key]) for h, r in zip(hours, rows, strict=True) if h is not None and r.get(key)]
            if pts:
                plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label)
        plt.title(f"{title}: {name}")
        plt.xlabel("market hours")
        plt.ylabel(ylabel)
        charts.append(ANSI.sub("", plt.build()))

    chart([("rss_mb", "process RSS"), ("redis_used_mb", "Redis used_memory")], "MB", "memory")
    chart([(f"p99_ms_{s}", f"{s} p99") for s in STAGES], "ms (log)", "latency p99 (last 4096 samples per stage)", log=True)
    chart([("redis_queue", "Redis sink queue")], "items", "queue depth")
    path.write_text("\n\n".join(charts) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="market hours to simulate")
    ap.add_argument("--interval", type=float, default=2.0, help="wall seconds between samples")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--out", type=Path, default=HERE / "soak.json")
    ap.add_argument("--chart", type=Path, default=HERE / "soak_chart.txt")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cascade-soak-"))
    signals_path, stats_path = work / "signals.jsonl", work / "stats.json"
    rows: list[dict[str, Any]] = []
    with RedisServer() as server:
        client = server.client()
        env = {**os.environ, "CASCADE_DATA_DIR": str(work / "data")}
        argv = [
            sys.executable, "-m", "cascade_tui.cli", "--demo", "--no-ui", "--speed", "0",
            "--seed", str(args.seed), "--profile", args.profile, "--duration", str(args.hours * 3600),
            "--redis-url", server.url, "--stats", str(stats_path),
        ]  # fmt: skip
        started = time.monotonic()
        with signals_path.open("wb") as out, (work / "stderr.txt").open("wb") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
            while proc.poll() is None:
                time.sleep(args.interval)
                if proc.poll() is None:
                    rows.append(sample(proc.pid, client, started, signals_path))
        wall = time.monotonic() - started
        used_final = round(int(client.info("memory")["used_memory"]) / 1e6, 3)
        stream_len = client.xlen("cascade:events")
        client.close()
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    mem = {"rss": memory_verdict(rows, "rss_mb"), "redis": memory_verdict(rows, "redis_used_mb")}
    lat = latency_verdict(rows)
    passed = (
        proc.returncode == 0
        and all(v.get("flat") for v in mem.values())
        and bool(lat)
        and all(v["stable"] for v in lat.values())
    )
    summary = {
        "benchmark": "soak",
        "python": platform.python_version(),
        "market_hours": args.hours,
        "profile": args.profile,
        "seed": args.seed,
        "exit_code": proc.returncode,
        "wall_s": round(wall, 1),
        "speedup": round(args.hours * 3600 / wall, 1) if wall > 0 else 0.0,
        "events": stats.get("events"),
        "frames": stats.get("frames"),
        "events_per_wall_s": stats.get("events_per_wall_s"),
        "signals": stats.get("signals"),
        "signal_transitions": stats.get("signal_transitions"),
        "peak_rss_mb": stats.get("peak_rss_mb"),
        "drops": stats.get("drops"),
        "redis_used_mb_final": used_final,
        "redis_stream_len": stream_len,
        "memory": mem,
        "latency": lat,
        "passed": passed,
        "samples": len(rows),
        "chart": str(args.chart.relative_to(HERE.parent)) if args.chart.is_relative_to(HERE.parent) else str(args.chart),
    }
    args.out.write_text(json.dumps({**summary, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    draw(rows, args.chart, f"soak {args.hours:g} h {args.profile} seed {args.seed}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
