"""Process life: the signals that stop a run cleanly, and children that die with the app.

SIGTERM (a service manager), SIGHUP (the terminal closed) and SIGINT all ask the pipeline to
stop: sinks flush, `--stats` is written, the embedded redis-server is stopped and its temp
dir removed, and the exit code is 0. A child process (the embedded redis-server) gets a
parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`), so even `kill -9` of the app takes it
down; whatever a crash still leaves behind is cleaned at the next start (redis_server.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def install_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Every stop signal calls `stop()` on `loop` (which must be the running loop of the
    main thread); `stop` must be idempotent (a second signal while stopping calls it again).
    A signal this thread blocks is left alone: `watch_hangup` waits for it elsewhere."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    for sig in STOP_SIGNALS:
        if sig not in blocked:
            loop.add_signal_handler(sig, stop)


def watch_hangup(on_hangup: Callable[[], None]) -> None:
    """Call `on_hangup()` on a dedicated thread when SIGHUP (the terminal closed) arrives.

    Call it from the main thread before any other thread starts: SIGHUP is blocked here, so
    in every thread started later, and only the watcher takes it (sigwait). A full-screen UI
    needs this: when its terminal is gone, its main thread can block for ever writing to it,
    so neither a loop callback nor a plain Python handler (both run on the main thread) would
    ever run."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})

    def wait() -> None:
        signal.sigwait({signal.SIGHUP})
        on_hangup()

    threading.Thread(target=wait, name="hangup-watcher", daemon=True).start()


# ----------------------------------------------------------------- leaving without a terminal

_exit_hooks: list[Callable[[], None]] = []
_exiting = threading.Lock()
HANGUP_STOP_TIMEOUT_S = 20.0


def at_clean_exit(hook: Callable[[], None]) -> None:
    """Run `hook` (e.g. write --stats) when `exit_without_terminal` ends the process."""
    _exit_hooks.append(hook)


def exit_without_terminal(stop: Callable[[], None], finished: threading.Event) -> None:
    """The terminal has gone (SIGHUP): stop the pipeline, wait for it to finish (its sinks
    flushed, the embedded server stopped), run the exit hooks, and end the process with 0.

    A full-screen UI cannot be shut down normally here: restoring a terminal that no longer
    exists fails its writer thread and blocks the UI for ever. Runs on its own thread; a
    second call is ignored."""
    if not _exiting.acquire(blocking=False):
        return

    def run() -> None:
        code = 0
        try:
            stop()
            finished.wait(HANGUP_STOP_TIMEOUT_S)
            for hook in _exit_hooks:
                hook()
        except BaseException:  # the process ends either way; say so in the log
            logging.getLogger(__name__).exception("clean exit after the terminal closed failed")
            code = 1
        logging.shutdown()
        os._exit(code)

    threading.Thread(target=run, name="exit-without-terminal", daemon=True).start()


def remove_stop_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved before any fork: the child only makes the call


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets SIGKILL when this process dies
    (even by SIGKILL). None where the OS has no parent-death signal (not Linux).

    Linux delivers it when the *thread* that forked the child ends, so start such children
    from a thread that lives as long as they should (the pipeline's loop thread does)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # the child's own business
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
