"""Issue 12 row 2: a symbol `\\x1b]2;TITLE\\x07REDUSDT` in a Bybit frame reached the
dashboard raw (the terminal title was set, panels garbled). Whatever the parsers let
through, every string the dashboard's text builders and the log formatter show is stripped
of escape sequences and control characters (`cascade_tui.text.printable`)."""

from __future__ import annotations

import io
import logging

import msgspec
import pytest

from cascade_tui.engine import Engine
from cascade_tui.model import Liquidation
from cascade_tui.runtime.logs import SafeFormatter
from cascade_tui.text import escape_controls, printable
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.scores_panel import asset_cells
from cascade_tui.ui.signal_log import signal_text
from cascade_tui.ui.tape_panel import TapePanel
from tests.security.helpers import signal

HOSTILE = [
    "\x1b]2;TITLE\x07RED",  # OSC: set the window title
    "\x1b]0;pwned\x1b\\RED",  # OSC ended by ST
    "\x1b[2J\x1b[HRED",  # CSI: clear the screen, home
    "\x9b31mRED",  # 8-bit CSI
    "RED\r\nFORGED",  # a second line
    "\u202eDER",  # right-to-left override
    "R\x00E\x7fD\x85",  # NUL, DEL, NEL
]
BAD_CHARS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | {"\u202e"}


def clean(text: str) -> bool:
    return not (set(text) & BAD_CHARS) and "TITLE" not in text and "]2;" not in text and "[2J" not in text


@pytest.mark.parametrize("raw", HOSTILE)
def test_printable_removes_sequences_and_controls(raw: str) -> None:
    shown = printable(raw)
    assert clean(shown)
    assert "RED" in shown or "DER" in shown
    assert clean(escape_controls(raw).replace("\\", ""))  # the log form: visible escapes, no raw control


def test_ordinary_text_is_untouched() -> None:
    for text in ("BTC", "1000PEPE", "MARKET-WIDE", "ümlaut · ◐ ▲", "a\tb"):
        assert printable(text) == text.replace("\t", "")
    assert printable("line1\nline2\tx", keep_newlines=True) == "line1\nline2\tx"
    assert printable("x" * 50, max_len=10) == "x" * 9 + "…"


def hostile_snapshot(asset: str):  # type: ignore[no-untyped-def]
    engine = Engine()
    ts = 1_767_225_600.0
    for i in range(5):
        liq = Liquidation(
            venue="bybit", instrument=f"{asset}USDT", asset=asset, side="long", price=1.0,
            qty=1e6, usd=1e6, raw_size=1e6, event_ts=ts + i, recv_ts=ts + i,
        )  # fmt: skip
        engine.process(liq)
    return engine.snapshot()


@pytest.mark.parametrize("raw", HOSTILE)
def test_dashboard_text_builders_show_no_control_characters(raw: str) -> None:
    pal = Palette({})
    snap = hostile_snapshot(raw)
    (view,) = [a for a in snap.assets if a.asset == raw]
    assert all(clean(cell.plain) for cell in asset_cells(view, 1, pal))
    assert snap.tape, "the hostile liquidation reached the tape"
    assert all(clean(cell.plain) for cell in TapePanel._row(snap.tape[0], pal))
    sig = msgspec.structs.replace(signal(1), asset=raw)
    assert clean(signal_text(sig, pal).plain)


def test_the_log_formatter_escapes_control_characters() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.security.display")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for raw in HOSTILE:
            logger.warning("bad symbol %s", raw)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(HOSTILE), "no forged log line"
    assert all(clean(line.replace("\\", "")) for line in lines)
