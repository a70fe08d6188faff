"""Whether a name is a local path, and which kind of folder a path holds: a textcl model, a sentence-transformers pipeline, a plain
Hugging Face model, a classifier, a checkpoint, or nothing textcl reads.

The marker files are fixed (``docs/format.md``), so that no folder is ever read as a
different kind than the one that wrote it.
"""

from __future__ import annotations

import os

__all__ = ["TEXTCL_CONFIG", "ST_MODULES", "HF_CONFIG", "folder_kind", "DATA_FILE_EXTENSIONS", "is_local_path",
           "local_path_reason"]

TEXTCL_CONFIG = "textcl_config.json"  # a textcl SentenceEncoder folder
ST_MODULES = "modules.json"  # a sentence-transformers pipeline folder
HF_CONFIG = "config.json"  # a Hugging Face model folder


def folder_kind(path: str) -> str | None:
    """``"textcl"``, ``"sentence-transformers"``, ``"transformers"`` or None for ``path``.

    A textcl folder is recognised first: textcl never writes ``modules.json`` into
    its own folders, so a folder with both was not written by textcl alone.
    """
    if not os.path.isdir(path):
        return None
    if os.path.isfile(os.path.join(path, TEXTCL_CONFIG)):
        return "textcl"
    if os.path.isfile(os.path.join(path, ST_MODULES)):
        return "sentence-transformers"
    if os.path.isfile(os.path.join(path, HF_CONFIG)):
        return "transformers"
    return None


# A name is a local path when it exists, starts with /, ./, ../ or ~, has two or more path separators,
# or ends in a data-file extension; anything else is a Hugging Face hub repo id.
DATA_FILE_EXTENSIONS = frozenset({
    ".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt", ".arrow", ".npy", ".npz",
    ".gz", ".bz2", ".xz", ".zst", ".zip", ".tar",
})
_LOCAL_PREFIXES = ("/", "./", "../", "~")


def local_path_reason(name: str | os.PathLike) -> str | None:
    """Why ``name`` is read as a local path (a short phrase), or None when it is a hub repo id."""
    name = os.fspath(name)
    if os.path.exists(os.path.expanduser(name)):
        return "it exists"
    unix = name.replace(os.sep, "/") if os.sep != "/" else name
    for prefix in _LOCAL_PREFIXES:
        if unix.startswith(prefix):
            return f"it starts with {prefix!r}"
    if unix.count("/") >= 2:
        return "it has two or more path separators"
    ext = os.path.splitext(unix)[1].lower()
    if ext in DATA_FILE_EXTENSIONS:
        return f"it ends in the data-file extension {ext!r}"
    return None


def is_local_path(name: str | os.PathLike) -> bool:
    """True when ``name`` is read as a local path, False when it is a hub repo id (see the module rule)."""
    return local_path_reason(name) is not None
