"""Resumable checkpoints: a folder with the model's weights and a plain training-state dict.

Layout of a checkpoint folder (see ``docs/format.md``)::

    checkpoint/
      model.safetensors      every parameter of the SentenceEncoder (safetensors)
      trainer_state.pt       {"optimizer", "scheduler", "scaler", "step", "epoch", "batch_in_epoch",
                              "rng", "config", "best_metric"}  (read with weights_only=True)
      textcl_manifest.json   kind "checkpoint"; size and SHA-256 of both files

A checkpoint is written into a temporary sibling, fsynced, and swapped in whole
(:func:`textcl.storage.atomic_folder`): a crash at any moment leaves a complete
checkpoint at ``checkpoint/``, or ``checkpoint/`` missing and a complete
``checkpoint.old`` or temporary sibling, which :func:`resolve_checkpoint` finds.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from textcl.storage import (
    atomic_folder,
    atomic_write_bytes,
    complete_sibling,
    find_siblings,
    read_manifest,
    verify_manifest,
)
from textcl.storage.read import read_torch

__all__ = [
    "CHECKPOINT_KIND",
    "MODEL_FILE",
    "STATE_FILE",
    "compare_settings",
    "is_checkpoint",
    "load_checkpoint",
    "quiet_saves",
    "resolve_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "setting",
    "trim_metrics",
]

MODEL_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
CHECKPOINT_KIND = "checkpoint"


@contextlib.contextmanager
def quiet_saves() -> Iterator[None]:
    """Silence transformers' progress bars (``save_pretrained``'s "Writing model shards") for the block.

    The trainer saves inside this, so a save during training does not break the training bar;
    the previous setting is restored afterwards. transformers not imported yet: nothing of it can print.
    """
    hf = sys.modules.get("transformers")
    if hf is None:
        yield
        return
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) random states in a ``weights_only``-loadable form."""
    np_state = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def is_checkpoint(path: str) -> bool:
    """Whether ``path`` is a textcl checkpoint folder (by its manifest; older ones by their two files)."""
    try:
        manifest = read_manifest(path)
    except ValueError:
        return False
    if manifest is not None:
        return manifest.get("kind") == CHECKPOINT_KIND
    return all(os.path.isfile(os.path.join(path, name)) for name in (MODEL_FILE, STATE_FILE))


def save_checkpoint(path: str, model: torch.nn.Module, state: dict[str, Any], overwrite: bool = False) -> None:
    """Atomically write ``model``'s weights and the training ``state`` to folder ``path``.

    Args:
        path: the checkpoint folder; an earlier checkpoint there is replaced whole.
        model: the module whose parameters are saved.
        state: the training state (tensors and plain Python values only).
        overwrite: replace ``path`` even if it holds something other than a checkpoint.

    Raises:
        OutputExistsError: ``path`` is a file, or a non-empty folder that is not a checkpoint.
    """
    with atomic_folder(path, overwrite=overwrite, kind_check=is_checkpoint, kind=CHECKPOINT_KIND) as tmp:
        save_model(model, os.path.join(tmp, MODEL_FILE))
        torch.save(state, os.path.join(tmp, STATE_FILE))


def _check(path: str, verify: bool) -> None:
    """Raise if ``path`` is not a complete, undamaged checkpoint."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path} does not exist")
    manifest = verify_manifest(path, verify=verify, allow_missing=True)
    if manifest is None:  # written before manifests existed: both files must be there
        for name in (MODEL_FILE, STATE_FILE):
            if not os.path.isfile(os.path.join(path, name)):
                raise FileNotFoundError(f"{os.path.join(path, name)} is missing: {path!r} is not a complete "
                                        "textcl checkpoint (pass the run's checkpoint/ folder)")
        warnings.warn(f"{path} has no manifest (a checkpoint from an older textcl): its files cannot be "
                      "checked for damage", stacklevel=3)
    elif manifest.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is a textcl {manifest.get('kind')!r} folder, not a checkpoint: pass the "
                         "run's checkpoint/ folder")


def load_checkpoint(path: str, model: torch.nn.Module, verify: bool = True) -> dict[str, Any]:
    """Load weights from checkpoint folder ``path`` into ``model``; return the training state.

    ``path`` is used as given; call :func:`resolve_checkpoint` first to fall back
    to the last complete checkpoint after a crash.

    Args:
        path: the checkpoint folder.
        model: receives the weights (same architecture as the one saved).
        verify: hash the files against the manifest (sizes are always checked).

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        CorruptFolderError: a file is truncated, altered or unexpected (names it).
        ValueError: a file does not parse or the weights do not fit ``model`` (names it).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        leftovers = find_siblings(path)
        hint = f"; leftovers of an interrupted save: {', '.join(leftovers)}" if leftovers else ""
        raise FileNotFoundError(f"{path} does not exist: it is not a complete textcl checkpoint{hint} "
                                "(resolve_checkpoint picks the last complete one)")
    _check(path, verify)
    try:
        load_model(model, os.path.join(path, MODEL_FILE))
    except Exception as err:
        raise ValueError(f"checkpoint weights {os.path.join(path, MODEL_FILE)} are corrupt or do not match "
                         f"the model: {err}") from err
    state = read_torch(os.path.join(path, STATE_FILE), fix="resume from an undamaged checkpoint")
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ValueError(f"checkpoint state {os.path.join(path, STATE_FILE)} is corrupt: not a training state "
                         "with a 'step'")
    return state


def resolve_checkpoint(path: str, verify: bool = True) -> tuple[str, str | None]:
    """The checkpoint folder to resume from: ``path``, or the last complete leftover of a crash.

    Nothing is renamed: the next checkpoint the resumed run saves replaces them.

    Args:
        path: the checkpoint folder a run wrote (``OUTPUT/checkpoint``).
        verify: hash the files against the manifests (sizes are always checked).

    Returns:
        ``(folder to load, message)``; the message says why ``path`` was not used
        and is ``None`` when it was.

    Raises:
        FileNotFoundError: ``path`` is missing and no leftover is usable (the message
            lists each leftover and why it was refused).
        ValueError: ``path`` is damaged and no leftover is usable (same listing).
    """
    path = os.path.abspath(os.fspath(path))
    try:
        _check(path, verify)
        return path, None
    except (OSError, ValueError) as err:
        first: Exception = err
    sibling, refused = complete_sibling(path, verify, accept=is_checkpoint)
    if sibling is not None:
        return sibling, (f"{path} is not usable ({first}); resuming from {sibling}, the last complete "
                         "checkpoint")
    found = "".join(f"\n  {s}: {why}" for s, why in refused.items()) or "\n  no leftovers of an interrupted save"
    message = f"no usable checkpoint at {path}:\n  {path}: {first}{found}\nStart without --resume"
    raise (FileNotFoundError(message) if isinstance(first, FileNotFoundError) else ValueError(message)) from first


def trim_metrics(metrics_path: str, step: int) -> int:
    """Keep only the records of ``metrics.jsonl`` up to ``step``, so a resumed run repeats none.

    A last line cut short by a crash is dropped too. The file is rewritten atomically.

    Args:
        metrics_path: the run's ``metrics.jsonl`` (a missing file is left missing).
        step: the step the run resumes from.

    Returns:
        How many lines were dropped.

    Raises:
        ValueError: a line other than the last is not a JSON record (names the line).
    """
    if not os.path.isfile(metrics_path):
        return 0
    with open(metrics_path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    kept: list[bytes] = []
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError as err:
            if i == len(lines) - 1:
                continue  # cut short when the run was killed
            raise ValueError(f"{metrics_path} line {i + 1} is not a JSON record ({err}): fix or delete that "
                             "line") from err
        if not (isinstance(record, dict) and isinstance(record.get("step"), (int, float))
                and record["step"] > step):
            kept.append(line)
    if len(kept) != len(lines) or (data and not data.endswith(b"\n")):  # a resumed run appends whole lines
        atomic_write_bytes(metrics_path, b"".join(line + b"\n" for line in kept))
    return len(lines) - len(kept)


def compare_settings(stored: dict[str, Any], new: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """The ``keys`` whose values differ between a stored run's settings and a new one's.

    Keys may be dotted paths into nested dicts (``"extra.view"``). A key present
    on one side only counts as differing. Values are compared as JSON, so a tuple
    equals the list it was stored as.

    Args:
        stored: the settings the run was started with (``train_config.json``).
        new: the settings of the run that wants to resume it.
        keys: which settings must not change (lr, batch size, seed, model, data, view, loss).

    Returns:
        The differing keys, in the order given.
    """
    missing = object()

    def get(d: dict[str, Any], key: str) -> Any:
        return setting(d, key, missing)

    def norm(v: Any) -> Any:
        return v if v is missing else json.dumps(v, sort_keys=True, default=repr)

    return [k for k in keys if norm(get(stored, k)) != norm(get(new, k))]


def setting(settings: dict[str, Any], key: str, default: Any = None) -> Any:
    """The value at dotted ``key`` (``"train.lr"``) of nested ``settings``, else ``default``."""
    value: Any = settings
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value
