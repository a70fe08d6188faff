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
from textcl.train.queue import MomentumQueue
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


def masked_duplicates(rank: int, world_size: int) -> dict:
    """``mask_duplicates`` with duplicates that sit on different ranks.

    The global batch has 2N rows; rows 0 and N + 1 (rank 0 and rank 1) share a
    text, and row 1's hard negative equals row N's positive. The text ids are
    gathered like the embeddings, so the 2-rank loss must equal one process's
    masked loss on the global batch, and differ from the unmasked one.
    Second, the log-N example across ranks: every row the same text with the
    same embedding gives ``log(2N + 2N)`` unmasked (2N positives + 2N hard
    negatives as candidates), 0 masked.
    """
    n = LOCAL_BATCH
    g = torch.Generator().manual_seed(3)
    a, noise, neg = torch.randn(3, world_size * n, EMB_DIM, generator=g, dtype=torch.float64).unbind(0)
    p = a + 0.1 * noise  # positives close to their anchors: a duplicate among the negatives costs a lot
    ids = torch.arange(3 * world_size * n).reshape(3, -1).T.clone()  # (2N, 3): all distinct
    ids[n + 1, 0] = ids[0, 0]  # an anchor duplicated across ranks
    p[n + 1], a[n + 1] = p[0], a[0]
    ids[1, 2] = ids[n, 1]  # a hard negative equal to another rank's positive
    neg[1] = p[n]
    rows = slice(rank * n, (rank + 1) * n)
    masked = InfoNCE(temperature=0.1, mask_duplicates=True)
    local = masked(a[rows], p[rows], neg[rows], text_ids=ids[rows]).detach()
    dist.all_reduce(local)
    single = InfoNCE(temperature=0.1, mask_duplicates=True, gather_across_ranks=False)(a, p, neg, text_ids=ids)
    unmasked = InfoNCE(temperature=0.1, gather_across_ranks=False)(a, p, neg)
    same = torch.ones(n, EMB_DIM, dtype=torch.float64)
    same_ids = torch.zeros(n, 3, dtype=torch.long)
    return {
        "global_loss": local.item() / world_size,
        "single_process_loss": single.item(),
        "unmasked_loss": unmasked.item(),
        "identical_unmasked": InfoNCE(temperature=0.05)(same, same, same).item(),
        "identical_masked": InfoNCE(temperature=0.05, mask_duplicates=True)(
            same, same, same, text_ids=same_ids).item(),
    }


def queue_gather(rank: int, world_size: int) -> dict:
    """Each rank enqueues its own keys twice; the queue must be the rank-ordered global batch on every rank."""
    torch.manual_seed(0)
    model = nn.Linear(IN_DIM, EMB_DIM)
    model.embedding_dim = EMB_DIM
    queue = MomentumQueue(model, size=3 * world_size, momentum=0.9)
    reference = MomentumQueue(model, size=3 * world_size, momentum=0.9)
    for step in range(2):  # 2 * W * 2 rows into a queue of 3W: the FIFO wraps
        g = torch.Generator().manual_seed(10 + step)
        keys = torch.randn(world_size * 2, EMB_DIM, generator=g)  # the global batch, rank order
        ids = torch.arange(world_size * 2) + 100 * step
        mine = slice(rank * 2, rank * 2 + 2)
        queue.enqueue(keys[mine], ids[mine])
        reference.embeddings, reference.ids = reference.embeddings.clone(), reference.ids.clone()
        _enqueue_local(reference, keys, ids)
    embeddings, ids = queue.negatives()
    ref_embeddings, ref_ids = reference.negatives()
    return {"embeddings": embeddings.tolist(), "ids": ids.tolist(), "ptr": queue.ptr, "filled": queue.filled,
            "max_diff_to_reference": float((embeddings - ref_embeddings).abs().max()),
            "ids_equal_reference": ids.tolist() == ref_ids.tolist()}


def _enqueue_local(queue: MomentumQueue, keys: torch.Tensor, ids: torch.Tensor) -> None:
    """The naive reference: one process appends the global rows one by one, oldest out."""
    for key, i in zip(keys, ids):
        queue.embeddings[queue.ptr] = key
        queue.ids[queue.ptr] = i
        queue.ptr = (queue.ptr + 1) % queue.size
        queue.filled = min(queue.size, queue.filled + 1)


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
    result["masked_duplicates"] = masked_duplicates(rank, world_size)
    result["queue_gather"] = queue_gather(rank, world_size)
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
