"""The losses sentence-transformers users know: value and gradient equal to sentence-transformers' on a grid,
plus closed forms, invariances and argument checks."""

import importlib.util
import math
import os

import pytest
import torch

from textcl.losses import (
    AnglELoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    GISTEmbedLoss,
    InfoNCE,
    MatryoshkaLoss,
    MSELoss,
    OnlineContrastiveLoss,
)
from textcl.losses.scored import pairwise_angle_sim

pytest.importorskip("sentence_transformers")
pytestmark = pytest.mark.usefixtures("one_thread")


def _equivalence():
    """tools/loss_equivalence.py: the one driver of both sides (scripts never import tests)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "loss_equivalence.py")
    spec = importlib.util.spec_from_file_location("textcl_benchmarks_loss_equivalence", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EQ = _equivalence()


@pytest.mark.parametrize("name", list(EQ.CASES))
def test_value_and_gradient_match_sentence_transformers(name):
    for seed, n, d in EQ.GRID:
        value_diff, grad_diff = EQ.CASES[name](seed, n, d)
        assert value_diff < 1e-6 and grad_diff < 1e-6, (name, seed, n, d, value_diff, grad_diff)


def test_the_driver_detects_a_different_loss():
    # a wrong scale on our side must show up as a difference (the comparison is not vacuous)
    cols, g = EQ._inputs(0, 8, 16, 2)
    diff = EQ._run(CoSENTLoss(scale=10.0), lambda m: EQ._st().CoSENTLoss(m, scale=20.0), cols, EQ._scores(g, 8, 0))
    assert diff[0] > 1e-3


# ---------------------------------------------------------------- CoSENT / AnglE / cosine similarity

def _pairs(n=6, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    return a, a + torch.randn(n, d, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)


def test_cosent_closed_form_and_rank_invariance():
    e1 = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    e2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # cosines 1 and 0
    # one ordered pair (score 2 > score 1): log(1 + exp(20 * (s_low - s_high)))
    assert CoSENTLoss()(e1, e2, torch.tensor([2.0, 1.0])).item() == pytest.approx(math.log1p(math.exp(-20.0)))
    assert CoSENTLoss()(e1, e2, torch.tensor([1.0, 2.0])).item() == pytest.approx(math.log1p(math.exp(20.0)))
    assert CoSENTLoss()(e1, e2, torch.tensor([3.0, 3.0])).item() == pytest.approx(math.log(1.0))  # ties: no pair
    a, b, s = _pairs()
    for loss in (CoSENTLoss(), AnglELoss()):  # only the order of the scores matters (0-5 or [0, 1] alike)
        assert loss(a, b, s).item() == pytest.approx(loss(a, b, 5 * s + 1).item(), rel=1e-12)


def test_angle_similarity_closed_form():
    x = torch.tensor([[1.0, 0.0]])  # complex 1
    y = torch.tensor([[0.0, 1.0]])  # complex i: cos 0, sin of the angle between them -1 -> |.| = 1
    assert pairwise_angle_sim(x, y).item() == pytest.approx(1.0)
    assert pairwise_angle_sim(x, x).item() == pytest.approx(1.0)
    assert pairwise_angle_sim(torch.randn(3, 5), torch.randn(3, 5)).shape == (3,)  # odd d padded


def test_cosine_similarity_loss_is_the_mse_of_cosines():
    a, b, s = _pairs()
    cos = torch.nn.functional.cosine_similarity(a, b)
    assert CosineSimilarityLoss()(a, b, s).item() == pytest.approx(((cos - s) ** 2).mean().item(), rel=1e-12)
    assert CosineSimilarityLoss(torch.nn.L1Loss())(a, b, s).item() == pytest.approx((cos - s).abs().mean().item())


@pytest.mark.parametrize("make, match", [
    (lambda: CoSENTLoss(scale=0), "scale"), (lambda: AnglELoss(scale=float("nan")), "scale"),
    (lambda: CosineSimilarityLoss(loss_fct="mse"), "loss_fct"),
    (lambda: OnlineContrastiveLoss(margin=-1), "margin"), (lambda: MatryoshkaLoss(InfoNCE(), []), "dims"),
    (lambda: MatryoshkaLoss(InfoNCE(), [8, 0]), "matryoshka_dims"),
    (lambda: MatryoshkaLoss(InfoNCE(), [8, 4], [1.0]), "weights"),
    (lambda: GISTEmbedLoss(object()), "guide must have encode"),
    (lambda: GISTEmbedLoss(EQ.TextGuide([]), margin_strategy="soft"), "margin_strategy"),
    (lambda: GISTEmbedLoss(EQ.TextGuide([]), temperature=0), "temperature"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_shapes_are_named():
    a, b, s = _pairs()
    with pytest.raises(ValueError, match="expected 6 scores"):
        CoSENTLoss()(a, b, s[:3])
    with pytest.raises(ValueError, match="same shape"):
        CosineSimilarityLoss()(a, b[:, :3], s)
    with pytest.raises(ValueError, match="labels must be 0"):
        OnlineContrastiveLoss()(a, b, s)
    with pytest.raises(ValueError, match="teacher embeddings"):
        MSELoss()(a, b[:, :3])
    with pytest.raises(ValueError, match=r"exceed the embedding dimension 8"):
        MatryoshkaLoss(InfoNCE(), [16, 8])(a, b)
    with pytest.raises(ValueError, match="needs the batch's texts"):
        GISTEmbedLoss(EQ.TextGuide([a, b]))(a, b)


# ---------------------------------------------------------------- online contrastive, MSE

def test_online_contrastive_counts_only_hard_pairs():
    x1 = torch.tensor([[1.0, 0.0]] * 4)
    x2 = torch.tensor([[1.0, 0.0], [0.6, 0.8], [1.0, 0.1], [-1.0, 0.0]])  # distances 0, 0.4, ~0.005, 2
    labels = torch.tensor([1, 1, 0, 0])
    d_pos, d_neg = 0.4, 1 - 1 / math.sqrt(1.01)
    # hard positive: 0.4 > min negative distance; hard negative: 0.005 < max positive distance (2 is easy)
    expected = d_pos ** 2 + (0.5 - d_neg) ** 2
    assert OnlineContrastiveLoss(margin=0.5)(x1, x2, labels).item() == pytest.approx(expected, rel=1e-5)


def test_mse_is_zero_at_the_teacher_and_broadcasts_or_takes_one_per_column():
    a, b, _ = _pairs()
    assert MSELoss()(a, a.clone()).item() == 0.0
    both = MSELoss()(a, b, a)  # (N, d) teacher serves both columns
    assert both.item() == pytest.approx(0.5 * ((b - a) ** 2).mean().item())
    assert MSELoss()(a, b, torch.stack([a, b], 1)).item() == 0.0  # (N, k, d): one per column


# ---------------------------------------------------------------- Matryoshka

def test_matryoshka_sums_the_inner_loss_on_normalised_prefixes_and_records_its_dims():
    a, b, s = _pairs(d=16)
    loss = MatryoshkaLoss(CoSENTLoss(), [4, 16, 8], [0.5, 1.0, 2.0])
    assert loss.matryoshka_dims == (16, 8, 4) and loss.weights == (1.0, 2.0, 0.5)
    norm = torch.nn.functional.normalize
    expected = sum(w * CoSENTLoss()(norm(a[:, :m], dim=-1), norm(b[:, :m], dim=-1), s)
                   for m, w in ((16, 1.0), (8, 2.0), (4, 0.5)))
    assert loss(a, b, s).item() == pytest.approx(expected.item(), rel=1e-12)
    assert loss.get_config() == {"name": "matryoshka", "dims": [16, 8, 4], "weights": [1.0, 2.0, 0.5],
                                 "loss": {"name": "cosent", "scale": 20.0}}


def test_matryoshka_forwards_the_inner_loss_attributes():
    assert MatryoshkaLoss(InfoNCE(mask_duplicates=True), [8]).mask_duplicates is True
    assert not hasattr(MatryoshkaLoss(CoSENTLoss(), [8]), "mask_duplicates")  # no queue for a CoSENT inner loss
    assert MatryoshkaLoss(GISTEmbedLoss(EQ.TextGuide([])), [8]).needs_texts is True
    assert MatryoshkaLoss(InfoNCE(), [8]).takes_labels is False
    assert MatryoshkaLoss(MSELoss(), [8]).takes_labels is True


# ---------------------------------------------------------------- GISTEmbed

def test_gist_masks_exactly_what_the_guide_scores_above_the_positive():
    # anchor 1's text is a paraphrase of anchor 0's positive: the guide scores it at the positive's level
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # the trained model puts each positive far from its anchor
    guide = EQ.TextGuide([torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])])
    texts = [["c0_0", "c0_1"], ["c1_0", "c1_1"]]
    kw = {"temperature": 1.0, "contrast_anchors": False, "contrast_positives": False}
    # the guide scores every candidate 1, as the true pair: within a margin of 0.1, each is masked
    masked = GISTEmbedLoss(guide, margin=0.1, **kw)
    assert masked(anchor, positive, texts=texts).item() == pytest.approx(0.0, abs=1e-12)  # only the positive left
    plain = InfoNCE(temperature=1.0)(anchor, positive)
    assert plain.item() > 1.0  # without the guide the in-batch candidate dominates
    strict = GISTEmbedLoss(guide, margin=0.0, **kw)  # margin 0 masks only candidates strictly above the positive
    assert strict(anchor, positive, texts=texts).item() == pytest.approx(plain.item())
    relative = GISTEmbedLoss(guide, margin_strategy="relative", margin=0.1, **kw)  # 1 > 1 - |1| * 0.1
    assert relative(anchor, positive, texts=texts).item() == pytest.approx(0.0, abs=1e-12)


def test_gist_guide_is_not_a_submodule_and_is_not_trained(tiny_bert_dir):
    from textcl.model import SentenceEncoder

    guide = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    loss = GISTEmbedLoss(guide)
    assert list(loss.parameters()) == [] and loss.state_dict() == {} and loss.guide is guide
    assert loss.get_config()["guide"]
    a = torch.randn(3, guide.embedding_dim, requires_grad=True)
    value = loss(a, torch.randn(3, guide.embedding_dim), texts=[["a man plays .", "a dog runs .", "a cat ."]] * 2)
    value.backward()
    assert torch.isfinite(value) and all(p.grad is None for p in guide.parameters())
