"""`cascade-tui doctor [--venues a,b] [--seconds N] [--json] [--record FILE]`.

Exit 0 only when every selected venue delivered at least one parsed frame; 1 otherwise
(with one line per failed venue and a hint); 2 on bad arguments or config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from cascade_tui.cli_support import BadArguments, fail, parse_args_or_code
from cascade_tui.config import ConfigError, load_config
from cascade_tui.doctor.probe import Doctor, DoctorOptions
from cascade_tui.doctor.render import render_plain, render_rich
from cascade_tui.doctor.report import build_report
from cascade_tui.feeds import venue_ids
from cascade_tui.feeds.connection import ConnectionOptions


def doctor_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui doctor",
        description="Connect to each venue for a while and report what works: DNS/TLS/connect, "
        "subscription, frames, parsing, the first events, the venue clock, geo-blocks, instrument lists.",
        epilog="Exit 0 when every venue delivered at least one parsed frame, else 1.",
    )
    p.add_argument(
        "--venues", metavar="A,B", help=f"comma-separated venues (default all: {','.join(venue_ids())})"
    )
    p.add_argument(
        "--seconds", type=float, default=30.0, metavar="N",
        help="longest time to listen (default 30; ends early once every channel has answered)",
    )  # fmt: skip
    p.add_argument("--symbols", metavar="A,B", help="base assets for trades/OI/funding (default from config)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (for bug reports)")
    p.add_argument("--record", metavar="FILE", help="also write everything received to a capture file")
    p.add_argument("--config", metavar="FILE", help="settings TOML")
    p.add_argument("--verbose", action="store_true", help="log connection details on stderr")
    return p


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def options_from_args(args: argparse.Namespace) -> DoctorOptions:
    venues = _csv(args.venues) or list(venue_ids())
    unknown = [v for v in venues if v not in venue_ids()]
    if unknown:
        raise BadArguments(
            f"--venues: unknown venue(s) {', '.join(unknown)}; known: {', '.join(venue_ids())}"
        )
    if not args.seconds > 0 or args.seconds > 3600:
        raise BadArguments(f"--seconds must be > 0 and <= 3600, not {args.seconds:g}")
    if args.record:
        _check_writable(Path(args.record))
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise BadArguments(str(exc)) from None
    symbols = _csv(args.symbols)
    return DoctorOptions(
        venues=venues,
        seconds=args.seconds,
        config=config.venues,
        symbols=[s.upper() for s in symbols] if symbols else None,
        record=args.record,
        quiet_s=min(10.0, args.seconds / 3.0),
        metadata_timeout_s=max(2.0, min(8.0, args.seconds / 3.0)),
    )


def _check_writable(path: Path) -> None:
    """--record fails before the run, naming the path, not after it; the folder is never
    created (the rule of the main command's --record)."""
    if path.is_dir():
        raise BadArguments(f"--record: {path} is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise BadArguments(f"--record: folder {folder} does not exist (create it first): {path}")
    if not os.access(folder, os.W_OK):
        raise BadArguments(f"--record: folder {folder} is not writable: {path}")


def main_doctor(
    argv: list[str],
    *,
    connection_options: ConnectionOptions | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    out: IO[str] | None = None,
    tty: bool | None = None,
) -> int:
    """The command. Tests point it at local servers with `connection_options.url_rewrite`
    and an `http_transport` that answers the REST requests."""
    out = out or sys.stdout
    parser = doctor_parser()
    args = parse_args_or_code(parser, argv)
    if isinstance(args, int):  # --help, or argparse already printed the error
        return args
    with _stderr_logging(logging.INFO if args.verbose else logging.ERROR):
        return _run(args, connection_options, http_transport, out, tty)


@contextlib.contextmanager
def _stderr_logging(level: int) -> Iterator[None]:
    """Log to stderr at `level` while the command runs; the caller's logging is put back
    after (the command is also called in-process, by tests and scripts)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(level)
    try:
        yield
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)


def _run(
    args: argparse.Namespace,
    connection_options: ConnectionOptions | None,
    http_transport: httpx.AsyncBaseTransport | None,
    out: IO[str],
    tty: bool | None,
) -> int:
    try:
        options = options_from_args(args)
    except BadArguments as exc:
        return fail("doctor", str(exc))
    options.connection_options = connection_options
    options.http_transport = http_transport
    interactive = out.isatty() if tty is None else tty
    if interactive and not args.json:
        print(
            f"Checking {len(options.venues)} venue(s) for up to {options.seconds:g} s "
            "(stops early once every channel has answered)...",
            file=sys.stderr,
        )
    try:
        run = asyncio.run(Doctor(options).run())
    except KeyboardInterrupt:
        return 130
    report = build_report(run, quiet_s=options.quiet_s, give_up_after=options.give_up_after)
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
    elif interactive:
        render_rich(report, out)
    else:
        render_plain(report, out)
    out.flush()
    return int(report["exit_code"])
