"""Which Redis to use (docs/DESIGN.md §5 `--redis-url`), and the private server started when none is given.

Resolution order: `--redis-url` ("off" or a URL) > CASCADE_REDIS_URL > `[redis] url` in the
config > localhost:6379 when it answers PING within ~0.3 s > an embedded `redis-server` from
PATH on a unix socket in a temp dir, stopped by `RedisTarget.close()`. Without a binary the
target is "off" with a reason: Redis is optional, the dashboard still runs.

Passwords never leave this module in clear: `RedisTarget.display`, errors and logs use
`cascade_tui.redaction.redact_url()`, and the URL field is kept out of the dataclass repr.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cascade_tui.config import RedisConfig
from cascade_tui.redaction import redact_url
from cascade_tui.runtime.lifecycle import die_with_parent, pid_alive

if TYPE_CHECKING:  # the client library loads only when a Redis is used (offline runs skip ~70 ms)
    pass

log = logging.getLogger(__name__)

ENV_VAR = "CASCADE_REDIS_URL"
LOCALHOST_URL = "redis://localhost:6379/0"
LOCALHOST_PROBE_TIMEOUT_S = 0.3
EMBEDDED_START_TIMEOUT_S = 5.0
EMBEDDED_STOP_TIMEOUT_S = 3.0
EMBEDDED_MAXMEMORY = "64mb"
URL_SCHEMES = ("redis", "rediss", "unix")
UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


class RedisUrlError(ValueError):
    """A --redis-url / CASCADE_REDIS_URL that cannot be used (message has no password)."""


def check_url(url: str, origin: str) -> str:
    """Validate the scheme and shape of an explicit URL; returns it unchanged."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a non-numeric port
    except ValueError as exc:
        raise RedisUrlError(f"{origin}: invalid Redis URL {redact_url(url)!r}: {exc}") from None
    if parts.scheme not in URL_SCHEMES:
        raise RedisUrlError(
            f"{origin}: Redis URL must start with redis://, rediss:// or unix:// (got {redact_url(url)!r})"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise RedisUrlError(f"{origin}: Redis URL has no host: {redact_url(url)!r}")
    return url


@dataclass
class RedisTarget:
    """The Redis a run talks to. `url` is secret (may hold a password); show `display`."""

    url: str = field(repr=False)
    kind: str  # "url" | "env" | "localhost" | "embedded" | "off"
    display: str
    reason: str = ""  # why "off", or where an embedded server lives
    server: EmbeddedRedis | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.kind != "off"

    async def close(self) -> None:
        """Stop the embedded server (if this target started one). Idempotent."""
        if self.server is not None:
            await self.server.stop()


def _off(reason: str) -> RedisTarget:
    return RedisTarget(url="", kind="off", display="off", reason=reason)


async def ping(url: str, timeout_s: float = LOCALHOST_PROBE_TIMEOUT_S) -> bool:
    """True when a Redis at `url` answers PING within timeout_s (any error -> False)."""
    from redis.exceptions import RedisError

    from cascade_tui.redis_client import make_client  # loads the client library: only when used

    client = make_client(url, connect_timeout_s=timeout_s, command_timeout_s=timeout_s)
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout_s))
    except (RedisError, OSError, TimeoutError, ValueError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """A private redis-server on a unix socket (or a free local port) in a temp dir: no
    persistence, 64 MB, LRU.

    allkeys-lru keeps writes from ever failing with OOM: the oldest data goes first.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        remove_stale_dirs()
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        # who owns this dir: a later start removes it (and kills a leftover server) once
        # this process is gone, e.g. after a kill -9 on a system without a parent-death signal
        (self.dir / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
        self.socket = self.dir / "redis.sock"
        # a unix socket keeps the server private to this user; its path must fit sun_path
        # (108 bytes), else (a long TMPDIR) fall back to a free port on 127.0.0.1
        self.port = 0 if len(str(self.socket)) < UNIX_PATH_MAX else _free_port()
        self.url = f"unix://{self.socket}" if self.port == 0 else f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def where(self) -> str:
        return str(self.socket) if self.port == 0 else f"127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        listen = (
            ["--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
            if self.port == 0
            else ["--port", str(self.port), "--bind", "127.0.0.1"]
        )
        return [
            self.binary,
            *listen,
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--maxmemory", EMBEDDED_MAXMEMORY,
            "--maxmemory-policy", "allkeys-lru",
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip

    def _log_tail(self) -> str:
        try:
            lines = (self.dir / "redis.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    async def start(self) -> None:
        try:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=die_with_parent(),  # kill -9 of the app takes the server down too
                start_new_session=True,  # a ctrl+c in the terminal is the app's to handle, not the server's
            )
        except OSError as exc:
            self._cleanup_dir()
            raise RuntimeError(f"cannot start {self.binary}: {exc}") from None
        with contextlib.suppress(OSError):
            (self.dir / SERVER_FILE).write_text(f"{self.proc.pid}\n", encoding="ascii")
        atexit.register(self.stop_now)
        deadline = time.monotonic() + EMBEDDED_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace").strip()
                reason = err or self._log_tail() or f"exit code {self.proc.returncode}"
                await self.stop()
                raise RuntimeError(f"embedded redis-server exited at start: {reason}")
            if (self.port or self.socket.exists()) and await ping(self.url, 0.3):
                return
            await asyncio.sleep(0.02)
        await self.stop()
        raise RuntimeError(f"embedded redis-server did not answer within {EMBEDDED_START_TIMEOUT_S:g} s")

    async def stop(self) -> None:
        """Terminate, wait (kill if it lingers), remove the temp dir. Idempotent."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            deadline = time.monotonic() + EMBEDDED_STOP_TIMEOUT_S
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        self.stop_now()

    def stop_now(self) -> None:
        """Synchronous stop (atexit, or after `stop()` waited): kill what is left, clean up."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=EMBEDDED_STOP_TIMEOUT_S)
            if proc.stderr is not None:
                proc.stderr.close()
        atexit.unregister(self.stop_now)
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


DIR_PREFIX = "cascade-redis-"
OWNER_FILE = "owner.pid"  # the app that started the server
SERVER_FILE = "server.pid"  # the redis-server itself


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return 0


def _is_server_of(pid: int, directory: Path) -> bool:
    """pid is a redis-server started for `directory` (not a reused pid of something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"redis-server" in part for part in cmdline[:1]) and str(directory).encode() in cmdline


def remove_stale_dirs(tmp: Path | None = None) -> list[Path]:
    """Remove the temp dirs of embedded servers whose app is gone (killed, crashed), and
    kill such a server if it still runs. Only this user's dirs with an owner file are
    touched. Returns what was removed."""
    base = Path(tmp or tempfile.gettempdir())
    removed: list[Path] = []
    uid = os.getuid()
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(DIR_PREFIX)]
    except OSError:
        return removed
    for directory in candidates:
        try:
            if not directory.is_dir() or directory.is_symlink() or directory.stat().st_uid != uid:
                continue
        except OSError:
            continue
        owner = _read_pid(directory / OWNER_FILE)
        if owner == 0 or pid_alive(owner):
            continue  # not ours to judge (no owner file), or its app still runs
        server = _read_pid(directory / SERVER_FILE)
        if server and pid_alive(server) and _is_server_of(server, directory):
            with contextlib.suppress(OSError):
                os.kill(server, signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
        log.info("removed the leftover embedded Redis dir %s (its app, pid %d, is gone)", directory, owner)
    return removed


async def resolve_redis(
    option: str | None,
    config: RedisConfig,
    *,
    env: Mapping[str, str] | None = None,
    localhost_url: str = LOCALHOST_URL,
    server_binary: str | None = None,
) -> RedisTarget:
    """Pick the Redis for this run (see the module docstring for the order).

    Raises RedisUrlError for an explicit URL that cannot be used (the CLI exits 2 with it).
    `env`, `localhost_url` and `server_binary` exist so tests can inject them.
    """
    environ = os.environ if env is None else env
    if option is not None and option.strip():
        value = option.strip()
        if value.lower() == "off":
            return _off("--redis-url off")
        check_url(value, "--redis-url")
        return RedisTarget(url=value, kind="url", display=redact_url(value))
    env_url = environ.get(ENV_VAR, "").strip()
    if env_url:
        if env_url.lower() == "off":
            return _off(f"{ENV_VAR}=off")
        check_url(env_url, ENV_VAR)
        return RedisTarget(url=env_url, kind="env", display=redact_url(env_url))
    if config.url.strip():
        value = config.url.strip()
        if value.lower() == "off":
            return _off("redis.url = off in the config")
        check_url(value, "redis.url")
        return RedisTarget(url=value, kind="url", display=redact_url(value))
    if await ping(localhost_url):
        return RedisTarget(url=localhost_url, kind="localhost", display=redact_url(localhost_url))
    binary = server_binary if server_binary is not None else shutil.which("redis-server")
    if not binary or not Path(binary).exists():
        return _off("no Redis: localhost:6379 does not answer and no redis-server binary is on PATH")
    server = EmbeddedRedis(binary)
    try:
        await server.start()
    except RuntimeError as exc:
        return _off(str(exc))
    log.info("started embedded redis-server at %s", server.where)
    return RedisTarget(
        url=server.url,
        kind="embedded",
        display=f"embedded ({server.where})",
        reason=f"private redis-server pid {server.proc.pid if server.proc else '?'}",
        server=server,
    )
