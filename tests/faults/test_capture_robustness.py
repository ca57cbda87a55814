"""Hostile captures and hostile disks (issue 12 rows 11, 12, 13, 15, 16), through the real
command line: a bad line is counted and skipped, a bad timestamp is counted and never used as
a clock, an oversized line is skipped with bounded memory, a file that is not a capture (or a
folder that does not exist) is a clear exit 2, and a recorder whose writes fail counts the
loss and leaves a capture that replays exactly what it says it wrote."""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureReader, CaptureWriter
from cascade_tui.model import RawFrame
from cascade_tui.sources.simulate import MarketSimulator

HEADER = b'{"v":2,"kind":"cascade-tui-capture"}\n'


def cli(
    tmp_path: Path, *args: str, preexec: Callable[[], None] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "CASCADE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CASCADE_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args],
        capture_output=True, timeout=timeout, check=False, env=env, preexec_fn=preexec,
    )  # fmt: skip


def replay(tmp_path: Path, cap: Path, name: str) -> tuple[list[bytes], dict]:
    stats = tmp_path / f"{name}.stats.json"
    proc = cli(tmp_path, "--replay", str(cap), "--no-ui", "--redis-url", "off", "--stats", str(stats))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (tmp_path / f"{name}.stderr").write_bytes(proc.stderr)
    return proc.stdout.splitlines(), json.loads(stats.read_text())


@pytest.fixture(scope="module")
def market() -> list[RawFrame]:
    return list(MarketSimulator(5, profile="demo").frames(600.0))


def write(path: Path, frames: list[RawFrame]) -> Path:
    with CaptureWriter(path) as w:
        w.write_many(frames)
    return path


@pytest.fixture(scope="module")
def clean(market: list[RawFrame], tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], dict]:
    d = tmp_path_factory.mktemp("clean")
    signals, stats = replay(d, write(d / "clean.cap.gz", market), "clean")
    assert len(signals) >= 2, "the market must raise signals for the comparisons to mean something"
    return signals, stats


# ------------------------------------------------------------------ row 12: bad lines


def test_bad_lines_are_counted_and_skipped_and_the_replay_goes_on(
    tmp_path: Path, market: list[RawFrame], clean: tuple[list[bytes], dict]
) -> None:
    good = tmp_path / "good.cap.gz"
    write(good, market)
    with gzip.open(good, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    bad = [
        b'{"ts":1767225700.0,"venue":"okx","frame":"lone \\ud800 surrogate"}\n',
        b'{"ts":"x","venue":"binance","frame":"{}"}\n',
        b'{"ts":1767225700.0,"venue":"htx","frame_b64":"not base64!"}\n',
        b"{not json at all\n",
        b'{"ts":1767225700.0,"frame":"no venue"}\n',
        b'{"ts":1767225700.0,"venue":"okx"}\n',
    ]
    third = len(lines) // 3
    mixed = lines[:third] + bad[:3] + lines[third : 2 * third] + bad[3:] + lines[2 * third :]
    cap = tmp_path / "bad.cap.gz"
    cap.write_bytes(gzip.compress(b"".join(mixed)))
    signals, stats = replay(tmp_path, cap, "bad")
    assert stats["input"]["bad_lines"] == len(bad)
    assert stats["frames"] == len(market)  # every good frame played, to the end
    assert signals == clean[0]


# ------------------------------------------------------------------ row 13: bad times


def test_one_absurd_timestamp_is_counted_and_never_used_as_a_clock(
    tmp_path: Path, market: list[RawFrame], clean: tuple[list[bytes], dict]
) -> None:
    frames = list(market)
    at = len(frames) // 3
    frames.insert(at, RawFrame(1e12, frames[at].venue, frames[at].data, frames[at].channel))
    signals, stats = replay(tmp_path, write(tmp_path / "t.cap.gz", frames), "t")
    assert stats["bad_time"] == 1
    assert stats["out_of_order"] == 0
    assert signals == clean[0]  # the frame's events were played at the current clock


def test_frames_shuffled_in_blocks_are_counted_out_of_order_and_signals_survive(
    tmp_path: Path, market: list[RawFrame], clean: tuple[list[bytes], dict]
) -> None:
    rng = random.Random(12)
    shuffled: list[RawFrame] = []
    for i in range(0, len(market), 50):
        block = market[i : i + 50]
        rng.shuffle(block)
        shuffled.extend(block)
    signals, stats = replay(tmp_path, write(tmp_path / "s.cap.gz", shuffled), "s")
    assert stats["out_of_order"] > len(market) // 4
    assert stats["bad_time"] == 0
    assert stats["frames"] == len(market)
    assert b"out of order" in (tmp_path / "s.stderr").read_bytes()  # said, not silent
    # played at the current clock, never backwards: the disorder moves events by up to a
    # block's span (~2 s). The event-driven fast path sees every print, so marginal WATCH
    # transitions may flap; the alarms that matter (which assets and sides reach WARNING or
    # above) must be the same ones
    def alarms(lines: list[bytes]) -> set[tuple[str, str]]:
        docs = [json.loads(line) for line in lines]
        return {(d["asset"], d["direction"]) for d in docs if d["level"] >= 2}

    assert alarms(clean[0]), "the clean market raises WARNING or above"
    assert alarms(signals) == alarms(clean[0])
    ts = [json.loads(s)["ts"] for s in signals]
    assert ts == sorted(ts)


# ------------------------------------------------------------------ row 15: oversized line


def test_a_300_mb_line_is_skipped_with_bounded_memory(tmp_path: Path, market: list[RawFrame]) -> None:
    cap = tmp_path / "big.cap.gz"
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    good = [f'{{"ts":{f.ts},"venue":"{f.venue}","frame":{json.dumps(f.data)}}}\n'.encode() for f in market[:200]]
    with cap.open("wb") as out:
        out.write(comp.compress(HEADER + b"".join(good[:100])))
        out.write(comp.compress(b'{"ts":1767225601.0,"venue":"okx","frame":"'))
        chunk = b"x" * (1 << 20)
        for _ in range(300):
            out.write(comp.compress(chunk))
        out.write(comp.compress(b'"}\n' + b"".join(good[100:])))
        out.write(comp.flush())
    stats_path = tmp_path / "stats.json"
    proc = cli(tmp_path, "--replay", str(cap), "--no-ui", "--redis-url", "off", "--stats", str(stats_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    assert stats["input"]["oversized_lines"] == 1
    assert stats["frames"] == 200
    assert stats["peak_rss_mb"] < 200, stats["peak_rss_mb"]
    assert b"longer than" in proc.stderr


# ------------------------------------------------------------------ row 16: not a capture


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("plain.cap.gz", b'{"v":2,"kind":"cascade-tui-capture"}\n', "not a gzip file"),
        ("empty.cap.gz", b"", "empty file"),
        ("random.cap.gz", random.Random(3).randbytes(5000), "not a gzip file"),
        ("gzip-random.cap.gz", b"\x1f\x8b" + random.Random(4).randbytes(5000), "cap.gz"),
        ("other.json.gz", gzip.compress(b'{"hello": 1}\n'), "not a cascade-tui capture"),
        ("empty-gzip.cap.gz", gzip.compress(b""), "empty capture"),
    ],
)
def test_replay_of_something_that_is_not_a_capture_is_exit_2(tmp_path: Path, name: str, content: bytes, why: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = cli(tmp_path, "--replay", str(path), "--no-ui", "--redis-url", "off")
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.decode()
    assert str(path) in err and why in err, err
    assert "Traceback" not in err


def test_replay_of_a_directory_is_exit_2(tmp_path: Path) -> None:
    proc = cli(tmp_path, "--replay", str(tmp_path), "--no-ui", "--redis-url", "off")
    assert proc.returncode == 2
    assert f"{tmp_path} is a directory" in proc.stderr.decode()


@pytest.mark.parametrize("option", ["--record", "--stats"])
def test_output_into_a_missing_folder_is_exit_2_naming_it(tmp_path: Path, option: str) -> None:
    target = tmp_path / "no" / "such" / "out.file"
    proc = cli(tmp_path, "--demo", "--no-ui", "--speed", "0", "--duration", "5", "--redis-url", "off", option, str(target))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert f"{option}: folder {target.parent} does not exist" in err, err
    assert not target.parent.exists()  # not created behind the user's back


# ------------------------------------------------------------------ row 11: disk full


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # writes past `limit` bytes fail with EFBIG, as a full disk fails with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_failed_writes_are_counted_and_the_capture_replays_what_it_says_it_wrote(tmp_path: Path) -> None:
    cap = tmp_path / "full.cap.gz"
    stats_path = tmp_path / "stats.json"
    proc = cli(
        tmp_path, "--demo", "--no-ui", "--speed", "0", "--duration", "1800", "--redis-url", "off",
        "--record", str(cap), "--stats", str(stats_path), preexec=_file_size_limit(300_000),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    recorder = stats["sinks"]["recorder"]
    assert recorder["errors"] > 0 and recorder["lost"] > 0
    assert recorder["last_error"]
    assert recorder["frames"] + recorder["lost"] + recorder["drops"]["recorder"] == stats["frames"]
    assert b"recording to" in proc.stderr and b"failed" in proc.stderr
    reader = CaptureReader(cap)
    frames = list(reader)
    assert reader.error is None and reader.bad_lines == 0  # whole gzip members only, no damage
    assert len(frames) == recorder["frames"]
    assert cap.stat().st_size <= 300_000
    (tmp_path / "r").mkdir()
    _, replayed = replay(tmp_path / "r", cap, "replayed")
    assert replayed["frames"] == recorder["frames"]
