"""The record of a corpus encode in progress: ``OUT.partial.progress.json``.

While ``textcl encode`` runs, the output lives in ``OUT.partial`` (a ``.npy``
created at its final shape) and this record says which chunks of it are
finished. It is rewritten atomically after the rows of each finished chunk are
flushed and fsynced, so it never claims a chunk the disk does not hold. A
resumed job reads it, refuses when the input, model or settings differ, and
skips the finished chunks.

Example record::

    {"format": "textcl-encode-progress", "version": 1,
     "plan": {"rows": 10000, "chunk_size": 1024, "num_chunks": 10, "dim": 384, "width": 384,
              "dtype": "float32", "line_numbers": false},
     "input": {"kind": "file", "size": 512345, "sha256_head": "...", "sha256_tail": "...", ...},
     "settings": {"model": "all-MiniLM-L6-v2", "model_fingerprint": "...", "batch_size": 64, ...},
     "finished_chunks": [[0, 4], [6, 7]],
     "source": "corpus.txt", "updated": "2025-01-01T12:00:00+00:00"}

``finished_chunks`` lists half-open ranges of chunk indices (compact for 100k chunks).
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Iterable

from textcl.storage import atomic_write_json
from textcl.storage.read import read_json

__all__ = ["PROGRESS_FORMAT", "PROGRESS_VERSION", "partial_path", "progress_path", "line_numbers_path",
           "write_progress", "read_progress", "differing_keys", "to_ranges", "from_ranges"]

PROGRESS_FORMAT = "textcl-encode-progress"
PROGRESS_VERSION = 1


def partial_path(output: str) -> str:
    """Where the output is written until it is complete: ``emb.npy`` -> ``emb.npy.partial``."""
    return output + ".partial"


def progress_path(output: str) -> str:
    """The progress record of ``output``: ``emb.npy`` -> ``emb.npy.partial.progress.json``."""
    return partial_path(output) + ".progress.json"


def line_numbers_path(output: str) -> str:
    """Where ``skip_empty`` records the input line of each output row: ``emb.npy`` -> ``emb.lines.npy``."""
    root, _ = os.path.splitext(output)
    return root + ".lines.npy"


def to_ranges(chunks: Iterable[int]) -> list[list[int]]:
    """``{0, 1, 2, 5}`` -> ``[[0, 3], [5, 6]]`` (sorted half-open ranges)."""
    ranges: list[list[int]] = []
    for c in sorted(set(chunks)):
        if ranges and ranges[-1][1] == c:
            ranges[-1][1] = c + 1
        else:
            ranges.append([c, c + 1])
    return ranges


def from_ranges(ranges: Iterable[Iterable[int]]) -> set[int]:
    """Inverse of :func:`to_ranges`."""
    return {c for start, end in ranges for c in range(start, end)}


def write_progress(output: str, record: dict[str, Any], finished: Iterable[int]) -> None:
    """Atomically write ``record`` with its ``finished_chunks`` replaced by ``finished``."""
    record = dict(record, finished_chunks=to_ranges(finished),
                  updated=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
    atomic_write_json(progress_path(output), record)


def read_progress(output: str) -> dict[str, Any] | None:
    """The progress record of ``output``, or ``None`` when there is none.

    Raises:
        ValueError: the file exists but is not a progress record of this version.
    """
    path = progress_path(output)
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is unreadable ({err}): pass --overwrite to start the encode again") from None
    if not isinstance(record, dict) or record.get("format") != PROGRESS_FORMAT:
        raise ValueError(f"{path} is not a textcl encode progress record: pass --overwrite to start again")
    if record.get("version") != PROGRESS_VERSION:
        raise ValueError(f"{path} has version {record.get('version')!r}; this textcl reads version "
                         f"{PROGRESS_VERSION}: finish the job with the textcl that started it, or --overwrite")
    return record


def differing_keys(stored: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the keys whose values differ between two nested dicts (missing keys count)."""
    keys = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key), current.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differing_keys(a, b, name + ".")
        elif a != b:
            keys.append(name)
    return keys
