"""Which kind of folder a path holds: a textcl model, a sentence-transformers pipeline, a plain
Hugging Face model, a classifier, a checkpoint, or nothing textcl reads.

The marker files are fixed (``docs/format.md``), so that no folder is ever read as a
different kind than the one that wrote it.
"""

from __future__ import annotations

import os

__all__ = ["TEXTCL_CONFIG", "ST_MODULES", "HF_CONFIG", "folder_kind"]

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
