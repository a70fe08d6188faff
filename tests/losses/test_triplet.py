"""TripletLoss against a NumPy reference, closed forms and autograd."""

import numpy as np
import pytest
import torch

from textcl.losses import TripletLoss


def triplet_loss_numpy(a, p, n, margin, distance):
    """mean_i max(0, D(a_i, p_i) - D(a_i, n_i) + m)."""
    def dist(u, v):
        if distance == "euclidean":
            return np.sqrt(np.sum((u - v) ** 2))
        return 1.0 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v))

    terms = [max(0.0, dist(x, y) - dist(x, z) + margin) for x, y, z in zip(a, p, n)]
    return float(np.mean(terms))


def _triplets(n=6, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    p = a + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    neg = torch.randn(n, d, generator=g, dtype=torch.float64)
    return a, p, neg


# margins chosen so that some triplets of the batch are active and some are not
@pytest.mark.parametrize("distance,margin", [("euclidean", 2.5), ("cosine", 1.0)])
def test_matches_numpy_reference(distance, margin):
    a, p, neg = _triplets()
    loss = TripletLoss(margin=margin, distance=distance)(a, p, neg)
    expected = triplet_loss_numpy(a.numpy(), p.numpy(), neg.numpy(), margin, distance)
    assert expected > 0
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_euclidean_closed_form():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0]])  # D(a, p) = 1
    n = torch.tensor([[0.0, 2.0]])  # D(a, n) = 2
    assert TripletLoss(margin=0.5, distance="euclidean")(a, p, n).item() == 0.0
    assert TripletLoss(margin=1.5, distance="euclidean")(a, p, n).item() == pytest.approx(0.5)


def test_cosine_closed_form():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # D = 0, 1
    n = torch.tensor([[0.0, 3.0], [1.0, 0.0]])  # D = 1, 0
    # row 0: max(0, 0 - 1 + 0.5) = 0; row 1: max(0, 1 - 0 + 0.5) = 1.5
    assert TripletLoss(margin=0.5, distance="cosine")(a, p, n).item() == pytest.approx(0.75)


def test_identical_anchor_and_positive_has_finite_gradient():
    a = torch.ones(2, 3, requires_grad=True)
    p = torch.ones(2, 3, requires_grad=True)
    n = torch.zeros(2, 3, requires_grad=True)
    loss = TripletLoss(margin=5.0, distance="euclidean")(a, p, n)
    loss.backward()
    assert loss.item() == pytest.approx(5.0 - 3**0.5)
    assert all(torch.isfinite(t.grad).all() for t in (a, p, n))


@pytest.mark.parametrize("distance,margin", [("euclidean", 3.0), ("cosine", 1.0)])
def test_gradcheck(distance, margin):
    tensors = tuple(t.requires_grad_() for t in _triplets(n=4, d=3))
    loss_fn = TripletLoss(margin=margin, distance=distance)
    assert torch.autograd.gradcheck(loss_fn, tensors)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"'euclidean', 'cosine'.*'dot'"):
        TripletLoss(distance="dot")
    with pytest.raises(ValueError, match="margin"):
        TripletLoss(margin=0.0)
    with pytest.raises(ValueError, match="<= 2"):
        TripletLoss(margin=3.0, distance="cosine")


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"anchor \(3, 4\), positive \(3, 4\), negative \(2, 4\)"):
        TripletLoss()(torch.randn(3, 4), torch.randn(3, 4), torch.randn(2, 4))
