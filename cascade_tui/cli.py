"""Command line (docs/DESIGN.md §5). `--no-ui` never imports textual.

Exit codes: 0 on a clean run or an interrupt, 2 on bad arguments or config (the message
names what is wrong), 1 on an unexpected failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cascade_tui import __version__
from cascade_tui.config import Config, ConfigError, load_config
from cascade_tui.feeds import venue_ids
from cascade_tui.model import RawFrame
from cascade_tui.paths import data_dir

log = logging.getLogger("cascade_tui")

SUBCOMMANDS = ("simulate", "backtest", "tune", "history", "liqmap", "doctor")


class UsageError(Exception):
    """Bad arguments: printed as `cascade-tui: error: ...`, exit 2."""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _nonneg(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value!r}")
    return x


def _positive(value: str) -> float:
    x = _nonneg(value)
    if x == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return x


def main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui",
        description="Watch crypto liquidation feeds, score liquidation-cascade risk, raise signals.",
        epilog="Subcommands: cascade-tui simulate|backtest|tune|history|liqmap|doctor --help",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--demo", action="store_true", help="simulated market (no network needed)")
    mode.add_argument("--replay", nargs="+", metavar="FILE", help="replay capture file(s)")
    mode.add_argument(
        "--source", choices=("live", "demo", "replay", "redis"), help="where events come from (default live)"
    )
    p.add_argument("--no-ui", action="store_true", help="headless: signals as JSON lines on stdout")
    p.add_argument(
        "--speed", type=_nonneg, default=None, help="demo/replay speed; 0 = as fast as possible "
        "(default 1; replays with --no-ui default to 0)",
    )
    p.add_argument("--seed", type=int, default=7, help="demo market seed (default 7)")
    p.add_argument(
        "--profile",
        default="demo",
        help="demo market profile: demo, bench, realistic, quiet, volspike, whale, mechanistic",
    )
    p.add_argument("--venues", type=_csv, help=f"comma-separated venues: {','.join(venue_ids())}")
    p.add_argument("--symbols", type=_csv, help="comma-separated base assets, e.g. BTC,ETH")
    p.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds of market time")
    p.add_argument("--record", metavar="FILE", help="record raw frames to a capture file")
    p.add_argument("--stats", metavar="FILE", help="write a JSON summary at exit")
    p.add_argument("--redis-url", metavar="URL", help="redis://… | rediss://… | off (default: auto)")
    p.add_argument("--redis-prefix", metavar="PREFIX", help="key namespace (default from config)")
    p.add_argument("--redis-from", default="$", metavar="ID", help="--source redis: stream id to start at")
    p.add_argument(
        "--history-url", metavar="URL",
        help="history store: sqlite:///path, postgresql://…, off (default: SQLite in the data dir for live runs)",
    )
    p.add_argument("--config", metavar="FILE", help="settings TOML")
    p.add_argument("--theme", metavar="NAME", help="colour theme")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument("--version", action="version", version=f"cascade-tui {__version__}")
    return p


def simulate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cascade-tui simulate", description="Write a labelled synthetic capture.")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--duration", type=_positive, required=True, metavar="S", help="seconds of market time")
    p.add_argument("--out", required=True, metavar="CAP", help="capture file to write (.cap.gz)")
    p.add_argument("--labels", required=True, metavar="FILE", help="labels file to write (JSON lines)")
    p.add_argument(
        "--profile",
        default="bench",
        help="bench (default: cascades among bait), demo, realistic, quiet, volspike, whale, mechanistic",
    )
    p.add_argument(
        "--mechanistic", action="store_true",
        help="the position-book market: cascades arise from leveraged positions (= --profile mechanistic)",
    )
    p.add_argument("--start-ts", type=float, default=None, help="market start, epoch seconds")
    return p


def _setup_logging(level: str, to_file: bool) -> Path | None:
    handlers: list[logging.Handler]
    path: Path | None = None
    if to_file:
        # the dashboard owns the terminal: logs go to a file instead of stderr
        path = data_dir() / "cascade-tui.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(path, encoding="utf-8")]
    else:
        handlers = [logging.StreamHandler(sys.stderr)]
    from cascade_tui.runtime.logs import install

    install(handlers, getattr(logging, level))  # secrets masked, control characters escaped
    return path


def options_from_args(args: argparse.Namespace, config: Config):  # -> RunOptions
    from cascade_tui.runtime.options import RunOptions

    if args.demo:
        source = "demo"
    elif args.replay:
        source = "replay"
    else:
        source = args.source or "live"
    if source == "replay" and not args.replay:
        raise UsageError("--source replay needs --replay FILE")
    if source == "demo":
        _check_profile(args.profile)
    if args.venues:
        unknown = [v for v in args.venues if v not in venue_ids()]
        if unknown:
            raise UsageError(f"--venues: unknown venue(s) {', '.join(unknown)}; known: {', '.join(venue_ids())}")
    for path in args.replay or []:
        if Path(path).is_dir():
            raise UsageError(f"--replay: {path} is a directory, not a capture file")
        if not Path(path).is_file():
            raise UsageError(f"--replay: no such file: {path}")
    _check_output_path(args.record, "--record")
    _check_output_path(args.stats, "--stats")
    speed = args.speed
    if speed is None:
        speed = 0.0 if (source == "replay" and args.no_ui) else 1.0
    redis_url = args.redis_url
    _check_redis_urls(redis_url, config)
    symbols = _check_symbols(args.symbols, source)
    if args.history_url is not None:
        _check_history_url(args.history_url, "--history-url")
    if args.theme is not None and not args.no_ui:
        _check_theme(args.theme)
    return RunOptions(
        source=source,
        replay=list(args.replay or []),
        speed=speed,
        seed=args.seed,
        profile=args.profile,
        venues=args.venues,
        symbols=symbols,
        duration_s=args.duration,
        record=args.record,
        stats=args.stats,
        redis_url=redis_url,
        redis_prefix=args.redis_prefix,
        redis_from=args.redis_from,
        history_url=args.history_url,
        no_ui=args.no_ui,
        theme=args.theme,
        config=config,
        config_path=args.config,
    )


def _check_profile(name: str) -> None:
    from cascade_tui.sources.simulate.config import check_profile

    try:
        check_profile(name)
    except ValueError as exc:
        raise UsageError(f"--profile: {exc}") from None


def _check_output_path(path: str | None, option: str) -> None:
    """An output file must go into a folder that exists and can be written: a typo should fail
    now, naming the path, not after an hour of recording (the folder is never created)."""
    if not path:
        return
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise UsageError(f"{option}: {path} is a directory; give a file name")
    if not folder.is_dir():
        raise UsageError(f"{option}: folder {folder} does not exist (create it first): {path}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option}: folder {folder} is not writable: {path}")


def _check_redis_urls(option: str | None, config: Config) -> None:
    """A malformed Redis URL is a usage error (exit 2), whichever place it came from."""
    import os

    from cascade_tui.runtime.redis_server import ENV_VAR, RedisUrlError, check_url

    candidates = [(option, "--redis-url"), (os.environ.get(ENV_VAR), ENV_VAR), (config.redis.url, "redis.url")]
    for value, origin in candidates:
        if value and value.strip() and value.strip().lower() != "off":
            try:
                check_url(value.strip(), origin)
            except RedisUrlError as exc:
                raise UsageError(str(exc)) from None


SYMBOL_FORM = re.compile(r"[A-Z0-9]{1,20}")


def _check_symbols(values: list[str] | None, source: str) -> list[str] | None:
    """Base assets, upper-cased. A value that cannot be an asset id (BTC-USD, btc/usdt) is a
    usage error; so is an asset the simulated market does not have (its list is fixed). For
    live, replay and Redis an asset missing from the shipped instrument tables only warns:
    venues list new assets all the time, and a capture may hold others."""
    if not values:
        return None
    symbols = [v.upper() for v in values]
    bad = [v for v in symbols if not SYMBOL_FORM.fullmatch(v)]
    if bad:
        raise UsageError(f"--symbols: {', '.join(bad)} is not a base asset (give names like BTC,ETH)")
    if source == "demo":
        from cascade_tui.sources.simulate import ASSET_NAMES

        unknown = [v for v in symbols if v not in ASSET_NAMES]
        if unknown:
            raise UsageError(
                f"--symbols: the demo market has no {', '.join(unknown)}; it has {', '.join(ASSET_NAMES)}"
            )
        return symbols
    from cascade_tui.feeds.metadata import bundled_instruments

    listed: set[str] = set()
    for venue in venue_ids():
        for row in bundled_instruments(venue).values():
            base = row.get("baseAsset")
            if isinstance(base, str):
                listed.add(base.upper())
    unknown = [v for v in symbols if v not in listed]
    if unknown:
        print(
            f"cascade-tui: warning: --symbols {', '.join(unknown)}: not in the shipped instrument tables; "
            "shown only if a venue lists it",
            file=sys.stderr,
        )
    return symbols


def _check_history_url(value: str, origin: str) -> None:
    """off, sqlite:///PATH (its folder must exist) or postgresql://…; anything else is a typo."""
    from cascade_tui.sinks.history_db import is_postgres_url, sqlite_path

    if value == "off" or is_postgres_url(value):
        return
    if not value.startswith("sqlite:"):
        raise UsageError(f"{origin}: {value!r} is not sqlite:///PATH, postgresql://… or off")
    folder = sqlite_path(value, Path()).expanduser().parent
    if not folder.is_dir():
        raise UsageError(f"{origin}: no folder {str(folder)!r} for the SQLite file")


def _check_theme(name: str) -> None:
    from textual.theme import BUILTIN_THEMES

    from cascade_tui.ui.themes import load_themes

    known = [t.name for t in load_themes().themes]
    if name not in known and name not in BUILTIN_THEMES:
        raise UsageError(f"--theme: no theme {name!r}; cascade themes: {', '.join(known)} (or a Textual theme)")


def run_headless(opts) -> int:  # opts: RunOptions
    from cascade_tui.runtime.build import build_pipeline, check_viewer_redis
    from cascade_tui.runtime.stats import build_stats, write_stats

    if opts.source == "redis":
        check_viewer_redis(opts)  # a wrong password or no server: exit 2 with the reason
    pipeline = build_pipeline(opts)
    log.info("cascade-tui %s headless: source %s", __version__, pipeline.info["source"])

    async def _main() -> None:
        from cascade_tui.runtime.lifecycle import install_stop_signals

        # SIGINT, SIGTERM and SIGHUP: a clean stop, stats written, exit 0
        install_stop_signals(asyncio.get_running_loop(), pipeline.stop)
        await pipeline.run()

    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        pass
    finally:
        if opts.stats:
            write_stats(opts.stats, build_stats(pipeline, {"redis": pipeline.info.get("redis", "off")}))
    if pipeline.error is not None:
        return 1
    return 0


def run_ui(opts) -> int:  # opts: RunOptions
    from cascade_tui.runtime.build import build_pipeline, check_viewer_redis
    from cascade_tui.runtime.lifecycle import at_clean_exit, exit_without_terminal, watch_hangup
    from cascade_tui.runtime.stats import build_stats, write_stats
    from cascade_tui.ui.app import run_dashboard

    if opts.source == "redis":
        check_viewer_redis(opts)  # before the terminal is taken over, so the reason is readable
    pipeline = build_pipeline(opts)
    # the terminal closing (SIGHUP) stops the run cleanly without touching the gone terminal
    watch_hangup(lambda: exit_without_terminal(pipeline.stop, pipeline.finished))

    def finish() -> None:
        if opts.stats:
            write_stats(opts.stats, build_stats(pipeline, {"redis": pipeline.info.get("redis", "off")}))

    at_clean_exit(finish)  # after SIGHUP the process ends in exit_without_terminal
    try:
        code = run_dashboard(pipeline, opts, pipeline.info)
    finally:
        finish()
    return code


def run_simulate(argv: list[str]) -> int:
    args = simulate_parser().parse_args(argv)
    _check_profile(args.profile)
    from cascade_tui.capture import CaptureWriter
    from cascade_tui.labels import write_labels
    from cascade_tui.sources.simulate.mechanistic_simulator import MECHANISTIC_PROFILE, make_simulator

    if args.mechanistic:
        args.profile = MECHANISTIC_PROFILE
    kwargs = {} if args.start_ts is None else {"start_ts": args.start_ts}
    sim = make_simulator(args.seed, args.profile, **kwargs)
    header = {"source": "simulate", "seed": args.seed, "profile": args.profile, "duration_s": args.duration}
    t0 = time.perf_counter()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    def frames_with_progress(advance: Callable[[float], None]) -> Iterator[RawFrame]:
        for n, frame in enumerate(sim.frames(args.duration), 1):
            if n % 2000 == 0:
                advance(frame.ts - sim.start_ts)
            yield frame

    with CaptureWriter(args.out, header, sync=False) as writer, _market_progress(args.duration) as advance:
        writer.write_many(frames_with_progress(advance))
    frames = writer.frames  # counted as flushed: read after close
    write_labels(sim.labels, args.labels)
    if not sim.labels:
        log.warning(
            "no cascade happened in %g s of the %s profile: the labels file is empty (try a longer "
            "--duration or --profile demo)",
            args.duration,
            args.profile,
        )
    log.info(
        "wrote %d frames to %s and %d labels to %s in %.1f s",
        frames, args.out, len(sim.labels), args.labels, time.perf_counter() - t0,
    )
    return 0


@contextlib.contextmanager
def _market_progress(duration_s: float) -> Iterator[Callable[[float], None]]:
    """A progress bar over simulated seconds on stderr, only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _done: None
        return
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} / {task.total:,.0f} s of market"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("simulate", total=duration_s)
        yield lambda done: progress.update(task, completed=min(done, duration_s))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "doctor":  # configures its own (quiet) logging
        from cascade_tui.doctor.cli import main_doctor

        return main_doctor(argv[1:])
    if argv and argv[0] in SUBCOMMANDS:
        _setup_logging("INFO", to_file=False)
        cmd, rest = argv[0], argv[1:]
        try:
            if cmd == "simulate":
                return run_simulate(rest)
            if cmd == "liqmap":
                from cascade_tui.liqmap_cli import main as liqmap_main

                return liqmap_main(rest)
            from cascade_tui.backtest import cli as bt

            if cmd == "history":
                from cascade_tui.history_cli import main_history

                return main_history(rest)
            return {"backtest": bt.main_backtest, "tune": bt.main_tune}[cmd](rest)
        except (UsageError, ConfigError, FileNotFoundError) as exc:
            _print_error(f"cascade-tui {cmd}", exc)
            return 2
    parser = main_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        opts = options_from_args(args, config)
    except (UsageError, ConfigError) as exc:
        # the message names the option or the file:line; a usage block would only bury it
        _print_error("cascade-tui", exc)
        return 2
    _setup_logging(args.log_level, to_file=not args.no_ui)
    try:
        return run_headless(opts) if args.no_ui else run_ui(opts)
    except (UsageError, ConfigError) as exc:
        _print_error("cascade-tui", exc)
        return 2
    except Exception as exc:
        from cascade_tui.capture import CaptureError
        from cascade_tui.redis_client import RedisUnavailable

        if isinstance(exc, CaptureError | RedisUnavailable):
            _print_error("cascade-tui", exc)
            return 2
        # an unexpected failure: the traceback, with any URL secret in it masked
        import traceback

        from cascade_tui.redaction import redact_text
        from cascade_tui.text import printable

        print(redact_text(printable("".join(traceback.format_exception(exc)), keep_newlines=True)), file=sys.stderr)
        return 1


def _print_error(prefix: str, exc: BaseException) -> None:
    """`prefix: error: message`, the message stripped of control characters and secrets."""
    from cascade_tui.redaction import redact_text
    from cascade_tui.text import printable

    print(f"{prefix}: error: {redact_text(printable(str(exc)))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
