"""Output locks: one writer per folder; a crashed writer's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from textcl.storage import LOCK_FILE, LockHeldError, OutputLock, read_lock

HOLDER = """
import sys, time
from textcl.storage import OutputLock
with OutputLock(sys.argv[1], command="textcl train --output X"):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_file_records_holder_and_is_removed(tmp_path):
    folder = tmp_path / "run"
    with OutputLock(str(folder), command="textcl train") as lock:
        assert lock.held
        info = read_lock(str(folder))
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert info["command"] == "textcl train" and info["what"] == "training run" and info["started"]
    assert not lock.held and not (folder / LOCK_FILE).exists()


def test_released_on_exception(tmp_path):
    with pytest.raises(KeyError):
        with OutputLock(str(tmp_path)):
            raise KeyError("boom")
    assert not (tmp_path / LOCK_FILE).exists()
    with OutputLock(str(tmp_path)):  # free again
        pass


def test_second_holder_in_another_process_is_refused(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(LockHeldError, match=rf"pid {proc.pid} on .*writes to {tmp_path}.*--output") as err:
            with OutputLock(str(tmp_path)):
                pytest.fail("the block must not run")
        assert err.value.holder["command"] == "textcl train --output X"
        assert (tmp_path / LOCK_FILE).exists()  # the refused contender did not disturb the holder
    finally:
        proc.kill()
        proc.wait()
    with pytest.warns(UserWarning, match=f"stale lock .*pid {proc.pid}"):  # killed: the kernel dropped its lock
        with OutputLock(str(tmp_path)):
            assert read_lock(str(tmp_path))["pid"] == os.getpid()


def test_second_holder_in_same_process_is_refused(tmp_path):
    with OutputLock(str(tmp_path)):
        with pytest.raises(LockHeldError, match=f"pid {os.getpid()}"):
            OutputLock(str(tmp_path)).acquire()
        assert read_lock(str(tmp_path))["pid"] == os.getpid()


def test_stale_lock_of_dead_pid_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 999996, "host": socket.gethostname(),
                                                  "started": "2024-01-01T00:00:00"}))
    with pytest.warns(UserWarning, match="pid 999996, started 2024-01-01"):
        with OutputLock(str(tmp_path)):
            assert read_lock(str(tmp_path))["pid"] == os.getpid()
    (tmp_path / LOCK_FILE).write_text("{trunc")  # a holder killed while writing its record
    with pytest.warns(UserWarning, match="unreadable holder"):
        with OutputLock(str(tmp_path)):
            pass


def test_live_pid_without_flock_is_respected(tmp_path):
    # a lock file naming a running process (as on a file system where flock is not shared)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname(),
                                                      "started": "now", "command": "textcl train"}))
        with pytest.raises(LockHeldError, match=f"pid {proc.pid}"):
            with OutputLock(str(tmp_path)):
                pass
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == proc.pid  # left as it was
    finally:
        proc.kill()
        proc.wait()
