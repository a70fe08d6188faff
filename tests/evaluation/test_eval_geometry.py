"""Alignment and uniformity (Wang & Isola 2020) against closed forms and a naive reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from textcl.evaluation.geometry import (
    alignment,
    alignment_uniformity,
    alignment_uniformity_data,
    uniformity,
)
from textcl.data.senteval import PairData


def test_alignment_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    # squared distances 2 and 0 -> mean 1; scaling the inputs changes nothing (normalised first)
    assert alignment(x, y) == pytest.approx(1.0)
    assert alignment(3 * x, 0.5 * y) == pytest.approx(1.0)
    assert alignment(x, -x) == pytest.approx(4.0)  # antipodal: ||2e||^2


def test_uniformity_closed_form():
    # e1, -e1, e2: squared distances 4, 2, 2
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    expected = math.log((math.exp(-8) + 2 * math.exp(-4)) / 3)
    assert uniformity(x) == pytest.approx(expected)
    # a collapsed space has the worst uniformity, log(exp(0)) = 0
    assert uniformity(np.ones((5, 3))) == pytest.approx(0.0, abs=1e-12)


def test_uniformity_matches_naive_pdist():
    x = np.random.default_rng(0).standard_normal((40, 8))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sq = [np.sum((u[i] - u[j]) ** 2) for i in range(40) for j in range(i + 1, 40)]
    assert uniformity(x) == pytest.approx(math.log(np.mean(np.exp(-2 * np.asarray(sq)))), rel=1e-10)
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(x[:1])


def test_positive_pairs_use_threshold_and_sentences_are_deduplicated():
    vec = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [-1.0, 0.0], "d": [1.0, 0.0]}
    data = PairData(["a", "a", "c"], ["b", "d", "a"], np.array([4.0, 5.0, 1.0]))

    def encode(texts):
        return np.array([vec[t] for t in texts])

    out = alignment_uniformity_data(encode, data)
    assert out["n_pairs"] == 2
    assert out["alignment"] == pytest.approx((2.0 + 0.0) / 2)  # (a,b): 2, (a,d): 0
    assert out["n_sentences"] == 4  # a, c, b, d
    assert out["uniformity"] == pytest.approx(uniformity(np.array([vec[s] for s in "acbd"])))
    with pytest.raises(ValueError, match="no pair"):
        alignment_uniformity_data(encode, data, threshold=6.0)


def test_on_stsb_fixture(downstream, counting_encoder):
    out = alignment_uniformity(counting_encoder, downstream)
    assert out["n_pairs"] == 2  # gold 5.0 and 4.2
    assert out["n_sentences"] == 10
    assert 0.0 <= out["alignment"] <= 4.0 and -8.0 <= out["uniformity"] <= 0.0
