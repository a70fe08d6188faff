"""Names and folders: local path or Hugging Face hub repo id, repo resolution, and which kind of folder a path holds.

**The rule.** A name is a *local path* when it

- exists (a file or folder, relative to the working directory),
- starts with ``/``, ``./``, ``../`` or ``~``,
- has two or more path separators (``data/nli/train``), or
- ends in a data-file extension (:data:`DATA_FILE_EXTENSIONS`: ``.csv``, ``.jsonl``, ``.txt``, ...).

Anything else (``bert-base-uncased``, ``sentence-transformers/all-nli``) is a *hub repo id*.

A local path that does not exist fails at once (:func:`missing_local_path_error`), with no
hub retries. A repo id is resolved through ``huggingface_hub`` / transformers / ``datasets``,
which honour ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``cache_folder``; when that fails too
the error names both readings (:func:`both_readings_error`).

Example:
    >>> is_local_path("sentence-transformers/all-MiniLM-L6-v2")
    False
    >>> is_local_path("./all-MiniLM-L6-v2"), is_local_path("runs/minilm/model"), is_local_path("nli.csv")
    (True, True, True)

**Folder kinds.** A folder holds a textcl model, a sentence-transformers pipeline, a plain
Hugging Face model, or nothing textcl reads (:func:`folder_kind`). The marker files are fixed (``docs/format.md``), so that no folder is ever read as a
different kind than the one that wrote it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["TEXTCL_CONFIG", "ST_MODULES", "HF_CONFIG", "folder_kind", "DATA_FILE_EXTENSIONS", "is_local_path",
           "local_path_reason", "ResolvedModel", "missing_local_path_error", "both_readings_error", "hub_errors",
           "hub_file", "resolve_model", "local_or_hub_st_folder"]

TEXTCL_CONFIG = "textcl_config.json"  # a textcl SentenceEncoder folder
ST_MODULES = "modules.json"  # a sentence-transformers pipeline folder
HF_CONFIG = "config.json"  # a Hugging Face model folder


def folder_kind(path: str) -> str | None:
    """``"textcl"``, ``"sentence-transformers"``, ``"transformers"`` or None for ``path``.

    A textcl folder is recognised first: it also carries sentence-transformers' ``modules.json``
    (so that ``SentenceTransformer(path)`` loads it), but ``textcl_config.json`` decides how textcl reads it.
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




# what a sentence-transformers pipeline needs from its repo (weights other than safetensors only if absent)
_ST_PATTERNS = ["*.json", "*.txt", "*.safetensors", "*.model", "1_Pooling/*", "2_Dense/*", "2_Normalize/*"]
_ST_LEGACY_WEIGHTS = ["*.bin"]
_OFFLINE_HINT = ("With HF_HUB_OFFLINE=1 only repos already in the cache (HF_HUB_CACHE or --cache-folder) "
                 "load; pass --revision / --token for a specific commit or a private repo.")


def missing_local_path_error(name: str, what: str = "model folder") -> FileNotFoundError:
    """The error for a name read as a local path that does not exist (raised before any hub lookup)."""
    return FileNotFoundError(
        f"{what} {name!r} does not exist (read as a local path because "
        f"{local_path_reason(name) or 'it looks like one'}; nothing at {os.path.abspath(os.path.expanduser(name))}). "
        "Check the path, or pass a Hugging Face hub repo id such as 'org/name'.")


def both_readings_error(name: str, what: str, err: BaseException) -> OSError:
    """One error naming both readings of ``name``: no local path, and the hub lookup's failure."""
    return OSError(
        f"could not load {what} {name!r}. As a local path: nothing exists at "
        f"{os.path.abspath(os.path.expanduser(name))}. As a Hugging Face hub repo id: "
        f"{type(err).__name__}: {str(err).strip()}\n{_OFFLINE_HINT}")


def hub_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "the hub lookup failed" (network, offline cache miss, unknown repo, bad id)."""
    from huggingface_hub.errors import HFValidationError

    return (OSError, HFValidationError)


def _hub_kwargs(revision: str | None, token: str | bool | None, cache_folder: str | None,
                local_files_only: bool = False) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"revision": revision, "token": token}
    if cache_folder is not None:
        kwargs["cache_dir"] = os.fspath(cache_folder)
    if local_files_only:
        kwargs["local_files_only"] = True
    return kwargs


def hub_file(repo_id: str, filename: str, *, revision: str | None = None, token: str | bool | None = None,
             cache_folder: str | None = None, local_files_only: bool = False) -> str | None:
    """The local path of ``filename`` from repo ``repo_id`` (cache first), or None when the repo lacks it.

    Offline (``HF_HUB_OFFLINE=1``) a file missing from the cache also gives None: the caller
    then tries the next reading, whose own error is the one reported.

    Raises:
        OSError: the repo does not exist, is gated, or the hub is unreachable.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return hf_hub_download(repo_id, filename, **_hub_kwargs(revision, token, cache_folder, local_files_only))
    except EntryNotFoundError:  # includes the offline cache miss (LocalEntryNotFoundError)
        return None


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name points.

    Attributes:
        path: a local folder, or the repo id itself for a plain transformers repo
            (transformers downloads or reads it from the cache).
        layout: ``"textcl"``, ``"sentence-transformers"`` or ``"transformers"``.
        repo_id: the hub repo id, or None for a local path.
    """

    path: str
    layout: str
    repo_id: str | None = None


def resolve_model(name_or_path: str | os.PathLike, *, revision: str | None = None,
                  token: str | bool | None = None, cache_folder: str | None = None,
                  local_files_only: bool = False) -> ResolvedModel:
    """Decide local path vs repo id for a model name and find its layout.

    A repo holding ``textcl_config.json`` (pushed with :func:`textcl.interop.push.push_to_hub`)
    is fetched whole; one holding ``modules.json`` is a sentence-transformers pipeline and
    only its pipeline files are fetched; any other repo is left to transformers.

    Args:
        name_or_path: a local folder or a hub repo id.
        revision: branch, tag or commit of a repo id (ignored for local paths).
        token: hub token for private or gated repos (default: the saved login / ``HF_TOKEN``).
        cache_folder: hub cache folder (default: ``HF_HUB_CACHE``).
        local_files_only: read a repo id from the cache only, as ``HF_HUB_OFFLINE=1`` does.

    Raises:
        FileNotFoundError: a local path that does not exist (no hub lookup is made).
        OSError: a repo id the hub (or the offline cache) does not have, naming both readings.
    """
    name = os.fspath(name_or_path)
    if is_local_path(name):
        path = os.path.expanduser(name)
        if not os.path.exists(path):
            raise missing_local_path_error(name)
        return ResolvedModel(path, folder_kind(path) or "transformers")
    hub = dict(revision=revision, token=token, cache_folder=cache_folder, local_files_only=local_files_only)
    try:
        if hub_file(name, TEXTCL_CONFIG, **hub) is not None:
            return ResolvedModel(_snapshot(name, None, **hub), "textcl", name)
        if hub_file(name, ST_MODULES, **hub) is not None:
            path = _snapshot(name, _ST_PATTERNS, **hub)
            if not glob.glob(os.path.join(path, "**", "*.safetensors"), recursive=True):
                path = _snapshot(name, _ST_PATTERNS + _ST_LEGACY_WEIGHTS, **hub)
            return ResolvedModel(path, "sentence-transformers", name)
    except hub_errors() as err:
        raise both_readings_error(name, "the model", err) from err
    return ResolvedModel(name, "transformers", name)


def _snapshot(repo_id: str, patterns: list[str] | None, *, revision: str | None, token: str | bool | None,
              cache_folder: str | None, local_files_only: bool = False) -> str:
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id, allow_patterns=patterns,
                             **_hub_kwargs(revision, token, cache_folder, local_files_only))


def local_or_hub_st_folder(name_or_path: str, *, revision: str | None = None, token: str | bool | None = None,
                           cache_folder: str | None = None) -> str | None:
    """A local folder holding the sentence-transformers pipeline ``name_or_path`` names, or None.

    None for a local folder of another kind and for a hub repo without ``modules.json``.
    """
    resolved = resolve_model(name_or_path, revision=revision, token=token, cache_folder=cache_folder)
    return resolved.path if resolved.layout == "sentence-transformers" else None
