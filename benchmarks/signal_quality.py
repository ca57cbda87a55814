"""Signal quality on held-apart simulated markets, through the real command line.

Builds labelled captures with `cascade-tui simulate` on three disjoint seed sets — training,
validation and test — optionally tunes on training + validation (`cascade-tui tune`), then
scores the default settings (and the tuned ones) with `cascade-tui backtest` on the TEST set
only, which neither the defaults nor the tuner ever saw. Prints one JSON object and writes
benchmarks/SIGNAL_QUALITY.md (the README's table).

    .venv/bin/python benchmarks/signal_quality.py [--tune] [--workdir DIR] [--hours-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (name, profile, seed, hours): the test set mixes an eventful market, a realistic day and a
# quiet stretch (false alarms per quiet day). Seeds never overlap between sets.
TEST = [
    ("test-demo-1", "demo", 301, 2.0),
    ("test-demo-2", "demo", 302, 2.0),
    ("test-demo-3", "demo", 303, 2.0),
    ("test-realistic", "realistic", 304, 12.0),
    ("test-quiet", "quiet", 305, 6.0),
]
TRAIN = [("train-demo-1", "demo", 101, 2.0), ("train-demo-2", "demo", 102, 2.0), ("train-quiet", "quiet", 103, 4.0)]
VALIDATE = [("val-demo-1", "demo", 201, 2.0), ("val-demo-2", "demo", 202, 2.0), ("val-quiet", "quiet", 203, 4.0)]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "cascade_tui.cli", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"cascade-tui {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc


def simulate(workdir: Path, sets: list[tuple[str, str, int, float]], scale: float) -> tuple[list[str], list[str]]:
    caps, labels = [], []
    for name, profile, seed, hours in sets:
        cap, lab = workdir / f"{name}.cap.gz", workdir / f"{name}.labels.jsonl"
        if not cap.exists():
            cli("simulate", "--seed", str(seed), "--duration", str(hours * 3600 * scale), "--profile", profile,
                "--out", str(cap), "--labels", str(lab))  # fmt: skip
        caps.append(str(cap))
        labels.append(str(lab))
    return caps, labels


def backtest(caps: list[str], labels: list[str], config: str | None = None) -> dict:
    args = ["backtest", *caps, "--labels", *labels, "--json"]
    if config:
        args += ["--config", config]
    return json.loads(cli(*args).stdout)


def row(level: str, rep: dict) -> dict:
    lv = rep["levels"][level]
    major = lv["by_severity"].get("major", {})
    return {
        "level": level,
        "precision": lv["precision"],
        "recall": lv["recall"],
        "f1": lv["f1"],
        "delay_p50_s": lv["delay_s"]["median"],
        "delay_p90_s": lv["delay_s"]["p90"],
        "lead_to_peak_p50_s": lv["lead_to_peak_s"]["median"],
        "false_per_quiet_day": lv["false_alarms_per_quiet_day"],
        "labels": lv["labels"],
        "detected": lv["detected"],
        "alarms": lv["alarms"],
        "major_recall": major.get("recall"),
    }


def fmt(x: float | None, kind: str) -> str:
    if x is None:
        return "—"
    if kind == "pct":
        return f"{100 * x:.0f} %"
    if kind == "s":
        return f"{x:+.1f} s"
    return f"{x:.2f}"


def table(rows: list[dict]) -> str:
    out = [
        "| level | precision | recall | F1 | detection lag p50 / p90 | lead to peak p50 | false alarms / quiet day | labels hit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['level']} | {fmt(r['precision'], 'pct')} | {fmt(r['recall'], 'pct')} | {fmt(r['f1'], 'x')} | "
            f"{fmt(r['delay_p50_s'], 's')} / {fmt(r['delay_p90_s'], 's')} | {fmt(r['lead_to_peak_p50_s'], 's')} | "
            f"{r['false_per_quiet_day']:.1f} | {r['detected']}/{r['labels']} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="also tune on train/validation and score the tuned config")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--hours-scale", type=float, default=1.0, help="shrink every market for a quick look")
    ap.add_argument("--trials", type=int, default=24)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cascade-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    test_caps, test_labels = simulate(workdir, TEST, args.hours_scale)
    default = backtest(test_caps, test_labels)
    result: dict = {
        "benchmark": "signal_quality",
        "test_set": [f"{p} seed {s} {h * args.hours_scale:g} h" for _, p, s, h in TEST],
        "market_hours": sum(h for *_, h in TEST) * args.hours_scale,
        "default": [row(level, default) for level in ("WATCH", "WARNING", "CRITICAL")],
        "rules": default["rules"],
        "sizing": default.get("sizing"),
    }
    md = [
        "# Signal quality on held-apart simulated markets",
        "",
        f"Test set (never used to choose settings): {', '.join(result['test_set'])}; "
        f"{result['market_hours']:g} h of market. Matching: pre-window {default['rules']['pre_s']:g} s, "
        f"grace {default['rules']['grace_s']:g} s, floor {default['rules']['floor']} (minor cascades are don't-care).",
        "",
        "Shipped defaults:",
        "",
        table(result["default"]),
    ]
    if args.tune:
        train_caps, train_labels = simulate(workdir, TRAIN, args.hours_scale)
        val_caps, val_labels = simulate(workdir, VALIDATE, args.hours_scale)
        tuned_cfg = workdir / "tuned.toml"
        tune = cli("tune", "--train", *train_caps, "--train-labels", *train_labels, "--validate", *val_caps,
                   "--validate-labels", *val_labels, "--out", str(tuned_cfg), "--trials", str(args.trials), "--json")  # fmt: skip
        result["tune"] = json.loads(tune.stdout)
        result["tuned_config"] = tuned_cfg.read_text()
        tuned = backtest(test_caps, test_labels, str(tuned_cfg))
        result["tuned"] = [row(level, tuned) for level in ("WATCH", "WARNING", "CRITICAL")]
        md += ["", "Tuned on the training set, chosen on the validation set:", "", table(result["tuned"])]
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    (REPO / "benchmarks" / "SIGNAL_QUALITY.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
