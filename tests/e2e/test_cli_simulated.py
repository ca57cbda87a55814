"""End to end through the real command line on the simulated market."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def signal_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


SIGNAL_FIELDS = {
    "v", "ts", "asset", "level", "level_name", "state", "episode", "score",
    "components", "direction", "venues", "regime", "why",
}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("sim")
    cap, labels = d / "m.cap.gz", d / "m.labels.jsonl"
    proc = run_cli(
        "simulate", "--seed", "11", "--duration", "2400", "--profile", "demo",
        "--out", str(cap), "--labels", str(labels),
    )
    assert proc.returncode == 0, proc.stderr
    return cap, labels


def test_demo_headless_prints_signals_and_stats(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = run_cli(
        "--demo", "--no-ui", "--duration", "1800", "--speed", "0", "--redis-url", "off", "--stats", str(stats)
    )
    assert proc.returncode == 0, proc.stderr
    lines = signal_lines(proc.stdout)
    assert lines, "an eventful demo half hour must raise signals"
    for line in lines:
        assert set(line) >= SIGNAL_FIELDS
        assert line["v"] == 1
        assert line["level_name"] == ("NONE", "WATCH", "WARNING", "CRITICAL")[line["level"]]
        assert line["state"] in {"open", "escalate", "deescalate", "close"}
        assert line["direction"] in {"long", "short"}
    s = json.loads(stats.read_text())
    for key in ("v", "duration_s", "events_per_s", "peak_rss_mb", "venues", "drops", "signals", "latency_ms"):
        assert key in s
    assert 1790 <= s["duration_s"] <= 1800
    assert {"binance", "bybit", "okx"} <= set(s["venues"])
    for v in ("binance", "bybit", "okx"):
        assert s["venues"][v]["parse_errors"] == 0
        assert s["venues"][v]["frames"] > 0


def test_injected_cascades_are_detected(simulated: tuple[Path, Path]) -> None:
    cap, labels_path = simulated
    proc = run_cli("--replay", str(cap), "--no-ui", "--redis-url", "off")
    assert proc.returncode == 0, proc.stderr
    lines = signal_lines(proc.stdout)
    labels = [json.loads(x) for x in labels_path.read_text().splitlines() if x.strip()]
    major = [lb for lb in labels if lb["severity"] == "major" and lb["asset"] != "*"]
    assert major, "the demo profile injects moderate-or-larger cascades within 40 minutes"
    opened = [ln for ln in lines if ln["state"] in ("open", "escalate") and ln["level"] >= 2]
    hits = 0
    for lb in major:
        if any(
            (ln["asset"] == lb["asset"] or ln["asset"] == "*")
            and lb["start"] - 30 <= ln["ts"] <= lb["end"] + 120
            and ln["direction"] == lb["direction"]
            for ln in opened
        ):
            hits += 1
    assert hits / len(major) >= 0.7, (hits, len(major))


def test_replay_is_byte_identical_as_fast_as_possible_and_paced(simulated: tuple[Path, Path]) -> None:
    """Speed 0 (no pacing) and a paced replay (40 min of market at x600, about 4 s) give the
    same signal lines: the engine's clock is the capture's, never the wall clock."""
    cap, _ = simulated
    fast = run_cli("--replay", str(cap), "--no-ui", "--redis-url", "off", "--speed", "0")
    again = run_cli("--replay", str(cap), "--no-ui", "--redis-url", "off", "--speed", "0")
    paced = run_cli("--replay", str(cap), "--no-ui", "--redis-url", "off", "--speed", "600")
    assert fast.returncode == again.returncode == paced.returncode == 0, paced.stderr
    assert signal_lines(fast.stdout), "the capture should raise signals"
    assert fast.stdout == again.stdout == paced.stdout


def test_quiet_market_raises_no_critical(tmp_path: Path) -> None:
    proc = run_cli(
        "--demo", "--profile", "quiet", "--no-ui", "--duration", "3600", "--speed", "0", "--redis-url", "off",
    )
    assert proc.returncode == 0, proc.stderr
    assert not [ln for ln in signal_lines(proc.stdout) if ln["level"] == 3]


def test_bad_arguments_exit_2_with_a_message(tmp_path: Path) -> None:
    proc = run_cli("--replay", str(tmp_path / "missing.cap.gz"), "--no-ui")
    assert proc.returncode == 2
    assert "missing.cap.gz" in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[engine.thresholds]\nwarning = 'x'\n")
    proc = run_cli("--demo", "--no-ui", "--config", str(bad))
    assert proc.returncode == 2
    assert "bad.toml:2: engine.thresholds.warning" in proc.stderr


def test_demo_opens_with_a_warning_within_a_minute_and_a_critical_within_five() -> None:
    from cascade_tui.sources.simulate import MarketSimulator

    start = MarketSimulator(7).start_ts  # the demo's default seed and start
    proc = run_cli(
        "--demo", "--no-ui", "--duration", "330", "--speed", "0", "--redis-url", "off", "--history-url", "off"
    )
    assert proc.returncode == 0, proc.stderr
    lines = signal_lines(proc.stdout)
    first = {}
    for ln in lines:
        for level in range(1, ln["level"] + 1):
            first.setdefault(level, ln["ts"] - start)
    assert first.get(2, 1e9) <= 60.0, first
    assert first.get(3, 1e9) <= 300.0, first


def test_unknown_profile_exits_2_naming_the_profiles(tmp_path: Path) -> None:
    for args in (
        ("--demo", "--profile", "nosuch", "--no-ui"),
        ("simulate", "--seed", "1", "--duration", "10", "--profile", "nosuch",
         "--out", str(tmp_path / "x.cap.gz"), "--labels", str(tmp_path / "x.labels")),
    ):  # fmt: skip
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "unknown profile 'nosuch'" in proc.stderr
        assert "demo, bench, realistic, quiet, volspike, whale" in proc.stderr


def test_simulate_default_profile_labels_an_hour_and_keeps_stdout_clean(tmp_path: Path) -> None:
    cap, labels = tmp_path / "h.cap.gz", tmp_path / "h.labels.jsonl"
    proc = run_cli("simulate", "--seed", "1", "--duration", "3600", "--out", str(cap), "--labels", str(labels))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # no progress bar off a terminal, and never on stdout
    rows = [json.loads(x) for x in labels.read_text().splitlines() if x.strip()]
    assert rows and all(r["severity"] in ("minor", "major") for r in rows)


def test_evicted_assets_are_counted_in_stats(tmp_path: Path) -> None:
    """Issue 12 row 8: per-asset state is bounded (`[engine] max_assets`), and what the bound
    evicts reaches --stats instead of vanishing."""
    config = tmp_path / "small.toml"
    config.write_text("[engine]\nmax_assets = 2\n")
    stats = tmp_path / "stats.json"
    proc = run_cli(
        "--demo", "--no-ui", "--duration", "120", "--speed", "0", "--redis-url", "off",
        "--config", str(config), "--stats", str(stats),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    drops = json.loads(stats.read_text())["drops"]
    assert drops["engine:evicted_assets"] > 0
