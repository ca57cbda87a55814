"""Who writes under a Redis prefix: each run's instance id, and the check that refuses a
second live writer on the same prefix.

Two runs publishing under one prefix overwrite each other's heartbeat, scores and metrics
and publish every signal twice, silently. So every payload carries the writer's `instance`
(`host:pid:random`), and before its first write a run reads the prefix's heartbeat: another
instance's heartbeat that is still being refreshed means that prefix is taken, and this run
does not publish there (it says so; `--redis-prefix` gives it a prefix of its own). A
heartbeat left by a run that died is not a claim: on this host its pid is gone (seen at
once), elsewhere it stops being refreshed and expires within its 10 s TTL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

import msgspec

from cascade_tui.redis_schema import TTL_HEARTBEAT_S, RedisKeys

# a live writer refreshes its heartbeat every second, a dead one lets it expire (TTL 10 s): watch
# for one of the two for as long as the TTL, so a writer slowed by a busy machine still counts
LIVENESS_WAIT_S = TTL_HEARTBEAT_S + 1.0


def new_instance_id() -> str:
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class OtherWriter:
    instance: str
    version: str
    started_at: float | None

    def describe(self) -> str:
        return f"instance {self.instance} (cascade-tui {self.version or '?'})"


def _decode(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _dead_on_this_host(instance: str) -> bool:
    host, _, rest = instance.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname().split(".")[0] or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid_text) == os.getpid()  # our own pid with another id: a previous life


async def other_live_writer(
    client: Any, keys: RedisKeys, instance: str, wait_s: float = LIVENESS_WAIT_S
) -> OtherWriter | None:
    """Another run that is still publishing under `keys.prefix`, or None."""
    first = _decode(await client.get(keys.heartbeat))
    if first is None:
        return None
    other = str(first.get("instance") or "")
    if other == instance:
        return None
    if other and _dead_on_this_host(other):
        return None
    # refreshed while we watch (its uptime moves on) = alive; a writer from before instance
    # ids (no "instance" field) counts too
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        now = _decode(await client.get(keys.heartbeat))
        if now is None:
            return None
        if now.get("instance") == instance:
            return None
        if now.get("uptime_s") != first.get("uptime_s") or now.get("instance") != first.get("instance"):
            return OtherWriter(str(now.get("instance") or "unknown"), str(now.get("version") or ""), now.get("started_at"))
    return None
