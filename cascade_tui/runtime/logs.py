"""Log formatting that never leaks a secret or a terminal escape.

Every record goes through `SafeFormatter`: the message has its control characters escaped
(a venue's symbol cannot set the terminal title or forge a second log line) and every URL
password, token or conninfo `password=` masked, whatever code logged it; the traceback
keeps its lines but loses other control characters and secrets too.
"""

from __future__ import annotations

import logging

from cascade_tui.redaction import redact_text
from cascade_tui.text import escape_controls, printable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SafeFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = redact_text(escape_controls(record.message.rstrip()))
        return super().formatMessage(record)

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return redact_text(printable(super().formatException(ei), keep_newlines=True))

    def formatStack(self, stack_info: str) -> str:
        return redact_text(printable(super().formatStack(stack_info), keep_newlines=True))


def install(handlers: list[logging.Handler], level: int) -> None:
    """Configure the root logger with `handlers`, each formatting through SafeFormatter."""
    formatter = SafeFormatter(LOG_FORMAT)
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)
