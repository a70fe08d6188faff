"""Worker for tests/train/test_distributed.py, launched by torchrun with 2 CPU processes.

Each rank trains a tiny linear "encoder" under DistributedDataParallel on its
slice of a global batch and compares, with one process's reference on the
whole batch, the loss (all-reduced mean) and the DDP-averaged parameter
gradients. Every rank writes what it measured to ``<out_dir>/rank<r>.json``;
the test makes the assertions.
"""

import copy
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from textcl.losses import InfoNCE
from textcl.train.distributed import cleanup, get_rank, get_world_size, init_distributed

LOCAL_BATCH, IN_DIM, EMB_DIM = 3, 6, 5

CONFIGS = {
    "one_hard_negative": dict(k=None, loss=dict(temperature=0.05)),
    "two_hard_negatives_alpha_symmetric": dict(
        k=2, loss=dict(temperature=0.1, hard_negative_weight=0.5, symmetric=True)
    ),
    "no_negatives_symmetric": dict(k=0, loss=dict(temperature=0.2, symmetric=True)),
}


def global_batch(world_size: int, k: int | None) -> dict[str, torch.Tensor]:
    """The same global batch on every rank; rank r uses rows r*B .. r*B + B - 1."""
    g = torch.Generator().manual_seed(1)
    size = world_size * LOCAL_BATCH
    batch = {
        "anchor": torch.randn(size, IN_DIM, generator=g, dtype=torch.float64),
        "positive": torch.randn(size, IN_DIM, generator=g, dtype=torch.float64),
    }
    if k is None:  # one hard negative per anchor, the (N, d) form
        batch["negatives"] = torch.randn(size, IN_DIM, generator=g, dtype=torch.float64)
    elif k > 0:
        batch["negatives"] = torch.randn(size, k, IN_DIM, generator=g, dtype=torch.float64)
    return batch


def encode_views(encoder: nn.Module, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """One forward pass over all views, as a trainer does under DDP."""
    n = batch["anchor"].shape[0]
    flat = [batch["anchor"], batch["positive"]]  # (N, IN) each
    if "negatives" in batch:
        flat.append(batch["negatives"].reshape(-1, IN_DIM))  # (N * k, IN)
    z = encoder(torch.cat(flat))  # (N * (2 + k), EMB)
    views = [z[:n], z[n : 2 * n]]  # (N, EMB) each
    if "negatives" in batch:
        views.append(z[2 * n :].reshape(*batch["negatives"].shape[:-1], EMB_DIM))  # (N, [k,] EMB)
    return views


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def compare_with_single_process(config: dict, rank: int, world_size: int) -> dict:
    torch.manual_seed(0)
    reference = nn.Linear(IN_DIM, EMB_DIM).double()
    encoder = DistributedDataParallel(copy.deepcopy(reference))
    batch = global_batch(world_size, config["k"])
    local = {key: t[rank * LOCAL_BATCH : (rank + 1) * LOCAL_BATCH] for key, t in batch.items()}

    loss = InfoNCE(**config["loss"], gather_across_ranks=True)(*encode_views(encoder, local))
    loss.backward()  # all_gather's backward sums across ranks; DDP averages the grads
    global_loss = loss.detach().clone()
    dist.all_reduce(global_loss)
    global_loss /= world_size

    expected = InfoNCE(**config["loss"], gather_across_ranks=False)(
        *encode_views(reference, batch)
    )
    expected.backward()

    # without gathering each rank only sees its own in-batch negatives: a
    # different loss, which shows the comparison above can fail
    local_only = InfoNCE(**config["loss"], gather_across_ranks=False)(
        *encode_views(copy.deepcopy(reference), local)
    ).detach()
    dist.all_reduce(local_only)
    local_only /= world_size

    return {
        "local_loss": loss.item(),
        "global_loss": global_loss.item(),
        "single_process_loss": expected.item(),
        "local_only_loss": local_only.item(),
        "max_grad_diff": max(
            max_abs_diff(p.grad, q.grad)
            for p, q in zip(encoder.module.parameters(), reference.parameters())
        ),
        "grad_norm": float(torch.cat([p.grad.flatten() for p in reference.parameters()]).norm()),
    }


def label_offsets(rank: int, world_size: int) -> dict:
    """Anchor i of rank r equals global positive r*N + i and nothing else.

    Correct labels give a loss near 0 on every rank; labels 0..N-1 on every
    rank would give about 1 / temperature on rank 1.
    """
    n = LOCAL_BATCH
    basis = torch.eye(world_size * n, dtype=torch.float64)  # orthogonal global rows
    mine = basis[rank * n : (rank + 1) * n]  # (N, W * N)
    loss = InfoNCE(temperature=0.01)(mine, mine, -mine)
    symmetric = InfoNCE(temperature=0.01, symmetric=True)(mine, mine)
    return {"loss": loss.item(), "symmetric_loss": symmetric.item()}


def mismatch_error(anchor: torch.Tensor, negatives: torch.Tensor | None) -> str:
    try:
        InfoNCE()(anchor, anchor.clone(), negatives)
    except ValueError as error:
        return str(error)
    return ""


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    assert init_distributed(), "expected torchrun's environment"
    rank, world_size = get_rank(), get_world_size()
    result = {"rank": rank, "world_size": world_size}
    for name, config in CONFIGS.items():
        result[name] = compare_with_single_process(config, rank, world_size)
    result["label_offsets"] = label_offsets(rank, world_size)
    # every rank must raise, not hang: unequal N, then hard negatives on one rank only
    result["unequal_batch_error"] = mismatch_error(torch.randn(2 + rank, 4), None)
    result["unequal_negatives_error"] = mismatch_error(
        torch.randn(2, 4), torch.randn(2, 4) if rank == 0 else None
    )
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result, indent=2))
    dist.barrier()
    cleanup()


if __name__ == "__main__":
    main(sys.argv[1])
