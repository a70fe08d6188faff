"""InfoNCE against SimCSE eq. 5 (NumPy), closed forms and autograd."""

import math

import numpy as np
import pytest
import torch

from textcl.losses import InfoNCE


def simcse_loss_numpy(a, p, n=None, tau=0.05, alpha=1.0, symmetric=False):
    """SimCSE eq. 5 written loop by loop from the paper, k hard negatives per anchor.

    l_i = -log( e^{s(h_i,h_i+)/tau} /
                sum_j [ e^{s(h_i,h_j+)/tau} + sum_m alpha^{1[i=j]} e^{s(h_i,h_jm-)/tau} ] )
    """
    def cos(u, v):
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    a, p = np.asarray(a, np.float64), np.asarray(p, np.float64)
    if n is not None:
        n = np.asarray(n, np.float64)
        if n.ndim == 2:
            n = n[:, None, :]
    size = len(a)
    forward = []
    for i in range(size):
        numerator = math.exp(cos(a[i], p[i]) / tau)
        denominator = 0.0
        for j in range(size):
            denominator += math.exp(cos(a[i], p[j]) / tau)
            if n is not None:
                for m in range(n.shape[1]):
                    weight = alpha if i == j else 1.0
                    denominator += weight * math.exp(cos(a[i], n[j, m]) / tau)
        forward.append(-math.log(numerator / denominator))
    loss = float(np.mean(forward))
    if symmetric:
        backward = []
        for i in range(size):
            numerator = math.exp(cos(p[i], a[i]) / tau)
            denominator = sum(math.exp(cos(p[i], a[j]) / tau) for j in range(size))
            backward.append(-math.log(numerator / denominator))
        loss = 0.5 * (loss + float(np.mean(backward)))
    return loss


def _inputs(n=5, d=7, k=None, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=dtype)
    p = a + 0.5 * torch.randn(n, d, generator=g, dtype=dtype)
    neg = None
    if k is not None:
        shape = (n, d) if k == "2d" else (n, k, d)
        neg = torch.randn(*shape, generator=g, dtype=dtype)
    return a, p, neg


@pytest.mark.parametrize("k", [None, "2d", 3])
@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5, 0.0])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matches_numpy_reference(k, alpha, symmetric):
    a, p, neg = _inputs(k=k)
    loss = InfoNCE(temperature=0.1, hard_negative_weight=alpha, symmetric=symmetric)(a, p, neg)
    expected = simcse_loss_numpy(
        a.numpy(), p.numpy(), None if neg is None else neg.numpy(),
        tau=0.1, alpha=alpha, symmetric=symmetric,
    )
    assert loss.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_default_temperature_matches_reference():
    a, p, neg = _inputs(k="2d")
    expected = simcse_loss_numpy(a.numpy(), p.numpy(), neg.numpy(), tau=0.05)
    assert InfoNCE()(a, p, neg).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [2, 4, 9])
def test_all_logits_equal_gives_log_n(n):
    v = torch.ones(n, 6)
    assert InfoNCE()(v, v).item() == pytest.approx(math.log(n), abs=1e-5)
    assert InfoNCE(symmetric=True)(v, v).item() == pytest.approx(math.log(n), abs=1e-5)


def test_one_anchor_without_negatives_is_refused_not_a_zero_loss():
    v = torch.ones(1, 6)
    with pytest.raises(ValueError, match="no negative"):
        InfoNCE()(v, v)


@pytest.mark.parametrize("n", [1, 4])
def test_all_logits_equal_with_hard_negatives(n):
    v = torch.ones(n, 6)
    assert InfoNCE()(v, v, v).item() == pytest.approx(math.log(2 * n), abs=1e-5)
    k = 3
    v3 = torch.ones(n, k, 6)
    assert InfoNCE()(v, v, v3).item() == pytest.approx(math.log(n * (1 + k)), abs=1e-5)
    # alpha scales only the anchor's own hard negative: n positives, n - 1 others, alpha
    for alpha in (0.0, 0.5, 3.0):
        loss = InfoNCE(hard_negative_weight=alpha)(v, v, v)
        assert loss.item() == pytest.approx(math.log(2 * n - 1 + alpha), abs=1e-5)


def test_perfect_separation_with_small_temperature_is_near_zero():
    n = 4
    basis = torch.eye(n)  # orthogonal anchors, each its own positive
    loss = InfoNCE(temperature=0.01)(basis, basis, -basis)
    assert 0.0 <= loss.item() < 1e-6
    assert InfoNCE(temperature=0.01, symmetric=True)(basis, basis).item() < 1e-6


def test_two_dim_negatives_equal_one_negative_per_anchor():
    a, p, neg = _inputs(k="2d")
    loss_fn = InfoNCE(hard_negative_weight=0.7)
    assert torch.allclose(loss_fn(a, p, neg), loss_fn(a, p, neg.unsqueeze(1)), atol=1e-14)


def test_invariant_to_joint_permutation_and_to_scale():
    a, p, neg = _inputs(k=2)
    loss_fn = InfoNCE(hard_negative_weight=0.5, symmetric=True)
    perm = torch.tensor([3, 0, 4, 1, 2])
    base = loss_fn(a, p, neg)
    assert torch.allclose(base, loss_fn(a[perm], p[perm], neg[perm]), atol=1e-12)
    assert torch.allclose(base, loss_fn(3.0 * a, 0.2 * p, 7.0 * neg), atol=1e-12)


def test_gather_is_a_no_op_in_one_process():
    a, p, neg = _inputs(k=2)
    with_gather = InfoNCE(gather_across_ranks=True)(a, p, neg)
    without = InfoNCE(gather_across_ranks=False)(a, p, neg)
    assert torch.equal(with_gather, without)


@pytest.mark.parametrize("k", [None, "2d", 2])
@pytest.mark.parametrize("symmetric", [False, True])
def test_gradcheck(k, symmetric):
    a, p, neg = _inputs(n=3, d=4, k=k)
    tensors = [t.requires_grad_() for t in (a, p, neg) if t is not None]
    loss_fn = InfoNCE(temperature=0.5, hard_negative_weight=0.6, symmetric=symmetric)
    assert torch.autograd.gradcheck(lambda *ts: loss_fn(*ts), tuple(tensors))


def test_alpha_zero_has_finite_gradients():
    a, p, neg = _inputs(n=3, d=4, k=2)
    tensors = [t.requires_grad_() for t in (a, p, neg)]
    loss = InfoNCE(hard_negative_weight=0.0)(*tensors)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(t.grad).all() for t in tensors)
    # alpha = 0 removes the anchor's own hard negatives from its denominator;
    # in a batch of one only the positive is left, so the loss is exactly 0
    assert InfoNCE(hard_negative_weight=0.0)(a[:1], p[:1], neg[:1]).item() == 0.0


@pytest.mark.parametrize("temperature", [0.0, -0.1, float("nan"), float("inf")])
def test_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        InfoNCE(temperature=temperature)


@pytest.mark.parametrize("alpha", [-0.5, float("nan"), float("inf")])
def test_rejects_bad_hard_negative_weight(alpha):
    with pytest.raises(ValueError, match="hard_negative_weight"):
        InfoNCE(hard_negative_weight=alpha)


def test_rejects_non_bool_flags():
    with pytest.raises(ValueError, match="symmetric"):
        InfoNCE(symmetric="yes")
    with pytest.raises(ValueError, match="gather_across_ranks"):
        InfoNCE(gather_across_ranks=1)


def test_rejects_mismatched_shapes_naming_both():
    loss_fn = InfoNCE()
    with pytest.raises(ValueError, match=r"anchor \(4, 8\).*positive \(3, 8\)"):
        loss_fn(torch.randn(4, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"anchor \(4, 8\).*positive \(4, 6\)"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 6))
    with pytest.raises(ValueError, match=r"\(4, 8\).*\(3, 8\)"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"\(4, 8\).*\(4, 2, 5\)"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match=r"\(4, 0, 8\)"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 0, 8))
    with pytest.raises(ValueError, match="negatives must have shape"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 1, 1, 8))
    with pytest.raises(ValueError, match=r"anchor must have shape \(N, d\)"):
        loss_fn(torch.randn(8), torch.randn(8))
    with pytest.raises(ValueError, match="empty"):
        loss_fn(torch.randn(0, 8), torch.randn(0, 8))


# ---------------------------------------------------------------- false negatives and extra negatives

def masked_loss_numpy(a, p, n, ids, extra=None, extra_ids=None, tau=0.05, symmetric=False):
    """InfoNCE with duplicate masking, loop by loop: a candidate whose id equals anchor i's own id or its
    positive's id leaves anchor i's denominator, unless it is anchor i's positive."""
    def cos(u, v):
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    a, p = np.asarray(a, np.float64), np.asarray(p, np.float64)
    size = len(a)
    cands = [(p[j], ids[j][1], j) for j in range(size)]
    if n is not None:
        cands += [(n[j, m], ids[j][2 + m], None) for j in range(size) for m in range(n.shape[1])]
    if extra is not None:
        cands += [(extra[m], extra_ids[m], None) for m in range(len(extra))]
    terms = []
    for i in range(size):
        own = {ids[i][0], ids[i][1]}
        den = sum(math.exp(cos(a[i], v) / tau) for v, c_id, j in cands if j == i or c_id not in own)
        terms.append(-(cos(a[i], p[i]) / tau - math.log(den)))
    loss = float(np.mean(terms))
    if symmetric:
        back = []
        for i in range(size):
            own = {ids[i][0], ids[i][1]}
            den = sum(math.exp(cos(p[i], a[j]) / tau) for j in range(size) if j == i or ids[j][0] not in own)
            back.append(-(cos(p[i], a[i]) / tau - math.log(den)))
        loss = 0.5 * (loss + float(np.mean(back)))
    return loss


def test_identical_rows_give_log_n_and_lose_their_false_negatives_with_masking():
    emb = torch.ones(8, 4, dtype=torch.float64)  # 8 identical rows, perfect embeddings
    ids = torch.zeros(8, 2, dtype=torch.long)  # every text the same
    assert InfoNCE()(emb, emb).item() == pytest.approx(math.log(8), abs=1e-12)
    assert InfoNCE(mask_duplicates=True)(emb, emb, text_ids=ids).item() == 0.0
    # with identical hard negatives too, and in both directions
    hard = torch.ones(8, 1, 4, dtype=torch.float64)
    assert InfoNCE()(emb, emb, hard).item() == pytest.approx(math.log(16), abs=1e-12)
    masked = InfoNCE(mask_duplicates=True, symmetric=True)(emb, emb, hard, text_ids=torch.zeros(8, 3).long())
    assert masked.item() == 0.0


def test_masking_only_removes_the_duplicates():
    # rows 0 and 1 are the same text; rows 2..7 distinct: only anchors 0 and 1 lose one term each
    emb = torch.ones(8, 4, dtype=torch.float64)
    ids = torch.tensor([[0, 0], [0, 0]] + [[i, i] for i in range(2, 8)])
    per_anchor = [math.log(7)] * 2 + [math.log(8)] * 6  # all logits equal: log(candidates left)
    got = InfoNCE(mask_duplicates=True)(emb, emb, text_ids=ids).item()
    assert got == pytest.approx(float(np.mean(per_anchor)), abs=1e-12)


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("with_extra", [False, True])
def test_masking_matches_loop_reference(k, symmetric, with_extra):
    a, p, neg = _inputs(n=6, d=5, k=k, seed=3)
    g = torch.Generator().manual_seed(1)
    # small id alphabet: many collisions between anchors, positives, negatives and the queue
    ids = torch.randint(0, 4, (6, 2 + (k or 0)), generator=g)
    extra = torch.randn(5, 5, generator=g, dtype=torch.float64) if with_extra else None
    extra_ids = torch.randint(0, 4, (5,), generator=g) if with_extra else None
    loss = InfoNCE(mask_duplicates=True, symmetric=symmetric)(a, p, neg, text_ids=ids, extra_negatives=extra,
                                                              extra_negative_ids=extra_ids)
    ref = masked_loss_numpy(a.numpy(), p.numpy(), None if neg is None else neg.numpy(), ids.tolist(),
                            None if extra is None else extra.numpy(), None if extra_ids is None else
                            extra_ids.tolist(), symmetric=symmetric)
    assert loss.item() == pytest.approx(ref, abs=1e-9)


def test_extra_negatives_join_every_denominator():
    a, p, neg = _inputs(n=4, d=6, k=1, seed=2)
    extra = torch.randn(3, 6, dtype=torch.float64)
    loss = InfoNCE(temperature=0.1)(a, p, neg, extra_negatives=extra)
    ids = torch.arange(4 * 3).reshape(4, 3)  # all distinct: masking changes nothing
    ref = masked_loss_numpy(a.numpy(), p.numpy(), neg.numpy(), ids.tolist(), extra.numpy(), [100, 101, 102],
                            tau=0.1)
    assert loss.item() == pytest.approx(ref, abs=1e-9)
    assert InfoNCE()(a, p, extra_negatives=extra[:0]).item() == pytest.approx(InfoNCE()(a, p).item())


def test_masking_needs_ids_of_the_right_shape():
    a, p, _ = _inputs(n=3, d=4)
    with pytest.raises(ValueError, match="needs text_ids"):
        InfoNCE(mask_duplicates=True)(a, p)
    with pytest.raises(ValueError, match=r"shape \(N, 2 \+ k\) = \(3, 2\)"):
        InfoNCE(mask_duplicates=True)(a, p, text_ids=torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="need extra_negative_ids"):
        InfoNCE(mask_duplicates=True)(a, p, text_ids=torch.zeros(3, 2, dtype=torch.long), extra_negatives=a)
    with pytest.raises(ValueError, match="extra_negatives must have shape"):
        InfoNCE()(a, p, extra_negatives=torch.zeros(2, 9, dtype=a.dtype))
    with pytest.raises(ValueError, match="mask_duplicates must be a bool"):
        InfoNCE(mask_duplicates=1)


def test_masked_loss_keeps_nan_and_gradients():
    a, p, _ = _inputs(n=4, d=3)
    a.requires_grad_(True)
    ids = torch.tensor([[0, 0], [0, 0], [1, 1], [2, 2]])
    InfoNCE(mask_duplicates=True)(a, p, text_ids=ids).backward()
    assert torch.isfinite(a.grad).all()
    a2 = a.detach().clone()
    a2[0, 0] = float("nan")
    assert math.isnan(InfoNCE(mask_duplicates=True)(a2, p, text_ids=ids).item())
