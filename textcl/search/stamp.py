"""What a saved search index was built from, and atomic writes of its files.

A saved index is only valid for the exact ``.npy`` it was built from. Its
JSON sidecar records a *stamp* of that file (size, modification time, array
shape and dtype, and a SHA-256 of its header and of three 1 MiB samples at
the start, middle and end), so that a rewritten, grown or touched file is
detected and the index rebuilt, never silently reused. Hashing samples rather
than the whole file keeps the check instant on a 100 GB corpus; a change
that keeps size, mtime and every sampled byte is not detected.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable

import numpy as np

__all__ = ["embeddings_stamp", "stamp_differences", "atomic_write", "atomic_write_json"]

SAMPLE_BYTES = 1 << 20


def embeddings_stamp(path: str) -> dict[str, Any]:
    """The stamp of the ``.npy`` at ``path``: size, mtime_ns, shape, dtype and sampled SHA-256."""
    arr = np.load(path, mmap_mode="r")
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, st.st_size // 2 - SAMPLE_BYTES // 2), max(0, st.st_size - SAMPLE_BYTES)}):
            f.seek(offset)
            digest.update(f.read(SAMPLE_BYTES))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "shape": list(arr.shape), "dtype": str(arr.dtype),
            "sampled_sha256": digest.hexdigest()}


def stamp_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Names of the stamp fields that differ (empty when the file is unchanged)."""
    return [key for key in current if saved.get(key) != current[key]]


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Write ``path`` through ``write(tmp_path)`` into a temporary sibling, fsync it, then rename it in.

    A crash leaves the old file (or none), never a half-written one; the temporary
    file is removed on failure.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_directory(directory)


def atomic_write_json(path: str, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    atomic_write(path, write)


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
