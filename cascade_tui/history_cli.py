"""`cascade-tui history`: the last signals and per-day totals from the history database."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from cascade_tui.cli_support import (
    BadArguments,
    config_from,
    report_console,
    run_subcommand,
)
from cascade_tui.sinks.history import default_history_path
from cascade_tui.sinks.history_db import read_history


def history_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cascade-tui history", description="Last signals and totals per day.")
    p.add_argument(
        "--last", type=int, default=20, metavar="N", help="how many recent signals to show (default 20)"
    )
    p.add_argument("--days", type=int, default=7, metavar="N", help="days of totals (default 7)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument(
        "--history-url",
        metavar="URL",
        help="postgresql://… or sqlite:///path (default: [history] url, else the SQLite file "
        "in the data dir)",
    )
    p.add_argument("--config", metavar="FILE", help="settings file ([history] url)")
    return p


def main_history(argv: list[str]) -> int:
    return run_subcommand("history", history_parser(), _run_history, argv)


def _run_history(args: argparse.Namespace) -> int:

    if args.last < 0 or args.days < 1:
        raise BadArguments("--last must be >= 0 and --days >= 1")
    url = args.history_url if args.history_url is not None else config_from(args.config).history.url
    if url == "off":
        raise BadArguments('history is off ([history] url = "off"); give --history-url')
    try:
        data: dict[str, Any] = read_history(url, default_history_path(), args.last, args.days)
    except FileNotFoundError as exc:
        raise BadArguments(str(exc)) from None
    except Exception as exc:  # database errors: name them, do not dump a traceback
        raise BadArguments(f"cannot read history ({type(exc).__name__}: {exc})") from None
    if args.json:
        sys.stdout.write(json.dumps({"v": 1, **data}, sort_keys=True, indent=2) + "\n")
        return 0
    console = report_console()
    console.print(f"[bold]History[/] {data['source']}")
    sigs = Table(title=f"Last {len(data['signals'])} signal transitions", title_justify="left")
    for col in ("time (UTC)", "asset", "level", "state", "direction", "score", "regime"):
        sigs.add_column(col)
    for s in data["signals"]:
        when = datetime.fromtimestamp(s["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        sigs.add_row(
            when,
            s["asset"],
            s["level_name"],
            s["state"],
            s["direction"] or "",
            f"{s['score']:.2f}" if s["score"] is not None else "—",
            s["regime"] or "",
        )
    console.print(sigs)
    days = Table(title=f"Per day (the {args.days} days up to the newest record)", title_justify="left")
    for col in ("day", "WATCH", "WARNING", "CRITICAL", "liquidations", "long USD", "short USD"):
        days.add_column(col, justify="left" if col == "day" else "right")
    for d in data["days"]:
        days.add_row(
            d["day"],
            str(d["WATCH"]),
            str(d["WARNING"]),
            str(d["CRITICAL"]),
            str(d["liquidations"]),
            f"{d['long_usd']:,.0f}",
            f"{d['short_usd']:,.0f}",
        )
    console.print(days)
    return 0
