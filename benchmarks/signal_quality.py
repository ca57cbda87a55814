"""Signal quality on held-apart, hard simulated markets (issue 11): one command, README tables.

The markets are the simulator's `bench` profile (lone whale prints, unlabelled 4–15-print
clusters, a busier background in volatile hours, two heavy-tailed print-size families, print
scales 100× apart, labelled minor and major cascades) seen through each venue's sampling:
Binance and OKX keep one liquidation per symbol per second, Bybit batches every 500 ms.
Seeds come from the held-apart ranges of `cascade_tui.sources.simulate.config.SEED_SETS`:
the README's figures are on TEST markets only, which nothing is ever tuned on; choose
settings with `--set validation`.

Per level (WATCH, WARNING, CRITICAL), with every label counted (minor cascades too, so an
alarm on a minor cascade is a true alarm and one on bait is a false one):
  - precision of alarms (episodes at that level or above);
  - recall of major and of minor cascades;
  - lag from the cascade's onset to the first alarm at that level, p50 / p90 (majors, minors);
  - false alarms per quiet day (time outside every label's window, bait included).
Plus WATCH alarms by the trigger that opened them (burst, score, near_cluster, breadth), and a
frontier: WARNING lag and precision over the main knob of the fast path.

    .venv/bin/python benchmarks/signal_quality.py                # test set, 12 × 6 h, frontier
    .venv/bin/python benchmarks/signal_quality.py --quick        # 3 × 1.5 h, 3 frontier points
    .venv/bin/python benchmarks/signal_quality.py --set validation --workdir /tmp/val
    .venv/bin/python benchmarks/signal_quality.py --write-readme # also refresh README's tables

Writes benchmarks/signal_quality.json and benchmarks/SIGNAL_QUALITY.md (the tables the
README quotes between its `signal-quality` markers) and prints the JSON on stdout.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from cascade_tui.backtest.evaluate import evaluate, match_capture
from cascade_tui.backtest.matching import MatchRules
from cascade_tui.backtest.offline import ParsedCapture, RegimeLog, replay_capture
from cascade_tui.capture import CaptureWriter
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal
from cascade_tui.labels import Label, market_seeds, read_labels, write_labels
from cascade_tui.sources.simulate import MarketSimulator
from cascade_tui.sources.simulate.config import SEED_SETS
from cascade_tui.stats_math import percentile

REPO = Path(__file__).resolve().parents[1]
PROFILE = "bench"
LEVELS = ("WATCH", "WARNING", "CRITICAL")
WARNING_LEVEL = 2
# markets per set: the test set is large enough that one false WARNING moves the rate by
# ~0.4 per quiet day (3 markets held 0.62 quiet days and 8 shock-first majors)
MARKETS_PER_SET = {"train": 6, "validation": 6, "test": 12}
QUICK_MARKETS = 3
HOURS = 6.0
QUICK_HOURS = 1.5
# The fast path's main knob (large prints needed to fire WARNING), with the values the
# frontier visits; engines without it fall back to the score threshold of WARNING.
KNOBS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("fast.large_prints", (2.0, 3.0, 4.0, 5.0, 6.0)),
    ("thresholds.warning", (0.40, 0.45, 0.50, 0.55, 0.60)),
)
README_BEGIN = "<!-- signal-quality:begin (benchmarks/signal_quality.py --write-readme) -->"
README_END = "<!-- signal-quality:end -->"


# ---------------------------------------------------------------------------- markets


def simulate_market(seed: int, hours: float, workdir: str) -> tuple[str, str, str]:
    """Write one labelled capture, its labels and its (unlabelled) bait; an existing set of
    the three files is reused as it is (same seed → byte-identical capture)."""
    stem = Path(workdir) / f"{PROFILE}-{seed}-{hours:g}h"
    cap, lab, bait = f"{stem}.cap.gz", f"{stem}.labels.jsonl", f"{stem}.bait.jsonl"
    if not all(Path(p).exists() for p in (cap, lab, bait)):
        sim = MarketSimulator(seed, profile=PROFILE)
        header = {"source": "simulate", "seed": seed, "profile": PROFILE, "duration_s": hours * 3600}
        with CaptureWriter(cap + ".tmp", header) as writer:
            for frame in sim.frames(hours * 3600.0):
                writer.write(frame)
        write_labels(sim.labels, lab)
        write_labels(sim.injected, bait)
        os.replace(cap + ".tmp", cap)
    return cap, lab, bait


# ---------------------------------------------------------------------------- engine runs


def with_knob(params: EngineParams, path: str, value: float) -> EngineParams:
    """`params` with one nested field (e.g. "fast.units_to_fire") set."""
    head, _, rest = path.partition(".")
    if not rest:
        return msgspec.structs.replace(params, **{head: type(getattr(params, head))(value)})
    return msgspec.structs.replace(params, **{head: with_knob(getattr(params, head), rest, value)})


def has_knob(params: object, path: str) -> bool:
    head, _, rest = path.partition(".")
    if not hasattr(params, head):
        return False
    return has_knob(getattr(params, head), rest) if rest else True


def knob_value(params: object, path: str) -> float:
    for part in path.split("."):
        params = getattr(params, part)
    return float(params)  # type: ignore[arg-type]


Run = tuple[list[ParsedCapture], list[list[Signal]], list[RegimeLog]]


def replay(job: tuple[str, str | None, float | None]) -> tuple[ParsedCapture, list[Signal], RegimeLog]:
    cap, knob, value = job
    params = EngineParams()
    if knob is not None and value is not None:
        params = with_knob(params, knob, value)
    regimes: RegimeLog = []
    parsed, signals = replay_capture(cap, params, regime_log=regimes)
    return parsed, signals, regimes


def run_all(pool: ProcessPoolExecutor, caps: Sequence[str], knob: str | None, value: float | None) -> Run:
    results = list(pool.map(replay, [(cap, knob, value) for cap in caps]))
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


# ---------------------------------------------------------------------------- figures


def level_figures(report: dict[str, Any], level: str) -> dict[str, Any]:
    lv = report["levels"][level]
    sev = lv["by_severity"]
    major, minor = sev.get("major", {}), sev.get("minor", {})

    def pick(group: dict[str, Any], key: str) -> Any:
        return group.get(key)

    def delay(group: dict[str, Any], q: str) -> float | None:
        return (group.get("delay_s") or {}).get(q)

    return {
        "level": level,
        "alarms": lv["alarms"],
        "true_alarms": lv["tp"],
        "false_alarms": lv["fp"],
        "precision": lv["precision"],
        "major_labels": pick(major, "labels") or 0,
        "major_detected": pick(major, "detected") or 0,
        "major_recall": pick(major, "recall"),
        "minor_labels": pick(minor, "labels") or 0,
        "minor_detected": pick(minor, "detected") or 0,
        "minor_recall": pick(minor, "recall"),
        "major_lag_p50_s": delay(major, "median"),
        "major_lag_p90_s": delay(major, "p90"),
        "minor_lag_p50_s": delay(minor, "median"),
        "minor_lag_p90_s": delay(minor, "p90"),
        "false_alarms_per_quiet_day": lv["false_alarms_per_quiet_day"],
        "quiet_days": lv["quiet_days"],
    }


def score(run: Run, labels: list[list[Label]], rules: MatchRules) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-level figures, and the position-sizing evaluation of the same run."""
    caps, signals, regimes = run
    report = evaluate(caps, signals, labels, rules, regime_paths=regimes)
    return {level: level_figures(report, level) for level in LEVELS}, report["sizing"]


def lag_by_onset(run: Run, labels: list[list[Label]], rules: MatchRules) -> dict[str, dict[str, Any]]:
    """WARNING lag of major cascades split by how they start: a price shock first (exogenous:
    the cascade is at speed within seconds) or a slow build-up (endogenous: its first prints
    look like the background for seconds to minutes, docs/detection-science.md §5.5).

    Beside each lag, when the cascade's side first becomes visible: the 1st and the 3rd
    liquidation of that asset and side *as the feeds deliver them* (receive time, after
    Bybit's 500 ms batches and the 1-per-second sampling of Binance and OKX) after the onset,
    which the labels date from the true prints. No detector can warn before the 1st, and a
    burst test that waits for several large prints not before the 3rd."""
    caps, signals, _ = run
    delays: dict[str, list[float]] = {"shock first": [], "slow build-up": []}
    visible: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in delays}
    counts = {k: [0, 0] for k in delays}  # detected, labels
    for cap, sigs, labs in zip(caps, signals, labels, strict=True):
        result = match_capture(cap, sigs, labs, WARNING_LEVEL, rules)
        seen: dict[tuple[str, str], list[float]] = {}
        for liq in cap.liquidations:
            seen.setdefault((liq.asset, liq.side), []).append(liq.ts)
        for times in seen.values():
            times.sort()
        for out in result.labels:
            if not out.counted or out.label.severity != "major":
                continue
            kind = "shock first" if out.label.exogenous else "slow build-up"
            counts[kind][1] += 1
            if out.detected and out.delay_s is not None:
                counts[kind][0] += 1
                delays[kind].append(out.delay_s)
            onset = out.label.onset_ts
            times = seen.get((out.label.asset, out.label.direction), [])
            first = bisect.bisect_left(times, onset)
            for nth, into in ((1, visible[kind][0]), (3, visible[kind][1])):
                if first + nth - 1 < len(times):
                    into.append(times[first + nth - 1] - onset)
    return {
        kind: {
            "detected": counts[kind][0],
            "labels": counts[kind][1],
            "lag_p50_s": percentile(d, 0.5),
            "lag_p90_s": percentile(d, 0.9),
            "first_visible_p50_s": percentile(visible[kind][0], 0.5),
            "third_visible_p50_s": percentile(visible[kind][1], 0.5),
        }
        for kind, d in delays.items()
    }


def watch_by_trigger(run: Run, labels: list[list[Label]], rules: MatchRules) -> dict[str, dict[str, int]]:
    """WATCH alarms (true and false, as the WATCH row counts them) by what opened them: the
    `why.trigger` of the signal that raised the asset and side to WATCH or more at the alarm's
    start (burst, score, near_cluster, breadth...). Says which trigger the noise comes from."""
    caps, signals, _ = run
    out: dict[str, dict[str, int]] = {}
    for cap, sigs, labs in zip(caps, signals, labels, strict=True):
        rising: dict[tuple[str, str], tuple[list[float], list[Signal]]] = {}
        for sig in sigs:
            if sig.level >= 1:
                times, kept = rising.setdefault((sig.asset, sig.direction), ([], []))
                times.append(sig.ts)
                kept.append(sig)
        for outcome in match_capture(cap, sigs, labs, 1, rules).alarms:
            if outcome.kind not in ("tp", "fp"):
                continue
            alarm = outcome.alarm
            times, kept = rising.get((alarm.asset, alarm.direction), ([], []))
            i = bisect.bisect_left(times, alarm.start - 1e-6)
            trigger = str(kept[i].why.get("trigger", "?")) if i < len(kept) else "?"
            row = out.setdefault(trigger, {"true": 0, "false": 0})
            row["true" if outcome.kind == "tp" else "false"] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["false"]))


BAIT_BEFORE_S = 5.0  # a false alarm this soon before a whale's or cluster's start is on it ...
BAIT_AFTER_S = 30.0  # ... or this long after its end
VOLSPIKE_AFTER_S = 60.0  # a volatility spike's aftermath
BAIT_NAMES = {
    "whale": "a lone whale print",
    "cluster-small": "a cluster of small prints",
    "cluster-medium": "a cluster of medium prints",
    "volspike": "a volatility spike",
    "background": "no bait: the background's own surges",
}


def false_by_bait(
    run: Run, labels: list[list[Label]], bait: list[list[Label]], rules: MatchRules
) -> dict[str, dict[str, int]]:
    """False WARNING and CRITICAL alarms by the unlabelled bait they fell on: a whale print or
    a cluster of the same asset (any asset for a market-wide "*" alarm) and direction around
    the alarm's start, else a volatility spike in force, else none ("background": the
    market's own flow). Says which trap the false alarms come from."""
    caps, signals, _ = run
    out: dict[str, dict[str, int]] = {}
    for level, name in ((2, "WARNING"), (3, "CRITICAL")):
        counts: dict[str, int] = {}
        for cap, sigs, labs, notes in zip(caps, signals, labels, bait, strict=True):
            for outcome in match_capture(cap, sigs, labs, level, rules).alarms:
                if outcome.kind != "fp":
                    continue
                a = outcome.alarm
                on = [
                    n for n in notes
                    if n.cls != "volspike" and a.asset in (n.asset, "*") and n.direction == a.direction
                    and n.start - BAIT_BEFORE_S <= a.start <= n.end + BAIT_AFTER_S
                ]  # fmt: skip
                spike = any(n.cls == "volspike" and n.start <= a.start <= n.end + VOLSPIKE_AFTER_S for n in notes)
                if on:
                    cls = min(on, key=lambda n: abs(n.start - a.start)).cls
                else:
                    cls = "volspike" if spike else "background"
                counts[cls] = counts.get(cls, 0) + 1
        out[name] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return out


# ---------------------------------------------------------------------------- markdown


def markdown_false_by_bait(by_bait: dict[str, dict[str, int]]) -> str:
    parts = [
        f"{level} {sum(v.values())} (" + ", ".join(f"{BAIT_NAMES.get(cls, cls)} {n}" for cls, n in v.items()) + ")"
        for level, v in by_bait.items()
        if v
    ]
    return "False alarms by what they fell on — " + "; ".join(parts) + "."


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def secs(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1000:.0f} ms" if abs(x) < 1.0 else f"{x:.1f} s"


def per_day(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def main_table(levels: dict[str, dict[str, Any]]) -> str:
    out = [
        "| level | precision | majors hit | minors hit | lag p50 / p90 (majors) | lag p50 / p90 (minors) "
        "| false alarms / quiet day |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in LEVELS:
        r = levels[name]
        out.append(
            f"| {name} | {pct(r['precision'])} ({r['true_alarms']}/{r['true_alarms'] + r['false_alarms']}) "
            f"| {pct(r['major_recall'])} ({r['major_detected']}/{r['major_labels']}) "
            f"| {pct(r['minor_recall'])} ({r['minor_detected']}/{r['minor_labels']}) "
            f"| {secs(r['major_lag_p50_s'])} / {secs(r['major_lag_p90_s'])} "
            f"| {secs(r['minor_lag_p50_s'])} / {secs(r['minor_lag_p90_s'])} "
            f"| {per_day(r['false_alarms_per_quiet_day'])} |"
        )
    return "\n".join(out)


def frontier_table(knob: str, shipped: float, points: list[dict[str, Any]]) -> str:
    out = [
        f"| `{knob}` | WARNING precision | majors hit | minors hit | lag p50 / p90 (majors) "
        "| false WARNING / quiet day |",
        "|---|---|---|---|---|---|",
    ]
    for p in points:
        w = p["WARNING"]
        mark = " (shipped)" if abs(p["value"] - shipped) < 1e-9 else ""
        out.append(
            f"| {p['value']:g}{mark} | {pct(w['precision'])} | {pct(w['major_recall'])} "
            f"| {pct(w['minor_recall'])} | {secs(w['major_lag_p50_s'])} / {secs(w['major_lag_p90_s'])} "
            f"| {per_day(w['false_alarms_per_quiet_day'])} |"
        )
    return "\n".join(out)


def markdown(result: dict[str, Any]) -> str:
    lv = result["levels"]
    bait = result["bait"]
    lines = [
        f"{result['markets']} `{PROFILE}` markets of {result['hours_each']:g} h ({result['set']} seeds "
        f"{', '.join(str(s) for s in result['seeds'])}; {result['market_hours']:g} h in all): "
        f"{lv['WARNING']['major_labels']} major and {lv['WARNING']['minor_labels']} minor labelled cascades "
        f"among {bait.get('whale', 0)} lone whale prints, "
        f"{bait.get('cluster-small', 0) + bait.get('cluster-medium', 0)} unlabelled short clusters and "
        f"{bait.get('volspike', 0)} volatility spikes; {lv['WARNING']['quiet_days']:.2f} quiet days. "
        f"Every label counts (an alarm on a minor cascade is true, one on bait is false); lag is "
        f"from the cascade's onset to the first alarm at that level or above.",
        "",
        main_table(lv),
        "",
        f"CRITICAL reached on {lv['CRITICAL']['major_detected']} of {lv['CRITICAL']['major_labels']} "
        f"majors ({pct(lv['CRITICAL']['major_recall'])}); minors reaching WATCH or higher: "
        f"{lv['WATCH']['minor_detected']} of {lv['WATCH']['minor_labels']}, WARNING or higher: "
        f"{lv['WARNING']['minor_detected']} of {lv['WARNING']['minor_labels']}.",
    ]
    triggers = result.get("watch_by_trigger") or {}
    if triggers:
        parts = [f"{name}: {v['true']} true, {v['false']} false" for name, v in triggers.items()]
        lines += ["", "WATCH alarms by the trigger that opened them — " + "; ".join(parts) + "."]
    by_bait = result.get("false_by_bait") or {}
    if any(by_bait.values()):
        lines += ["", markdown_false_by_bait(by_bait)]
    by_onset = result.get("warning_lag_by_onset") or {}
    if by_onset:
        parts = [
            f"{kind}: {v['detected']} of {v['labels']}, lag p50 {secs(v['lag_p50_s'])} / p90 {secs(v['lag_p90_s'])}"
            for kind, v in by_onset.items()
        ]
        lines += ["", "WARNING on major cascades by how they start — " + "; ".join(parts) + "."]
        if all(v.get("first_visible_p50_s") is not None for v in by_onset.values()):
            seen = [
                f"{kind}: 1st p50 {secs(v['first_visible_p50_s'])}, 3rd p50 {secs(v['third_visible_p50_s'])}"
                for kind, v in by_onset.items()
            ]
            lines += [
                "",
                "When the feeds first show a major cascade's side (its liquidations as delivered — Bybit's "
                "500 ms batches, the 1-per-second sampling of Binance and OKX — after the onset, which the "
                "labels date from the true prints): " + "; ".join(seen) + ". No detector can warn before "
                "the 1st; one that waits for a few large prints, not before the 3rd.",
            ]
    if result.get("frontier"):
        fr = result["frontier"]
        lines += [
            "",
            f"Frontier over `{fr['knob']}` (shipped {fr['shipped']:g}), same markets:",
            "",
            frontier_table(fr["knob"], fr["shipped"], fr["points"]),
        ]
    sz = result.get("sizing") or {}
    if sz:
        lines += [
            "",
            f"Position sizing (`engine/sizing.py`) on the same markets: a long BTC position sized by the "
            f"signals had a max drawdown of {100 * sz['sized_max_drawdown']:.1f} % against "
            f"{100 * sz['hold_max_drawdown']:.1f} % unsized, at a mean exposure of {sz['mean_exposure']:.2f}.",
        ]
    lines += [
        "",
        f"Engine replay and scoring took {result['wall_s']:.0f} s wall on {result['jobs']} process(es).",
    ]
    return "\n".join(lines) + "\n"


def write_readme(md: str) -> bool:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _m: f"{README_BEGIN}\n{md}{README_END}", text), encoding="utf-8")
    return True


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="test", choices=sorted(SEED_SETS), help="market seeds (default test)")
    ap.add_argument(
        "--quick", action="store_true", help=f"{QUICK_MARKETS} × {QUICK_HOURS:g} h, 3 frontier points"
    )
    ap.add_argument("--hours", type=float, default=None, help=f"hours per market (default {HOURS:g})")
    ap.add_argument(
        "--markets", type=int, default=None, help=f"markets (default per set: {MARKETS_PER_SET}; --quick {QUICK_MARKETS})"
    )
    ap.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the captures here")
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--knob", default=None, help="frontier knob, a dotted [engine] field (default: auto)")
    ap.add_argument("--values", default=None, help="frontier values, comma-separated")
    ap.add_argument("--no-frontier", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks", help="where the JSON and .md go")
    ap.add_argument("--write-readme", action="store_true", help="replace README's signal-quality tables")
    args = ap.parse_args(argv)
    hours = args.hours or (QUICK_HOURS if args.quick else HOURS)
    if args.write_readme and (
        args.set != "test" or args.quick or args.hours or args.markets or args.knob or args.values
    ):
        ap.error("--write-readme publishes the test set as shipped: no --quick, --hours, --markets, --knob, --values")
    markets = args.markets or (QUICK_MARKETS if args.quick else MARKETS_PER_SET[args.set])
    seeds = market_seeds(args.set, markets)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cascade-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rules = MatchRules(floor="minor")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        pairs = list(pool.map(simulate_market, seeds, [hours] * len(seeds), [str(workdir)] * len(seeds)))
        t_sim = time.perf_counter() - t0
        caps = [c for c, _, _ in pairs]
        labels = [read_labels(lab) for _, lab, _ in pairs]
        t1 = time.perf_counter()
        shipped_run = run_all(pool, caps, None, None)
        levels, sizing = score(shipped_run, labels, rules)
        by_onset = lag_by_onset(shipped_run, labels, rules)
        watch_triggers = watch_by_trigger(shipped_run, labels, rules)
        bait_notes = [read_labels(bait_file) for _, _, bait_file in pairs]
        false_bait = false_by_bait(shipped_run, labels, bait_notes, rules)
        defaults = EngineParams()
        knob = args.knob or next((k for k, _ in KNOBS if has_knob(defaults, k)), None)
        frontier: dict[str, Any] | None = None
        if knob is not None and not args.no_frontier:
            if not has_knob(defaults, knob):
                ap.error(f"--knob {knob}: no such engine parameter")
            shipped = knob_value(defaults, knob)
            values = (
                [float(v) for v in args.values.split(",")]
                if args.values
                else list(dict(KNOBS).get(knob, (shipped * 0.5, shipped, shipped * 2)))
            )
            if args.quick and not args.values:
                values = sorted({min(values), shipped, max(values)})
            points = []
            for value in sorted(set(values)):
                if abs(value - shipped) < 1e-9:
                    points.append({"value": value, **levels, "by_onset": by_onset})
                    continue
                run = run_all(pool, caps, knob, value)
                points.append({"value": value, **score(run, labels, rules)[0], "by_onset": lag_by_onset(run, labels, rules)})
            if not any(abs(p["value"] - shipped) < 1e-9 for p in points):
                points.append({"value": shipped, **levels, "by_onset": by_onset})
            frontier = {"knob": knob, "shipped": shipped, "points": sorted(points, key=lambda p: p["value"])}
    bait: dict[str, int] = {}
    for notes in bait_notes:
        for note in notes:
            bait[note.cls] = bait.get(note.cls, 0) + 1
    result: dict[str, Any] = {
        "benchmark": "signal_quality",
        "set": args.set,
        "profile": PROFILE,
        "seeds": seeds,
        "markets": len(seeds),
        "hours_each": hours,
        "market_hours": hours * len(seeds),
        "rules": dataclasses.asdict(rules),
        "bait": bait,
        "levels": levels,
        "warning_lag_by_onset": by_onset,
        "watch_by_trigger": watch_triggers,
        "false_by_bait": false_bait,
        "frontier": frontier,
        "sizing": sizing,
        "simulate_s": round(t_sim, 1),
        "wall_s": round(time.perf_counter() - t1, 1),
        "jobs": args.jobs,
    }
    md = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "signal_quality" if args.set == "test" else f"signal_quality_{args.set}"
    (args.out / f"{stem}.json").write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (args.out / f"{stem.upper()}.md").write_text(
        "# Signal quality on held-apart simulated markets\n\n" + md, encoding="utf-8"
    )
    if args.write_readme:
        if args.set != "test":
            ap.error("--write-readme publishes test-set figures only")
        if not write_readme(md):
            print("README has no signal-quality markers; tables not written there", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
