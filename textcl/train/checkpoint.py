"""Resumable checkpoints: a folder with the model's weights and a plain training-state dict.

Layout of a checkpoint folder::

    checkpoint/
      model.safetensors     every parameter of the SentenceEncoder (safetensors)
      trainer_state.pt      {"optimizer", "scheduler", "scaler", "step", "epoch", "batch_in_epoch",
                             "rng", "config", "best_metric"}  (read with weights_only=True)

Folders are written under a temporary name and swapped in with ``os.replace``,
so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
import shutil
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "MODEL_FILE", "STATE_FILE"]

MODEL_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"


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


def save_checkpoint(path: str, model: torch.nn.Module, state: dict[str, Any]) -> None:
    """Atomically write ``model``'s weights and the training ``state`` to folder ``path``."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp"
    old = f"{path}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_model(model, os.path.join(tmp, MODEL_FILE))
    torch.save(state, os.path.join(tmp, STATE_FILE))
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(path):
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: str, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights from checkpoint folder ``path`` into ``model``; return the training state.

    Raises:
        FileNotFoundError: if the folder or one of its files is missing.
        ValueError: if a file is corrupt (names it; the run cannot resume from it).
    """
    for name in (MODEL_FILE, STATE_FILE):
        if not os.path.isfile(os.path.join(path, name)):
            raise FileNotFoundError(f"{os.path.join(path, name)} is missing: {path!r} is not a complete "
                                    "textcl checkpoint (pass the run's checkpoint/ folder)")
    try:
        load_model(model, os.path.join(path, MODEL_FILE))
    except Exception as err:
        raise ValueError(f"checkpoint weights {os.path.join(path, MODEL_FILE)} are corrupt or do not match "
                         f"the model: {err}") from err
    try:
        return torch.load(os.path.join(path, STATE_FILE), weights_only=True, map_location="cpu")
    except Exception as err:
        raise ValueError(f"checkpoint state {os.path.join(path, STATE_FILE)} is corrupt: {err}") from err
