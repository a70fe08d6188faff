"""Reading a file the user supplied: every parse names the file and says what to do, in one line.

JSON of any depth, safetensors headers, torch pickles (``weights_only=True``: a pickle that would
run code is refused) and ``.npy`` files (never pickled) all fail as ``ValueError("PATH ...")``; a
missing file stays ``FileNotFoundError``.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["read_json", "read_safetensors", "read_torch", "read_npy"]

_FIX = "restore the file, or re-save the folder it belongs to"


def _fail(path: str | os.PathLike, what: str, err: BaseException, fix: str) -> ValueError:
    reason = "nested too deeply" if isinstance(err, RecursionError) else f"{type(err).__name__}: {err}"
    return ValueError(f"{os.fspath(path)} is not {what} ({' '.join(reason.split())[:200]}): {fix}")


def read_json(path: str | os.PathLike, fix: str = _FIX) -> Any:
    """The JSON value in ``path`` (UTF-8)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _fail(path, "readable JSON", err, fix) from None


def read_safetensors(path: str | os.PathLike, fix: str = _FIX) -> dict[str, Any]:
    """The tensors of a ``.safetensors`` file (on CPU)."""
    from safetensors.torch import load_file

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)} does not exist: {fix}")
    try:
        return load_file(os.fspath(path))
    except Exception as err:  # safetensors raises its own error type for a bad header or a short file
        raise _fail(path, "a readable safetensors file", err, fix) from None


def read_torch(path: str | os.PathLike, fix: str = _FIX) -> Any:
    """A ``torch.save`` file, with ``weights_only=True`` (tensors and plain containers only)."""
    import torch

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)} does not exist: {fix}")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # UnpicklingError (a refused object), RuntimeError (a damaged zip), EOFError, ...
        raise _fail(path, "a readable torch file of tensors", err, fix) from None


def read_npy(path: str | os.PathLike, mmap_mode: str | None = None, fix: str = _FIX):
    """A ``.npy`` array (never unpickled)."""
    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)} does not exist: {fix}")
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _fail(path, "a readable .npy array", err, fix) from None
