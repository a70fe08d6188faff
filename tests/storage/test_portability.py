"""textcl imports and locks without POSIX-only modules (as on Windows)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import sys
sys.modules["fcntl"] = None          # as on Windows: importing it fails
import importlib, pkgutil, os
import textcl
for m in pkgutil.walk_packages(textcl.__path__, "textcl."):
    importlib.import_module(m.name)
from textcl import SentenceEncoder
from textcl.storage import LockHeldError, OutputLock, output_lock
target = sys.argv[1]
with output_lock(target, "a portable test"):
    with open(target, "w") as f:
        f.write("ok")
import subprocess
SECOND = ("import sys; sys.modules['fcntl'] = None\n"
          "from textcl.storage import LockHeldError, OutputLock\n"
          "try:\n    OutputLock(sys.argv[1], what='second').acquire()\n"
          "except LockHeldError:\n    print('refused')\n")
with OutputLock(os.path.dirname(target), what="first"):  # a second process is refused by the record alone
    second = subprocess.run([sys.executable, "-c", SECOND, os.path.dirname(target)], capture_output=True, text=True)
    if "refused" not in second.stdout:
        raise SystemExit("a second writer was not refused: " + second.stderr[-1000:])
print("portable")
"""


def test_every_module_imports_and_a_locked_save_runs_without_fcntl(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out.txt")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "portable" in done.stdout, done.stderr[-2000:]
    assert (tmp_path / "out.txt").read_text() == "ok"
