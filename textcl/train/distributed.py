"""Small helpers around :mod:`torch.distributed` for multi-process training.

Every helper works unchanged in a single process that never initialised a
process group: ranks and world sizes read as ``0`` and ``1`` and
:func:`gather_with_grad` returns its input. A training script therefore calls
:func:`init_distributed` once at start-up (it is a no-op outside ``torchrun``)
and :func:`cleanup` once at the end, and the rest of the code never branches
on whether it runs distributed.

Example:
    >>> # launched as: torchrun --nproc_per_node=2 train.py
    >>> distributed = init_distributed()
    >>> rank, world_size = get_rank(), get_world_size()
    >>> ...
    >>> cleanup()
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from textcl.losses.distributed import gather_with_grad, get_rank, get_world_size, is_distributed

__all__ = [
    "is_distributed",
    "get_rank",
    "get_local_rank",
    "get_world_size",
    "gather_with_grad",
    "average_gradients",
    "init_distributed",
    "cleanup",
]

BACKENDS = ("nccl", "gloo")


def get_local_rank() -> int:
    """Rank of this process on its machine, from torchrun's ``LOCAL_RANK`` (default 0).

    This is the index of the GPU the process should use.
    """
    return _int_from_env("LOCAL_RANK", default=0)


def init_distributed(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in the environment.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT``. Outside torchrun (``RANK`` or ``WORLD_SIZE`` unset) it
    does nothing and returns ``False``, so a script runs the same in one
    process. With the ``nccl`` backend it also selects GPU ``LOCAL_RANK``
    as this process's current CUDA device.

    Args:
        backend: ``"nccl"`` or ``"gloo"``; default ``"nccl"`` when CUDA is
            available, else ``"gloo"``.

    Returns:
        ``True`` if a process group is initialised on return, else ``False``.

    Raises:
        ValueError: unknown backend, ``nccl`` without CUDA, or a malformed
            environment variable (named in the message).
        RuntimeError: torch was built without distributed support.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if is_distributed():
        return True
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed support")
    rank = _int_from_env("RANK", default=0)
    world_size = _int_from_env("WORLD_SIZE", default=1)
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is not in [0, WORLD_SIZE={world_size})")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise ValueError("backend 'nccl' needs CUDA, which is not available: use 'gloo'")
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(
        backend=backend, init_method="env://", rank=rank, world_size=world_size
    )
    return True


def cleanup() -> None:
    """Destroy the default process group if one is initialised (else do nothing)."""
    if is_distributed():
        dist.destroy_process_group()


def _int_from_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} is not an integer"
        ) from None


def average_gradients(params) -> None:
    """Average the gradients of ``params`` over the processes (a no-op outside ``torchrun``)."""
    if not is_distributed():
        return
    world = get_world_size()
    for p in params:
        if p.requires_grad and p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= world
