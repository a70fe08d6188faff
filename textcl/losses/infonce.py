"""InfoNCE with in-batch negatives and optional hard negatives (SimCSE)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from textcl.losses.distributed import gather_with_grad, get_rank, get_world_size
from textcl.settings import check_float

__all__ = ["InfoNCE"]


class InfoNCE(nn.Module):
    r"""InfoNCE / NT-Xent over cosine similarities, as in SimCSE.

    Anchor ``i``'s positive is ``positive[i]``; every other positive of the
    batch and every hard negative of the batch (its own and the other
    anchors') are its negatives. With ``s`` the cosine similarity, ``τ`` the
    temperature, ``h⁺`` positives and ``h⁻`` hard negatives, the loss of
    anchor ``i`` is (SimCSE eq. 5, extended to ``k`` hard negatives per anchor)

    .. math::
        \ell_i = -\log \frac{e^{s(h_i, h_i^+)/τ}}
            {\sum_j e^{s(h_i, h_j^+)/τ}
             + \sum_j \sum_{m=1}^{k} α^{\mathbb{1}[i = j]} e^{s(h_i, h_{j,m}^-)/τ}}

    and the loss is the mean of ``ℓ_i`` over the batch. Without hard
    negatives the second sum is absent (unsupervised SimCSE / NT-Xent with
    one view per side). ``α`` is applied by adding ``log α`` to the logits
    of anchor ``i``'s own hard negatives.

    ``hard_negative_weight`` is the paper's ``α`` itself (default 1: every
    negative counts once). The SimCSE *code*'s ``--hard_negative_weight``
    is ``log α`` (default 0); convert with ``α = exp(w)`` when porting a
    SimCSE configuration. ``α = 0`` is allowed and drops each anchor's own
    hard negatives from its denominator while keeping the other anchors'.

    With ``symmetric=True`` the loss also runs in the positive → anchor
    direction (positive ``i`` must pick anchor ``i`` among all anchors) and
    the two cross-entropies are averaged. Hard negatives enter only the
    anchor → positive direction.

    Multi-process training (``gather_across_ranks=True`` and a process group
    with more than one rank): positives, hard negatives and, for the
    symmetric form, anchors are all-gathered from every rank with their
    gradient, so each anchor sees the global batch as negatives, and anchor
    ``i`` on rank ``r`` has label ``r * N + i``. Every rank must pass the same
    local batch size ``N``, the same number ``k`` of hard negatives per
    anchor (or none on every rank) and the same ``d``; this is checked with
    one small all-gather per call and a mismatch raises ``ValueError`` on
    every rank (use ``drop_last=True`` in the data loader). The returned
    value is the mean over this rank's ``N`` anchors. No rescaling is needed
    under DistributedDataParallel: rank ``r`` computes ``L_r``, the mean over
    its anchors; backward through the all-gather hands each rank the sum over
    ranks of the gradients with respect to its own positives and negatives,
    ``Σ_r ∂L_r/∂p_s``, and DDP divides the summed parameter gradients by
    ``W``, so the parameter gradient equals that of ``(1/W) Σ_r L_r``, the
    mean loss over the global batch of ``W·N`` anchors: the same gradient as
    one process with the whole batch. (If gradients are summed across ranks
    instead of averaged, divide by ``W``.) The global loss to log is the
    all-reduced mean of the per-rank values.

    False negatives (``mask_duplicates=True``): when two rows hold the same
    text, each copy is a negative of the other although it is the same
    sentence, so 8 identical rows with perfect embeddings still give ``log 8``.
    Pass ``text_ids`` (one integer per text, equal for equal texts; the
    trainer hashes the texts with :func:`textcl.train.sampler.text_id`): every
    candidate of anchor ``i`` whose id equals anchor ``i``'s own id or its
    positive's id is removed from its denominator (logit set to ``-inf``),
    except its true positive, which is never masked. In the symmetric
    direction the anchors of the batch are masked the same way.

    Extra negatives (``extra_negatives``, e.g. a momentum queue of earlier
    batches' embeddings, ESimCSE / MoCo): ``(M, d)`` rows shared by every
    anchor, appended to the anchor → positive denominator. They are not
    gathered across ranks (a queue is the same on every rank) and get no
    gradient if they were detached. With ``mask_duplicates`` their ids
    (``extra_negative_ids``) are masked as above.

    Args:
        temperature: ``τ > 0``; cosine similarities are divided by it.
            SimCSE uses 0.05.
        hard_negative_weight: ``α ≥ 0``, the weight of each anchor's own hard
            negatives in its denominator.
        symmetric: also average in the positive → anchor cross-entropy.
        gather_across_ranks: in a multi-process run, use the other ranks'
            positives / negatives as negatives (no effect in one process).
        mask_duplicates: drop from each anchor's denominator the candidates
            whose text equals its own or its positive's (needs ``text_ids``).

    Shape:
        - anchor: ``(N, d)``
        - positive: ``(N, d)``
        - negatives: ``None``, ``(N, d)`` (one hard negative per anchor, the
          supervised SimCSE form) or ``(N, k, d)``
        - text_ids: ``(N, 2 + k)`` int64 (anchor, positive, hard negatives)
        - extra_negatives: ``(M, d)``; extra_negative_ids: ``(M,)``
        - output: scalar

    Raises:
        ValueError: on invalid constructor arguments, or in ``forward`` on
            inconsistent shapes (naming them) or unequal shapes across ranks.

    Example:
        >>> loss_fn = InfoNCE(temperature=0.05)
        >>> anchor, positive, hard = torch.randn(3, 8, 32).unbind(0)
        >>> loss = loss_fn(anchor, positive)            # unsupervised SimCSE
        >>> loss = loss_fn(anchor, positive, hard)      # supervised SimCSE

    Reference:
        Gao, Yao and Chen, "SimCSE: Simple Contrastive Learning of Sentence
        Embeddings", EMNLP 2021, eq. 5. https://arxiv.org/abs/2104.08821
        van den Oord, Li and Vinyals, "Representation Learning with
        Contrastive Predictive Coding", 2018. https://arxiv.org/abs/1807.03748
    """

    def __init__(
        self,
        temperature: float = 0.05,
        hard_negative_weight: float = 1.0,
        symmetric: bool = False,
        gather_across_ranks: bool = True,
        mask_duplicates: bool = False,
    ) -> None:
        super().__init__()
        check_float("temperature", temperature, exclusive_minimum=True)
        check_float("hard_negative_weight", hard_negative_weight)  # SimCSE's alpha
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be a bool, got {symmetric!r}")
        if not isinstance(gather_across_ranks, bool):
            raise ValueError(f"gather_across_ranks must be a bool, got {gather_across_ranks!r}")
        if not isinstance(mask_duplicates, bool):
            raise ValueError(f"mask_duplicates must be a bool, got {mask_duplicates!r}")
        self.mask_duplicates = mask_duplicates
        self.temperature = float(temperature)
        self.hard_negative_weight = float(hard_negative_weight)
        self.symmetric = symmetric
        self.gather_across_ranks = gather_across_ranks

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": "infonce", "temperature": self.temperature, "hard_negative_weight": self.hard_negative_weight,
                "symmetric": self.symmetric, "gather_across_ranks": self.gather_across_ranks,
                "mask_duplicates": self.mask_duplicates}

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, "
            f"hard_negative_weight={self.hard_negative_weight}, "
            f"symmetric={self.symmetric}, gather_across_ranks={self.gather_across_ranks}"
            + (", mask_duplicates=True" if self.mask_duplicates else "")
        )

    def forward(
        self,
        anchor: torch.Tensor,
        positive: torch.Tensor,
        negatives: torch.Tensor | None = None,
        text_ids: torch.Tensor | None = None,
        extra_negatives: torch.Tensor | None = None,
        extra_negative_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean InfoNCE loss of this rank's anchors; see the class docstring.

        Args:
            anchor: ``(N, d)`` anchor embeddings (need not be normalised).
            positive: ``(N, d)`` positive embeddings, row ``i`` for anchor ``i``.
            negatives: ``None``, ``(N, d)`` or ``(N, k, d)`` hard negatives,
                row ``i`` for anchor ``i``.
            text_ids: ``(N, 2 + k)`` integer ids of the anchor, positive and
                hard-negative texts of each row; used (and required) only with
                ``mask_duplicates``.
            extra_negatives: ``(M, d)`` negatives shared by every anchor.
            extra_negative_ids: ``(M,)`` their text ids (required with
                ``mask_duplicates`` when ``extra_negatives`` is given).

        Returns:
            Scalar loss.
        """
        negatives = _check_shapes(anchor, positive, negatives)  # None or (N, k, d)
        n_local, dim = anchor.shape
        k = 0 if negatives is None else negatives.shape[1]
        if extra_negatives is not None and (extra_negatives.dim() != 2 or extra_negatives.shape[1] != dim):
            raise ValueError(f"extra_negatives must have shape (M, d) with d = {dim}, got "
                             f"{tuple(extra_negatives.shape)}")
        if self.mask_duplicates:
            _check_ids(text_ids, n_local, k, extra_negatives, extra_negative_ids)
            text_ids = text_ids.to(anchor.device)

        rank, world_size = 0, 1
        if self.gather_across_ranks and get_world_size() > 1:
            _check_equal_across_ranks(n_local, k, dim, anchor.device)
            rank, world_size = get_rank(), get_world_size()

        def gather(t: torch.Tensor) -> torch.Tensor:
            return gather_with_grad(t) if world_size > 1 else t

        a = F.normalize(anchor, dim=-1)  # (N, d)
        p = F.normalize(positive, dim=-1)  # (N, d)
        p_all = gather(p)  # (W * N, d); rank r's rows are r*N .. r*N + N - 1
        labels = rank * n_local + torch.arange(n_local, device=anchor.device)  # (N,)
        logits = a @ p_all.T / self.temperature  # (N, W * N)

        if negatives is not None:
            n = F.normalize(negatives, dim=-1).reshape(n_local * k, dim)  # (N * k, d)
            n_all = gather(n)  # (W * N * k, d); anchor j's negatives at j*k .. j*k + k - 1
            neg_logits = a @ n_all.T / self.temperature  # (N, W * N * k)
            if self.hard_negative_weight != 1.0:
                neg_logits = neg_logits + self._own_negative_bias(
                    labels, k, neg_logits
                )  # (N, W * N * k)
            logits = torch.cat([logits, neg_logits], dim=1)  # (N, W * N * (1 + k))
        if extra_negatives is not None and extra_negatives.shape[0] > 0:
            e = F.normalize(extra_negatives.to(a.dtype), dim=-1)  # (M, d)
            logits = torch.cat([logits, a @ e.T / self.temperature], dim=1)  # (N, W * N * (1 + k) + M)
        if logits.shape[1] < 2:
            raise ValueError("InfoNCE got one anchor and no negative (a batch of 1, no hard negative, no queue): "
                             "the loss is 0 whatever the embeddings, so nothing would be learned. Use a batch of "
                             "at least 2 rows, hard negatives, or a queue (queue_size > 0)")

        if self.mask_duplicates:
            own = text_ids[:, :2]  # (N, 2): anchor and positive ids of each row
            candidates = [_gather_ids(text_ids[:, 1], world_size)]  # (W * N,)
            if k:
                candidates.append(_gather_ids(text_ids[:, 2:].reshape(-1), world_size))  # (W * N * k,)
            if extra_negatives is not None and extra_negatives.shape[0] > 0:
                candidates.append(extra_negative_ids.to(text_ids.device))  # (M,)
            logits = _mask_duplicates(logits, own, torch.cat(candidates), labels)

        loss = F.cross_entropy(logits, labels)
        if self.symmetric:
            a_all = gather(a)  # (W * N, d)
            reverse_logits = p @ a_all.T / self.temperature  # (N, W * N)
            if self.mask_duplicates:
                reverse_logits = _mask_duplicates(reverse_logits, text_ids[:, :2],
                                                  _gather_ids(text_ids[:, 0], world_size), labels)
            loss = 0.5 * (loss + F.cross_entropy(reverse_logits, labels))
        return loss

    def _own_negative_bias(
        self, labels: torch.Tensor, k: int, neg_logits: torch.Tensor
    ) -> torch.Tensor:
        """``log α`` at each anchor's own hard negatives, ``0`` elsewhere.

        ``labels[i]`` is anchor ``i``'s global index ``g``, and its own hard
        negatives are the gathered rows ``g * k .. g * k + k - 1``.
        """
        alpha = self.hard_negative_weight
        log_alpha = math.log(alpha) if alpha > 0 else float("-inf")
        cols = labels.unsqueeze(1) * k + torch.arange(k, device=labels.device)  # (N, k)
        bias = torch.zeros_like(neg_logits)  # (N, W * N * k)
        return bias.scatter_(1, cols, log_alpha)


def _check_shapes(
    anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor | None
) -> torch.Tensor | None:
    """Validate the input shapes and return negatives as ``(N, k, d)`` (or None)."""
    if anchor.dim() != 2:
        raise ValueError(f"anchor must have shape (N, d), got {tuple(anchor.shape)}")
    if anchor.shape[0] == 0 or anchor.shape[1] == 0:
        raise ValueError(f"anchor is empty: shape {tuple(anchor.shape)}")
    if positive.shape != anchor.shape:
        raise ValueError(
            f"positive must have the anchor's shape: anchor {tuple(anchor.shape)}, "
            f"positive {tuple(positive.shape)}"
        )
    if negatives is None:
        return None
    n, d = anchor.shape
    given = tuple(negatives.shape)
    if negatives.dim() == 2:
        negatives = negatives.unsqueeze(1)  # (N, d) -> (N, 1, d)
    elif negatives.dim() != 3:
        raise ValueError(
            f"negatives must have shape (N, d) or (N, k, d), got {tuple(negatives.shape)}"
        )
    if negatives.shape[0] != n or negatives.shape[2] != d or negatives.shape[1] == 0:
        raise ValueError(
            "negatives must have shape (N, d) or (N, k, d) with k >= 1 matching "
            f"anchor (N, d) = {tuple(anchor.shape)}, got negatives {given}"
        )
    return negatives


def _check_ids(text_ids: torch.Tensor | None, n: int, k: int, extra: torch.Tensor | None,
               extra_ids: torch.Tensor | None) -> None:
    """Raise unless the ids needed by ``mask_duplicates`` are given with the right shapes."""
    if text_ids is None:
        raise ValueError("InfoNCE(mask_duplicates=True) needs text_ids: an (N, 2 + k) integer tensor of the "
                         "anchor, positive and hard-negative text ids (textcl.train.sampler.text_ids)")
    if text_ids.shape != (n, 2 + k) or text_ids.dtype.is_floating_point:
        raise ValueError(f"text_ids must be an integer tensor of shape (N, 2 + k) = ({n}, {2 + k}), got "
                         f"{tuple(text_ids.shape)} {text_ids.dtype}")
    if extra is not None and (extra_ids is None or extra_ids.shape != (extra.shape[0],)):
        raise ValueError(f"with mask_duplicates, extra_negatives ({extra.shape[0]} rows) need extra_negative_ids "
                         f"of shape ({extra.shape[0]},), got "
                         f"{None if extra_ids is None else tuple(extra_ids.shape)}")


def _gather_ids(ids: torch.Tensor, world_size: int) -> torch.Tensor:
    """All-gather a 1-d id tensor (no gradient): rank ``r``'s ids at ``r * n .. (r + 1) * n - 1``."""
    if world_size == 1:
        return ids
    parts = [torch.empty_like(ids) for _ in range(world_size)]
    dist.all_gather(parts, ids.contiguous())
    return torch.cat(parts)  # (W * n,)


def _mask_duplicates(logits: torch.Tensor, own: torch.Tensor, candidates: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """``-inf`` where a candidate's id equals the row's anchor or positive id, except at the true positive.

    Shape:
        logits (N, C), own (N, 2), candidates (C,), labels (N,) -> (N, C)
    """
    dup = (candidates.unsqueeze(0) == own[:, :1]) | (candidates.unsqueeze(0) == own[:, 1:])  # (N, C)
    dup[torch.arange(len(labels), device=labels.device), labels] = False
    return logits.masked_fill(dup.to(logits.device), float("-inf"))


def _check_equal_across_ranks(n: int, k: int, d: int, device: torch.device) -> None:
    """Raise on every rank unless all ranks have the same (N, k, d).

    One all-gather of three integers; every rank sees the same table and so
    raises together instead of hanging in a mismatched gather later.
    """
    local = torch.tensor([n, k, d], dtype=torch.long, device=device)  # (3,)
    table = [torch.empty_like(local) for _ in range(get_world_size())]
    dist.all_gather(table, local)  # world_size x (3,)
    shapes = [tuple(int(v) for v in t.tolist()) for t in table]
    if any(s != shapes[0] for s in shapes):
        listing = ", ".join(f"rank {r}: {s}" for r, s in enumerate(shapes))
        raise ValueError(
            "InfoNCE with gather_across_ranks=True needs the same local batch size N, "
            "number of hard negatives k (0 = none) and dim d on every rank; got (N, k, d) "
            f"{listing}. Use drop_last=True in the DataLoader / DistributedSampler."
        )
