"""The doctor's table: rich on a terminal, plain aligned text otherwise; NO_COLOR respected.

Both render the report document (report.py), never the live objects, so what is printed is
exactly what `--json` says.
"""

from __future__ import annotations

import os
from typing import IO, Any

from cascade_tui.doctor.report import label

COLUMNS = (
    "VENUE",
    "CHANNEL",
    "CONNECT",
    "GEO",
    "ACK",
    "FRAMES",
    "PARSED",
    "ERRORS",
    "CLOCK",
    "FIRST EVENTS / INSTRUMENTS",
)
KIND_ORDER = ("liquidation", "trade", "mark", "funding", "open_interest")


def _num(x: float) -> str:
    if x != x:  # NaN never reaches here (parsers validate), but a report is no place to crash
        return "nan"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.6g}"


def _usd(x: float) -> str:
    return f"${x:,.0f}" if abs(x) >= 100 else f"${x:,.2f}"


def event_text(kind: str, ev: dict[str, Any]) -> str:
    """One normalised event: side, base quantity and asset, USD."""
    asset = ev.get("asset", "?")
    if kind == "liquidation":
        return f"liq {ev['side']} {_num(ev['qty'])} {asset} {_usd(ev['usd'])} ({ev['instrument']})"
    if kind == "trade":
        return f"trade {ev['taker_side']} {_num(ev['qty'])} {asset} {_usd(ev['usd'])}"
    if kind == "mark":
        return f"mark {asset} {_num(ev['price'])}"
    if kind == "funding":
        return f"funding {asset} {ev['rate'] * 100:+.4f}%/{ev['interval_h']:g}h"
    if kind == "open_interest":
        usd = f" {_usd(ev['usd'])}" if ev.get("usd") else ""
        return f"OI {asset} {_num(ev['oi'])}{usd}"
    return kind


def clock_text(ms: float | None) -> str:
    if ms is None:
        return "-"
    if abs(ms) < 10_000:
        return f"{ms:+.0f} ms"
    return f"{ms / 1000:+.1f} s"


def geo_text(value: bool | None) -> str:
    return "BLOCKED" if value is True else ("no" if value is False else "?")


def metadata_text(meta: dict[str, Any]) -> str:
    if meta["source"] == "live":
        return f"{meta['instruments']} instruments (live)"
    if meta["origin"] == "none":
        return "no instrument table (fallback: built-in values)"
    return f"{meta['instruments']} instruments (fallback: {meta['origin']})"


def rows(report: dict[str, Any]) -> list[tuple[list[str], list[str]]]:
    """(cells, first-event lines) per row: a venue's instrument list, then each channel."""
    out: list[tuple[list[str], list[str]]] = []
    for venue, doc in report["venues"].items():
        meta = doc["metadata"]
        if doc["failure"] == "disabled":
            out.append(([venue, "-", "disabled", "?", "-", "-", "-", "-", "-"], [doc["detail"]]))
            continue
        if meta is not None:
            result = "ok" if meta["result"] == "ok" else label(meta["result"])
            geo = (
                True if meta["result"] == "blocked" else (False if meta["result"] in ("ok", "http") else None)
            )
            out.append(
                (
                    [venue, "instruments", result, geo_text(geo), "-", "-", "-", "-", "-"],
                    [metadata_text(meta)],
                )
            )
        for ch in doc["channels"]:
            first = [event_text(kind, ch["first"][kind]) for kind in KIND_ORDER if kind in ch["first"]]
            if not first and ch["connect"] == "ok" and ch["frames"] and not ch["parsed"]:
                first = ["(no frame parsed)"]
            errors = ch["parse_errors"] + ch["rejected"]
            cells = [
                venue,
                ch["channel"],
                label(ch["connect"]),
                geo_text(ch["geo_blocked"]),
                ch["subscribe_ack"],
                str(ch["frames"]),
                str(ch["parsed"]),
                str(errors),
                clock_text(ch["clock_offset_ms"]),
            ]
            out.append((cells, first or ["-"]))
    return out


def verdict_lines(report: dict[str, Any]) -> list[str]:
    n = len(report["venues"])
    took = f"{report['duration_s']:.1f} s"
    lines: list[str] = []
    if report.get("interrupted"):
        lines.append(f"Interrupted after {took}: the rows show what was seen until then.")
    if report["ok"]:
        lines.append(f"OK: {n} venue{'s' if n != 1 else ''} delivered parsed frames ({took}).")
    else:
        failed = len(report["failed"])
        lines.append(
            f"FAILED: {failed} of {n} venue{'s' if n != 1 else ''} delivered no parsed frame ({took})."
        )
        lines += [f"  {line}" for line in report["summary"]]
        lines += [f"Hint: {text}" for text in report["hints"]]
    if report["notes"]:
        lines.append("Notes:")
        lines += [f"  {note}" for note in report["notes"]]
    record = report.get("record")
    if record:
        if record["error"]:
            lines.append(f"Capture {record['path']}: {record['error']}")
        else:
            lines.append(
                f"Capture: {record['path']} ({record['frames']} frames); replay it with "
                f"cascade-tui --replay {record['path']}"
            )
    return lines


def render_plain(report: dict[str, Any], out: IO[str]) -> None:
    table = rows(report)
    head = list(COLUMNS[:-1])
    widths = [
        max(len(h), *(len(cells[i]) for cells, _ in table)) if table else len(h) for i, h in enumerate(head)
    ]
    indent = sum(widths) + 2 * len(widths)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    out.write(line(head) + "  " + COLUMNS[-1] + "\n")
    for cells, first in table:
        out.write(line(cells) + "  " + first[0] + "\n")
        for extra in first[1:]:
            out.write(" " * indent + extra + "\n")
    out.write("\n")
    for text in verdict_lines(report):
        out.write(text + "\n")


WIDE_TABLE_COLUMNS = 140  # narrower terminals get the first events below the table


def render_rich(
    report: dict[str, Any], out: IO[str], *, color: bool | None = None, width: int | None = None
) -> None:
    """The table for a terminal. On a terminal narrower than WIDE_TABLE_COLUMNS the last
    column moves below the table (one line per row), so no cell is cut."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    no_color = bool(os.environ.get("NO_COLOR")) if color is None else not color
    console = Console(file=out, force_terminal=True, no_color=no_color, highlight=False, width=width)
    wide = console.width >= WIDE_TABLE_COLUMNS
    columns = COLUMNS if wide else COLUMNS[:-1]
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    for name in columns:
        numeric = name in ("FRAMES", "PARSED", "ERRORS", "CLOCK")
        table.add_column(name, justify="right" if numeric else "left", no_wrap=name != COLUMNS[-1])

    def styled(text: str, good: bool, bad: bool) -> Text:
        return Text(text, style="green" if good else ("bold red" if bad else "yellow"))

    table_rows = rows(report)
    for cells, first in table_rows:
        connect, geo, ack = cells[2], cells[3], cells[4]
        row: list[Text | str] = [
            Text(cells[0], style="bold"),
            cells[1],
            styled(connect, connect == "ok", connect != "ok"),
            styled(geo, geo == "no", geo == "BLOCKED"),
            styled(ack, ack in ("yes", "n/a", "-"), ack == "refused"),
            cells[5],
            styled(cells[6], cells[6] != "0", False) if cells[6] != "-" else cells[6],
            styled(cells[7], cells[7] in ("0", "-"), False),
            cells[8],
        ]
        if wide:
            row.append("\n".join(first))
        table.add_row(*row)
    console.print(table)
    if not wide:
        console.print()
        console.print(Text(COLUMNS[-1], style="bold"))
        for cells, first in table_rows:
            if first != ["-"]:
                console.print(Text(f"{cells[0]} {cells[1]}: ", style="bold") + Text("; ".join(first)))
    console.print()
    for text in verdict_lines(report):
        style = "bold green" if text.startswith("OK") else ("bold red" if text.startswith("FAILED") else "")
        style = "yellow" if text.startswith("Hint:") else style
        console.print(Text(text, style=style))
