"""PairwiseContrastiveLoss against Hadsell et al. (2006) in NumPy, closed forms, autograd."""

import numpy as np
import pytest
import torch

from textcl.losses import PairwiseContrastiveLoss, TripletLoss
from textcl.losses.pairwise import paired_distance


def hadsell_loss_numpy(x1, x2, y, margin, distance):
    """Eq. 4 of the paper with y = 1 for similar pairs: y/2 D^2 + (1-y)/2 max(0, m-D)^2."""
    total = 0.0
    for u, v, label in zip(np.asarray(x1, np.float64), np.asarray(x2, np.float64), y):
        if distance == "euclidean":
            dist = np.sqrt(np.sum((u - v) ** 2))
        else:
            dist = 1.0 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
        total += label * 0.5 * dist**2 + (1 - label) * 0.5 * max(0.0, margin - dist) ** 2
    return total / len(y)


def _pairs(n=6, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    x2 = x1 + 0.7 * torch.randn(n, d, generator=g, dtype=torch.float64)
    labels = torch.tensor([1, 0] * (n // 2))
    return x1, x2, labels


@pytest.mark.parametrize("distance,margin", [("euclidean", 2.0), ("cosine", 0.5), ("cosine", 1.5)])
def test_matches_numpy_reference(distance, margin):
    x1, x2, labels = _pairs()
    loss = PairwiseContrastiveLoss(margin=margin, distance=distance)(x1, x2, labels)
    expected = hadsell_loss_numpy(x1.numpy(), x2.numpy(), labels.numpy(), margin, distance)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_euclidean_closed_form():
    x1 = torch.tensor([[0.0, 0.0]])
    x2 = torch.tensor([[3.0, 4.0]])  # distance 5
    similar = PairwiseContrastiveLoss(margin=6.0, distance="euclidean")
    assert similar(x1, x2, torch.tensor([1])).item() == pytest.approx(12.5)  # 5^2 / 2
    assert similar(x1, x2, torch.tensor([0])).item() == pytest.approx(0.5)  # (6-5)^2 / 2
    far = PairwiseContrastiveLoss(margin=4.0, distance="euclidean")
    assert far(x1, x2, torch.tensor([0])).item() == 0.0  # beyond the margin
    both = far(x1.repeat(2, 1), x2.repeat(2, 1), torch.tensor([1, 0]))
    assert both.item() == pytest.approx(12.5 / 2)  # mean over the batch


def test_cosine_closed_form():
    x1 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    x2 = torch.tensor([[0.0, 2.0], [0.0, 2.0], [-1.0, 0.0]])  # cosine distances 1, 1, 2
    loss_fn = PairwiseContrastiveLoss(margin=1.5, distance="cosine")
    per_pair = [0.5 * 1.0, 0.5 * 0.5**2, 0.0]  # similar at 1; dissimilar at 1; dissimilar at 2
    loss = loss_fn(x1, x2, torch.tensor([1.0, 0.0, 0.0]))
    assert loss.item() == pytest.approx(sum(per_pair) / 3)


def test_bool_labels_accepted():
    x1, x2, labels = _pairs()
    loss_fn = PairwiseContrastiveLoss()
    assert torch.equal(loss_fn(x1, x2, labels), loss_fn(x1, x2, labels.bool()))


@pytest.mark.parametrize("label", [0, 1])
def test_identical_euclidean_pair_has_finite_gradient(label):
    x1 = torch.ones(2, 3, requires_grad=True)
    x2 = torch.ones(2, 3, requires_grad=True)
    loss = PairwiseContrastiveLoss(margin=1.0, distance="euclidean")(
        x1, x2, torch.tensor([label, label])
    )
    loss.backward()
    assert loss.item() == pytest.approx(0.0 if label else 0.5)
    assert torch.isfinite(x1.grad).all() and torch.isfinite(x2.grad).all()


@pytest.mark.parametrize("distance,margin", [("euclidean", 2.0), ("cosine", 0.8)])
def test_gradcheck(distance, margin):
    x1, x2, labels = _pairs(n=4, d=3)
    loss_fn = PairwiseContrastiveLoss(margin=margin, distance=distance)
    assert torch.autograd.gradcheck(
        lambda a, b: loss_fn(a, b, labels), (x1.requires_grad_(), x2.requires_grad_())
    )


def test_rejects_unknown_distance_listing_allowed():
    with pytest.raises(ValueError, match=r"'euclidean', 'cosine'.*'manhattan'"):
        PairwiseContrastiveLoss(distance="manhattan")


@pytest.mark.parametrize("margin", [0.0, -1.0, float("nan"), float("inf")])
def test_rejects_bad_margin(margin):
    with pytest.raises(ValueError, match="margin"):
        PairwiseContrastiveLoss(margin=margin, distance="euclidean")


def test_rejects_cosine_margin_above_two():
    with pytest.raises(ValueError, match="<= 2"):
        PairwiseContrastiveLoss(margin=2.5, distance="cosine")


def test_rejects_labels_outside_zero_one():
    x1, x2, _ = _pairs(n=2)
    with pytest.raises(ValueError, match=r"0 \(dissimilar\) or 1 \(similar\).*2"):
        PairwiseContrastiveLoss()(x1, x2, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="labels must be 0"):
        PairwiseContrastiveLoss()(x1, x2, torch.tensor([0.5, 1.0]))


def test_rejects_mismatched_lengths():
    loss_fn = PairwiseContrastiveLoss()
    with pytest.raises(ValueError, match=r"x1 \(3, 4\), x2 \(2, 4\)"):
        loss_fn(torch.randn(3, 4), torch.randn(2, 4), torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(3,\).*\(2,\)"):
        loss_fn(torch.randn(3, 4), torch.randn(3, 4), torch.tensor([1, 0]))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_nan_embeddings_give_a_nan_loss_never_a_number(distance):
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    a[1, 0] = float("nan")
    assert torch.isnan(paired_distance(a, b, distance)[1])
    assert torch.isnan(PairwiseContrastiveLoss(margin=0.5, distance=distance)(a, b, torch.tensor([1., 0, 1, 0])))
    assert torch.isnan(TripletLoss(margin=0.5, distance=distance)(a, b, torch.randn(4, 8)))
