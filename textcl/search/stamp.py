"""What a saved search index was built from.

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
import os
from typing import Any

from textcl.storage.read import read_npy

__all__ = ["embeddings_stamp", "stamp_differences"]

SAMPLE_BYTES = 1 << 20


def embeddings_stamp(path: str) -> dict[str, Any]:
    """The stamp of the ``.npy`` at ``path``: size, mtime_ns, shape, dtype and sampled SHA-256."""
    arr = read_npy(path, mmap_mode="r")
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
