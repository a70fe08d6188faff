"""Fuzz the losses: shapes, NaN and infinity, temperature and margin values.

A NaN in the embeddings gives a NaN loss, an infinity a non-finite one (never a finite number); mismatched
shapes and non-positive temperatures raise ``ValueError``; finite inputs give a finite loss
whose gradient is finite."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textcl.losses import InfoNCE, PairwiseContrastiveLoss, TripletLoss

FUZZ = settings(derandomize=True, deadline=None, max_examples=25, database=None)

shapes = st.tuples(st.integers(2, 6), st.integers(1, 5))
scales = st.sampled_from([1e-3, 1.0, 1e3])


def _emb(seed: int, n: int, d: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g) * scale).requires_grad_()


def _losses():
    return {
        "infonce": lambda a, p, n: InfoNCE(temperature=0.05)(a, p),
        "infonce_hard": lambda a, p, n: InfoNCE(temperature=0.1, hard_negative_weight=0.5)(a, p, n),
        "infonce_symmetric": lambda a, p, n: InfoNCE(temperature=0.1, symmetric=True)(a, p),
        "triplet": lambda a, p, n: TripletLoss(margin=0.5)(a, p, n),
        "triplet_euclidean": lambda a, p, n: TripletLoss(margin=1.0, distance="euclidean")(a, p, n),
        "pairwise": lambda a, p, n: PairwiseContrastiveLoss(margin=0.5)(a, p, (torch.arange(a.shape[0]) % 2).float()),
        "pairwise_euclidean": lambda a, p, n: PairwiseContrastiveLoss(margin=1.0, distance="euclidean")(
            a, p, (torch.arange(a.shape[0]) % 2).float()),
    }


LOSSES = sorted(_losses())


@pytest.mark.parametrize("name", LOSSES)
@FUZZ
@given(shape=shapes, seed=st.integers(0, 10_000), scale=scales)
def test_finite_inputs_give_finite_loss_and_grad(name, shape, seed, scale):
    n, d = shape
    a, p, neg = _emb(seed, n, d, scale), _emb(seed + 1, n, d, scale), _emb(seed + 2, n, d, scale)
    loss = _losses()[name](a, p, neg)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(t.grad).all() for t in (a, p))




def _damaged_loss(name, shape, seed, which, bad, row, col):
    n, d = shape
    tensors = {"anchor": _emb(seed, n, d), "positive": _emb(seed + 1, n, d), "negative": _emb(seed + 2, n, d)}
    with torch.no_grad():
        tensors[which][row % n, col % d] = bad
    return _losses()[name](tensors["anchor"], tensors["positive"], tensors["negative"]).detach()


def _uses(name: str, which: str) -> bool:
    return which != "negative" or name in ("infonce_hard", "triplet", "triplet_euclidean")


DAMAGE = dict(shape=shapes, seed=st.integers(0, 10_000), which=st.sampled_from(["anchor", "positive", "negative"]),
              row=st.integers(0, 5), col=st.integers(0, 4))


@pytest.mark.parametrize("name", LOSSES)
@FUZZ
@given(**DAMAGE)
def test_nan_gives_nan_never_a_number(name, shape, seed, which, row, col):
    loss = _damaged_loss(name, shape, seed, which, math.nan, row, col)
    if not _uses(name, which):
        assert torch.isfinite(loss)  # the damaged tensor is not an input of this loss
    else:
        assert torch.isnan(loss), f"{name} turned a NaN in the {which} into the number {float(loss)}"


@pytest.mark.parametrize("name", LOSSES)
@FUZZ
@given(bad=st.sampled_from([math.inf, -math.inf]), **DAMAGE)
def test_infinity_never_gives_a_finite_loss(name, bad, shape, seed, which, row, col):
    loss = _damaged_loss(name, shape, seed, which, bad, row, col)
    if _uses(name, which):  # NaN or infinite: the trainer's non-finite check then stops the run
        assert not torch.isfinite(loss), f"{name} turned {bad} in the {which} into the number {float(loss)}"


@FUZZ
@given(t=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.just(-math.inf)))
def test_temperature_must_be_a_positive_finite_number(t):
    with pytest.raises(ValueError, match="temperature"):
        InfoNCE(temperature=t)


@FUZZ
@given(m=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)))
def test_margin_must_be_a_positive_finite_number(m):
    for cls in (TripletLoss, PairwiseContrastiveLoss):
        with pytest.raises(ValueError, match="margin"):
            cls(margin=m)


@pytest.mark.parametrize("name", LOSSES)
@FUZZ
@given(n=st.integers(2, 5), d=st.integers(1, 4), dn=st.integers(-1, 1), dd=st.integers(-1, 1),
       which=st.sampled_from(["positive", "negative"]))
def test_mismatched_shapes_are_value_errors(name, n, d, dn, dd, which):
    uses_negative = name in ("infonce_hard", "triplet", "triplet_euclidean")
    if (dn == 0 and dd == 0) or (which == "negative" and not uses_negative):
        return
    shapes = {"anchor": (n, d), "positive": (n, d), "negative": (n, d)}
    shapes[which] = (max(n + dn, 1), max(d + dd, 1))
    if shapes[which] == (n, d):
        return
    if name.startswith("infonce") and which == "negative" and shapes[which][1] == d:
        return  # InfoNCE takes any number of hard negatives per batch when d matches ((N*k, d) layouts)
    t = {k: torch.randn(*v) for k, v in shapes.items()}
    with pytest.raises(ValueError):
        _losses()[name](t["anchor"], t["positive"], t["negative"])


@pytest.mark.parametrize("bad", [torch.randn(4), torch.randn(2, 3, 4), torch.randn(0, 4)])
@pytest.mark.parametrize("name", LOSSES)
def test_wrong_rank_or_empty_is_a_value_error(name, bad):
    with pytest.raises(ValueError):
        _losses()[name](bad, bad.clone(), bad.clone())


def test_infonce_batch_of_one_without_negatives_is_an_error():
    with pytest.raises(ValueError, match="no negative"):
        InfoNCE()(torch.randn(1, 4), torch.randn(1, 4))
