"""Waiting on a running app: for a condition, with a generous deadline, never for a fixed
time (a loaded machine lays out and ticks slowly)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """True as soon as the condition holds; False when it still does not after timeout_s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            return False
        await pilot.pause(0.05)
    return True
