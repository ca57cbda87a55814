"""Show a backtest report: rich tables for people, stable JSON for programs (`--json`)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

LEVEL_ORDER: tuple[str, ...] = ("WATCH", "WARNING", "CRITICAL")


def to_json(report: dict[str, Any]) -> str:
    """Sorted keys, no wall-clock values inside: equal runs give byte-equal output."""
    return json.dumps(report, sort_keys=True, indent=2, allow_nan=False, default=str)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _sec(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}s"


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def render(report: dict[str, Any], console: Console, headline: str = "WARNING") -> None:
    caps = report["captures"]
    span = sum(c["span_s"] for c in caps)
    flt = report["filter"]
    extras = []
    if flt["only_throttled"]:
        extras.append("only throttled venues")
    if flt["drop_venues"]:
        extras.append("without " + ", ".join(flt["drop_venues"]))
    rules = report["rules"]
    console.print(
        f"[bold]Backtest[/] {len(caps)} capture(s), {span / 3600:.2f} h of market, "
        f"{report['labels']['total']} labels ({report['labels']['unassigned']} outside every capture); "
        f"P={rules['pre_s']:g}s G={rules['grace_s']:g}s R={rules['refractory_s']:g}s floor={rules['floor']}"
        + (f"; [yellow]{'; '.join(extras)}[/]" if extras else "")
    )
    for cap in caps:
        if cap["error"]:
            console.print(f"[yellow]warning:[/] {cap['error']}")

    levels = Table(title="Event-based detection (per alarm level)", title_justify="left")
    for col in (
        "level",
        "alarms",
        "TP",
        "FP",
        "hit",
        "prec",
        "recall",
        "F1",
        "delay50",
        "delay90",
        "lead→peak",
        "FP/qday",
    ):
        levels.add_column(col, justify="right" if col != "level" else "left")
    for name in LEVEL_ORDER:
        m = report["levels"][name]
        style = "bold" if name == headline else ""
        levels.add_row(
            name,
            str(m["alarms"]),
            str(m["tp"]),
            str(m["fp"]),
            f"{m['detected']}/{m['labels']}",
            _pct(m["precision"]),
            _pct(m["recall"]),
            _num(m["f1"]),
            _sec(m["delay_s"]["median"]),
            _sec(m["delay_s"]["p90"]),
            _sec(m["lead_to_peak_s"]["median"]),
            _num(m["false_alarms_per_quiet_day"], 1),
            style=style,
        )
    console.print(levels)
    console.print(
        "[dim]hit = detected/labels at or above the floor; delay = first alarm - start (negative = early); "
        "lead→peak = peak - first alarm; FP/qday = false alarms per day of quiet market[/]"
    )
    console.print(
        "[dim]not counted in precision: "
        + ", ".join(
            f"{n} {report['levels'][n]['duplicate']} duplicate / {report['levels'][n]['late']} late / "
            f"{report['levels'][n]['dont_care']} don't-care"
            for n in LEVEL_ORDER
        )
        + "[/]"
    )

    sev = Table(title="By label severity (don't-care ones are informational)", title_justify="left")
    for col in ("level", "severity", "labels", "hit", "recall", "prec", "F1", "delay p50", "lead→peak"):
        sev.add_column(col, justify="left" if col in ("level", "severity") else "right")
    for name in LEVEL_ORDER:
        for severity, m in report["levels"][name]["by_severity"].items():
            label = severity + (" (dc)" if m["dont_care"] else "")
            sev.add_row(
                name,
                label,
                str(m["labels"]),
                str(m["detected"]),
                _pct(m["recall"]),
                _pct(m["precision"]),
                _num(m["f1"]),
                _sec(m["delay_s"]["median"]),
                _sec(m["lead_to_peak_s"]["median"]),
            )
    console.print(sev)

    cov = Table(
        title="By venue coverage (feeds that saw the labelled asset in the episode)", title_justify="left"
    )
    for col in ("level", "coverage", "labels", "hit", "recall", "delay p50", "delay p90"):
        cov.add_column(col, justify="left" if col in ("level", "coverage") else "right")
    for name in LEVEL_ORDER:
        for klass, m in report["levels"][name]["by_coverage"].items():
            cov.add_row(
                name,
                klass,
                str(m["labels"]),
                str(m["detected"]),
                _pct(m["recall"]),
                _sec(m["delay_s"]["median"]),
                _sec(m["delay_s"]["p90"]),
            )
    console.print(cov)

    sz = report.get("sizing") or {}
    if sz:
        console.print(
            "[bold]Sizing[/] (long BTC, engine/sizing.py): "
            f"hold {100 * sz['hold_return']:+.2f}% (max DD {100 * sz['hold_max_drawdown']:.2f}%) vs "
            f"sized {100 * sz['sized_return']:+.2f}% (max DD {100 * sz['sized_max_drawdown']:.2f}%); "
            f"drawdown avoided {100 * sz['drawdown_avoided']:.2f} pts, loss avoided {100 * sz['loss_avoided']:.2f}%, "
            f"opportunity lost {100 * sz['opportunity_lost']:.2f}%, mean exposure {sz['mean_exposure']:.2f}, "
            f"reduced {100 * sz['time_reduced_share']:.0f}% of the time"
        )
