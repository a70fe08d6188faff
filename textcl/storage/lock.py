"""One writer per output folder: ``FOLDER/.textcl.lock``, held for the whole run.

The lock is an operating-system lock on the lock file (``fcntl.flock`` on POSIX,
``msvcrt.locking`` of one byte far past the record on Windows), which the kernel
releases when its holder dies (even by ``kill -9``), so a crashed run never blocks
the next one. Where neither exists, the record alone decides. The file also records the holder (pid, host, start time, command) for the
error message, and a holder that is alive on this host is respected even on a
file system where ``flock`` does not reach across processes.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sys
import time
import warnings
from types import TracebackType
from typing import Any

from textcl.storage.errors import LockHeldError
from textcl.storage.folders import LOCK_FILE, pid_alive
from textcl.storage.read import read_json

__all__ = ["OutputLock", "LOCK_FILE", "read_lock"]



_FAR = 1 << 30  # Windows locks a byte range: one byte far past the JSON record, which stays writable


def _os_lock(fd: int) -> None:
    """Take the operating system's exclusive lock on ``fd`` without waiting; ``BlockingIOError`` when held."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    try:
        import msvcrt
    except ImportError:
        return  # no OS lock here: the holder's record (a live pid on this host) is what refuses a second run
    os.lseek(fd, _FAR, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as err:
        raise BlockingIOError(str(err)) from err
    finally:
        os.lseek(fd, 0, os.SEEK_SET)


def read_lock(folder: str, name: str = LOCK_FILE) -> dict[str, Any] | None:
    """What ``folder``'s lock file says about its holder, or ``None`` (no lock file, or unreadable)."""
    try:
        info = read_json(os.path.join(folder, name))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


class OutputLock:
    """Context manager: hold ``FOLDER/.textcl.lock`` so no second run writes to ``FOLDER``.

    Args:
        folder: the output folder (created if missing).
        what: what holds the lock, for messages (``"training run"``).
        command: the command line to record (default: ``sys.argv``).

    Raises:
        LockHeldError: (on enter) another live process holds the lock.

    Example:
        >>> with OutputLock("out/run"):
        ...     trainer.train()
    """

    def __init__(self, folder: str, what: str = "training run", command: str | None = None,
                 name: str = LOCK_FILE) -> None:
        self.folder = os.path.abspath(os.fspath(folder))
        self.path = os.path.join(self.folder, name)
        self.what = what
        self.command = command if command is not None else " ".join(sys.argv)
        self._fd: int | None = None

    # ------------------------------------------------------------------ acquire / release
    def acquire(self) -> "OutputLock":
        """Take the lock (see the class); returns ``self``."""
        if self._fd is not None:
            raise RuntimeError(f"this OutputLock already holds {self.path}")
        os.makedirs(self.folder, exist_ok=True)
        for _ in range(20):  # retried only when the file was replaced between open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _os_lock(fd)
            except BlockingIOError:
                os.close(fd)
                self._refuse(self._wait_for_info())
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:  # the holder released (and unlinked) it meanwhile
                same = False
            if not same:
                os.close(fd)
                continue
            try:
                self._take(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self
        raise RuntimeError(f"could not take the lock {self.path}: it was replaced 20 times in a row")

    def _take(self, fd: int) -> None:
        """Holding the flock: check what the file says, then write ourselves into it."""
        raw = os.read(fd, 1 << 16)
        previous: dict[str, Any] | None = None
        if raw.strip():
            try:
                previous = json.loads(raw)
            except ValueError:
                previous = None
        if isinstance(previous, dict) and self._alive(previous):
            self._refuse(previous)
        if raw.strip():
            who = (f"pid {previous.get('pid')}, started {previous.get('started')}" if isinstance(previous, dict)
                   else "an unreadable holder")
            warnings.warn(f"took over the stale lock {self.path} of a run that is no longer running ({who})",
                          stacklevel=3)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": self.command}
        data = json.dumps(info).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fsync(fd)

    @staticmethod
    def _alive(info: dict[str, Any]) -> bool:
        pid = info.get("pid")
        return (isinstance(pid, int) and info.get("host") == socket.gethostname()
                and pid != os.getpid() and pid_alive(pid))

    def _wait_for_info(self) -> dict[str, Any]:
        """The holder's record; a holder that just took the lock may not have written it yet."""
        for _ in range(50):
            info = read_lock(self.folder, os.path.basename(self.path))
            if info is not None:
                return info
            time.sleep(0.02)
        return {}

    def _refuse(self, info: dict[str, Any]) -> None:
        holder = (f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {info.get('started', '?')}, "
                  f"command: {info.get('command') or '?'}")
        raise LockHeldError(
            f"another {info.get('what', self.what)} ({holder}) writes to {self.target}: wait for it to finish "
            f"or choose another --output. If that run is gone, delete {self.path}", self.path, info)

    def release(self) -> None:
        """Remove the lock file and drop the lock (safe to call twice)."""
        if self._fd is None:
            return
        try:
            if os.path.exists(self.path) and os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.remove(self.path)  # removed while still locked, so no one takes a dying file
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def target(self) -> str:
        """What the lock guards: its folder, or the output it is named after (``.NAME.textcl.lock``)."""
        name = os.path.basename(self.path)
        if name != LOCK_FILE and name.startswith(".") and name.endswith(".textcl.lock"):
            return os.path.join(self.folder, name[1:-len(".textcl.lock")])
        return self.folder

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
