"""Where a model card says a model and its data came from: hub ids in the metadata, local paths only as names.

:func:`infer_base_model` finds the hub repo id a transformer was loaded from (a hub-cache snapshot
folder counts as its repo). :func:`card_datasets` splits a card's data into hub dataset ids (the
``datasets:`` metadata) and descriptions for the text, where a local file appears by its base name.
:func:`source_text` says in words where a model loaded from a local folder came from.
"""

from __future__ import annotations

import os
import re
from typing import Any

from textcl.hub import is_local_path

__all__ = ["card_datasets", "infer_base_model", "loaded_from", "source_text"]

# a Hugging Face hub id ("snli", "sentence-transformers/all-nli"): what the card's ``datasets:`` may hold
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
# a snapshot in the hub cache: .../models--ORG--NAME/snapshots/REVISION
_CACHE_SNAPSHOT_RE = re.compile(r"models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\][^/\\]+[/\\]?$")


def loaded_from(model: Any) -> str | None:
    """The name or folder a transformer model's weights were loaded from (None for word-vector encoders)."""
    inner = getattr(getattr(model, "encoder", None), "model", None)
    name = getattr(getattr(inner, "config", None), "_name_or_path", None) or getattr(inner, "name_or_path", None)
    return name if isinstance(name, str) and name else None


def infer_base_model(model: Any) -> str | None:
    """The hub repo id a transformer model was loaded from, or None (local folder, word vectors).

    A folder of the hub cache (``.../models--ORG--NAME/snapshots/REV``) counts as its repo id.
    """
    name = loaded_from(model)
    if name is None:
        return None
    cached = _CACHE_SNAPSHOT_RE.search(name)
    if cached:
        return f"{cached.group(1)}/{cached.group(2)}"
    return None if is_local_path(name) else name


def card_datasets(datasets: list[str]) -> tuple[list[str], list[str]]:
    """``(hub ids, descriptions)``: the card's ``datasets:`` metadata holds only hub dataset names.

    A local file or folder is described by its base name (``local data: train.csv``), never by its path;
    other descriptions (``SNLI (SentEval dev+test)``) are kept as text.
    """
    ids, described = [], []
    for entry in map(str, datasets):
        prefix, _, rest = entry.partition(":")
        if _HUB_ID_RE.match(entry) and not is_local_path(entry):
            ids.append(entry)
            described.append(entry)
        elif rest and is_local_path(rest):  # e.g. senteval-snli:/data/SNLI
            described.append(f"{prefix} (local data: {os.path.basename(os.path.normpath(rest))})")
        elif is_local_path(entry):
            described.append(f"local data: {os.path.basename(os.path.normpath(entry))}")
        else:
            described.append(entry)
    return ids, described


def source_text(source: str | None) -> str | None:
    """Where weights came from, in words: a local folder by its name and its card's title, never its path."""
    if not source:
        return None
    folder = os.path.expanduser(source)
    if not os.path.isdir(folder):
        return source
    text = f"the local folder `{os.path.basename(os.path.normpath(folder))}`"
    title = _card_title(os.path.join(folder, "README.md"))
    return f"`{title}` ({text})" if title else text


def _card_title(readme: str) -> str | None:
    """The first ``# title`` of a folder's card, if it has one."""
    if not os.path.isfile(readme):
        return None
    with open(readme, encoding="utf-8", errors="replace") as f:
        in_front_matter = False
        for number, line in enumerate(f):
            if line.strip() == "---" and (number == 0 or in_front_matter):
                in_front_matter = not in_front_matter
            elif not in_front_matter and line.startswith("# ") and line[2:].strip():
                return line[2:].strip().strip("`")
    return None
