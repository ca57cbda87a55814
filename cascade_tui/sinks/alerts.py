"""Alerts: a webhook POST and/or a local command for signals at or above a level.

Only transitions that reach the level count (state open or escalate with level >= the
configured one). Per episode, a level already alerted is not alerted again within
`min_interval_s` (flapping); a higher level always is. Times are the engine clock, so a
replay at any speed alerts the same way. The hook only enqueues (bounded, oldest dropped and
counted); a worker task delivers: webhooks with a timeout and retries with backoff, the
command as an argv list (never a shell) with the signal JSON on stdin, killed when over
its timeout. Failures are counted in stats(), never raised. Webhook URLs are shown and
logged redacted (credentials, tokens and the path, which is the secret for Slack/Discord).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from typing import Any

import httpx

from cascade_tui.backoff import Backoff
from cascade_tui.config import AlertConfig
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.engine.types import Signal, signal_encoder
from cascade_tui.redaction import redact_url
from cascade_tui.sinks.base import Sink

log = logging.getLogger(__name__)

ALERT_STATES = frozenset({"open", "escalate"})
QUEUE_SIZE = 256
EPISODES_REMEMBERED = 1024
RETRY_BACKOFF = Backoff(base_s=0.25, cap_s=4.0, jitter=0.0)
CLOSE_DRAIN_S = 5.0
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def alert_level(name: str) -> int:
    """Level number of an AlertConfig.level name; ValueError names the setting."""
    upper = name.strip().upper()
    if upper not in LEVEL_NAMES or upper == "NONE":
        raise ValueError(f"alerts.level: expected one of WATCH, WARNING, CRITICAL (got {name!r})")
    return LEVEL_NAMES.index(upper)


class AlertSink(Sink):
    name = "alerts"

    def __init__(
        self,
        config: AlertConfig,
        *,
        queue_size: int = QUEUE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.level = alert_level(config.level)
        self.queue: deque[Signal] = deque()
        self.queue_size = max(1, queue_size)
        self.sent = 0  # alerts delivered to every target
        self.suppressed = 0  # rate-limited (same episode within min_interval_s)
        self.drops = 0
        self.webhook_failures = 0
        self.command_failures = 0
        self.last_error = ""
        self._last_alert: OrderedDict[str, tuple[float, int]] = OrderedDict()  # episode -> (ts, level)
        self._transport = transport
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhooks or self.config.command)

    def targets(self) -> list[str]:
        """Redacted descriptions of where alerts go (for the UI and logs)."""
        out = [redact_url(u, keep_path=False) for u in self.config.webhooks]
        if self.config.command:
            out.append(f"command {self.config.command[0]}")
        return out

    # ------------------------------------------------------------------ hook (engine loop)

    def on_signal(self, sig: Signal) -> None:
        if not self.enabled or sig.state not in ALERT_STATES or sig.level < self.level:
            return
        last = self._last_alert.get(sig.episode)
        if last is not None and sig.ts - last[0] < self.config.min_interval_s and sig.level <= last[1]:
            self.suppressed += 1  # flapping back to a level already alerted for this episode
            return
        self._last_alert[sig.episode] = (sig.ts, sig.level)
        self._last_alert.move_to_end(sig.episode)
        while len(self._last_alert) > EPISODES_REMEMBERED:
            self._last_alert.popitem(last=False)
        if len(self.queue) >= self.queue_size:
            self.queue.popleft()
            self.drops += 1
        self.queue.append(sig)
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._run(), name="alerts")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_DRAIN_S)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def stats(self) -> dict[str, Any]:
        failing = self.webhook_failures + self.command_failures
        return {
            "state": "off" if not self.enabled else ("failing" if failing else "ok"),
            "targets": self.targets(),
            "drops": {"alerts": self.drops},
            "sent": self.sent,
            "suppressed": self.suppressed,
            "webhook_failures": self.webhook_failures,
            "command_failures": self.command_failures,
            "queued": len(self.queue),
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------------ delivery

    async def _run(self) -> None:
        timeout = httpx.Timeout(self.config.timeout_s)
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport, follow_redirects=False) as client:
            while True:
                if not self.queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                sig = self.queue.popleft()
                body = signal_encoder.encode(sig)
                results = await asyncio.gather(
                    *(self._post(client, url, body) for url in self.config.webhooks),
                    *([self._run_command(body)] if self.config.command else []),
                )
                if all(results):
                    self.sent += 1

    async def _post(self, client: httpx.AsyncClient, url: str, body: bytes) -> bool:
        shown = redact_url(url, keep_path=False)
        attempts = max(0, self.config.retries) + 1
        for attempt in range(attempts):
            try:
                response = await client.post(url, content=body, headers={"content-type": "application/json"})
            except httpx.HTTPError as exc:
                # httpx messages can contain the URL: log only the exception type and target
                problem = f"{type(exc).__name__}"
            else:
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUS:
                    break
            if attempt + 1 < attempts:
                await asyncio.sleep(RETRY_BACKOFF.delay(attempt + 1))
        self.webhook_failures += 1
        self.last_error = f"webhook {shown}: {problem}"
        log.warning("alert webhook %s failed: %s", shown, problem)
        return False

    async def _run_command(self, body: bytes) -> bool:
        argv = self.config.command
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            return self._command_failed(f"cannot run {argv[0]}: {exc.strerror or exc}")
        try:
            await asyncio.wait_for(proc.communicate(body + b"\n"), self.config.timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return self._command_failed(f"{argv[0]} killed after {self.config.timeout_s:g} s")
        except (BrokenPipeError, ConnectionResetError):
            await proc.wait()  # it exited without reading stdin: judge it by its exit code
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # never leave a child behind when the sink is torn down
            raise
        if proc.returncode != 0:
            return self._command_failed(f"{argv[0]} exited with {proc.returncode}")
        return True

    def _command_failed(self, why: str) -> bool:
        self.command_failures += 1
        self.last_error = f"command: {why}"
        log.warning("alert command failed: %s", why)
        return False
