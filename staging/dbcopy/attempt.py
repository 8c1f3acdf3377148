"""One attempt at a copy: the child processes and connections it owns, and how to stop them.

The attempt runs in a worker thread while the caller's thread supervises it (progress, timeout,
cancel). Stopping an attempt kills the whole process group of every tool it started (pg_dump
-j and pg_restore -j fork their own workers) and cancels every open query, so nothing is left
running on either server or on this machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from staging.dbcopy.errors import CopyError, TransientCopyError
from staging.secrets import mask_text

logger = logging.getLogger("staging.dbcopy")

# What the client tools print when the connection, not the data, was the problem: these
# failures are retried from a clean target.
TRANSIENT_MARKERS = (
    "server closed the connection",
    "terminating connection",
    "connection to server",
    "could not connect",
    "could not receive data",
    "could not send data",
    "the database system is",
    "connection refused",
    "ssl syscall error",
    "no connection to the server",
    "lost connection to",
    "server has gone away",
    "can't connect to",
    "connection was killed",
    "server shutdown in progress",
    "error 2013",
    "error 2006",
    "error 1927",
    "error 2002",
    "error 2003",
)


def minimal_env(home: str, **extra: str) -> dict[str, str]:
    """The whole environment of a client tool: never the worker's (its Railway token, its
    SECRET_KEY, its DATABASE_URL, the PG*/MYSQL* variables that would steer the tool)."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": home}
    env.update(extra)
    return env


def tool_version(tool: str) -> str:
    """What ``tool --version`` prints, run with a minimal environment."""
    with tempfile.TemporaryDirectory(prefix="understudy-home-") as home:
        return subprocess.run(
            [tool, "--version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            env=minimal_env(home),
        ).stdout


class Aborted(Exception):
    """The supervisor stopped this attempt (timeout or cancel); not an error of the copy."""


def is_transient(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in TRANSIENT_MARKERS)


class Attempt:
    """Shared state of one attempt, safe to use from its worker threads."""

    def __init__(self, *, number: int, secrets: Sequence[str], total_bytes: int) -> None:
        self.number = number
        self.secrets = tuple(secrets)
        self.total_bytes = total_bytes
        self.phase = "schema"
        self.phases: list[str] = []
        self._lock = threading.Lock()
        self._aborted = threading.Event()
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._stderr: dict[int, _StderrTail] = {}
        self._cancel_hooks: dict[int, Callable[[], None]] = {}
        self._bytes = 0
        self._rows = 0
        self._activity = 0
        self._home: str | None = None

    # -- environment -------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """A minimal environment for a client tool, with a HOME of this attempt's own (so no
        ``~/.my.cnf`` or ``~/.pgpass`` of the worker is read)."""
        with self._lock:
            if self._home is None:
                self._home = tempfile.mkdtemp(prefix="understudy-home-")
            home = self._home
        return minimal_env(home, **extra)

    def cleanup(self) -> None:
        with self._lock:
            home, self._home = self._home, None
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    # -- progress ----------------------------------------------------------------------------

    def add(self, *, bytes_copied: int = 0, rows: int = 0) -> None:
        with self._lock:
            self._bytes += bytes_copied
            self._rows += rows

    def touch(self) -> None:
        """Something moved (a statement finished, a tool wrote a line): not stalled."""
        self._activity += 1

    @property
    def activity(self) -> tuple[int, int, int, int]:
        """Changes whenever the attempt makes progress of any kind; the stall detector
        compares it over time."""
        return (self._bytes, self._rows, len(self.phases), self._activity)

    @property
    def bytes_copied(self) -> int:
        return self._bytes

    @property
    def rows_copied(self) -> int:
        return self._rows

    def enter(self, phase: str) -> None:
        self.check()
        self.phase = phase
        self.phases.append(phase)
        logger.info("attempt %d: %s", self.number, phase)

    # -- stopping ----------------------------------------------------------------------------

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def check(self) -> None:
        if self._aborted.is_set():
            raise Aborted

    def abort(self) -> None:
        """Kill every child process group and cancel every running query; idempotent."""
        self._aborted.set()
        with self._lock:
            processes = list(self._processes)
            hooks = list(self._cancel_hooks.values())
        for process in processes:
            kill_group(process)
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()

    @contextlib.contextmanager
    def cancelling(self, hook: Callable[[], None]) -> Iterator[None]:
        """Run ``hook`` (e.g. a connection's cancel) if the attempt is aborted meanwhile."""
        key = id(hook)
        with self._lock:
            self._cancel_hooks[key] = hook
        try:
            yield
        finally:
            with self._lock:
                self._cancel_hooks.pop(key, None)

    # -- child processes ---------------------------------------------------------------------

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets)

    @contextlib.contextmanager
    def spawn(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str],
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> Iterator[subprocess.Popen[bytes]]:
        """A child in its own process group, killed with its children if anything goes wrong."""
        self.check()
        logger.debug("attempt %d: running %s", self.number, self.mask(" ".join(command)))
        process = subprocess.Popen(
            list(command),
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        tail = _StderrTail(process, self.touch)
        with self._lock:
            self._processes.add(process)
            self._stderr[id(process)] = tail
        try:
            if self._aborted.is_set():
                kill_group(process)
            yield process
        finally:
            if process.poll() is None:
                kill_group(process)
            # Closing a stream that another thread is reading waits for that read to end.
            tail.join(timeout=5)
            with self._lock:
                self._processes.discard(process)
                self._stderr.pop(id(process), None)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def run(self, command: Sequence[str], *, env: dict[str, str], what: str) -> None:
        """Run a tool to completion; a failure becomes a (possibly transient) copy error."""
        with self.spawn(command, env=env) as process:
            process.wait()
            stderr = self.stderr(process)
        self.raise_for(process.returncode, stderr, what=what)

    def stderr(self, process: subprocess.Popen[bytes]) -> bytes:
        """The end of what a child spawned by this attempt wrote to stderr, once it has exited."""
        with self._lock:
            tail = self._stderr.get(id(process))
        return tail.result() if tail is not None else b""

    def raise_for(self, returncode: int, stderr: bytes, *, what: str) -> None:
        self.check()
        if returncode == 0:
            return
        message = self.mask(stderr.decode("utf-8", "replace").strip())[-2000:]
        error_class = TransientCopyError if is_transient(message) else CopyError
        raise error_class(
            f"{what} failed (exit code {returncode}): {message}",
            details={"tool": command_name(what), "exit_code": returncode},
        )


class _StderrTail(threading.Thread):
    """Reads a child's stderr as it comes, keeping only its end.

    Read from the start, never after the child exits: the MariaDB client echoes the whole
    failed statement (megabytes of an extended INSERT) before it exits, and with nobody
    reading, it blocked for ever on the full pipe while its feeder waited for it to read its
    input or exit.
    """

    KEEP = 64 * 1024

    def __init__(self, process: subprocess.Popen[bytes], touch: Callable[[], None]) -> None:
        super().__init__(name=f"dbcopy-stderr-{process.pid}", daemon=True)
        self._stream = process.stderr
        self._touch = touch
        self._data = bytearray()
        self.start()

    def run(self) -> None:
        if self._stream is None:
            return
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._stream.read1(1 << 16):  # type: ignore[attr-defined]
                self._data += chunk
                self._touch()
                if len(self._data) > 2 * self.KEEP:
                    del self._data[: -self.KEEP]

    def result(self) -> bytes:
        self.join(timeout=10)
        return bytes(self._data[-self.KEEP :])


def command_name(what: str) -> str:
    return what.split()[0] if what else ""


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Enlarge a pipe from Linux's 64 KB to ``size``: a client tool and this process then wake
    each other for every MB instead of every 64 KB. Elsewhere, or beyond the user's pipe
    quota, the pipe keeps its size."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setpipe, size)
