"""Strings from outside (venue frames, captures, Redis, exception messages) made safe to show,
and the money format every front end shares (`usd`).

A symbol such as `\\x1b]2;TITLE\\x07REDUSDT` written to a terminal sets its title; a
`\\x1b[2J` clears it; a newline in a log message forges a second log line; a right-to-left
override reverses what follows. `printable()` removes whole escape sequences first (so no
`]2;TITLE` residue is left behind), then every other control character (C0, DEL, C1) and the
bidirectional overrides. Used by the dashboard's text builders and by the log formatter.
"""

from __future__ import annotations

import math
import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC (ESC P/X/^/_ ... ST), and
# two-character escapes; the 8-bit C1 forms of CSI (0x9b) and OSC (0x9d) too
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]?"
)
# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates; line/paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\u200e\u200f]")
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\u200e\u200f]")
_NEEDS_WORK = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep_newlines: bool = False, max_len: int | None = None) -> str:
    """`text` without terminal escape sequences or control characters.

    keep_newlines keeps "\\n" and "\\t" (multi-line text such as a traceback); max_len cuts
    the result to that many characters, ending in "…"."""
    if not isinstance(text, str):
        text = str(text)
    if _NEEDS_WORK.search(text) is not None:  # the common case costs one scan
        text = _ESCAPE_SEQUENCE.sub("", text)
        text = (_CONTROL_KEEP_LINES if keep_newlines else _CONTROL).sub("", text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(0, max_len - 1)] + "…"
    return text


def escape_controls(text: str) -> str:
    """One log line: escape sequences removed, other control characters shown as `\\xNN`
    (a newline in a message becomes the two characters `\\n`, so it cannot forge a line)."""
    if _NEEDS_WORK.search(text) is None:
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def usd(value: float | None, *, sign: bool = False) -> str:
    """$1.23M style money with three significant figures."""
    if value is None or not math.isfinite(value):
        return "—"
    prefix = "+" if sign and value > 0 else ""
    neg = value < 0
    v = abs(value)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            n = v / scale
            text = f"{n:.3g}" if n < 100 else f"{n:.0f}"
            return f"{prefix}{'-' if neg else ''}${text}{suffix}"
    return f"{prefix}{'-' if neg else ''}${v:.0f}"
