"""STS scoring (SimCSE protocol) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from textcl.data.senteval import load_stsb
from textcl.evaluation.sts import (
    cosine_similarity_rows,
    evaluate_hf_sts,
    evaluate_sts,
    evaluate_sts_data,
    sts_correlations,
    sts_dev_spearman,
)


def angle_encoder(gold_of: dict[str, float], reverse: bool = False):
    """A perfect (or perfectly wrong) encoder: sentences in ``gold_of`` sit at an angle
    from e1 that shrinks as their gold score (0-5) grows; every other sentence is e1."""
    def encode(texts):
        out = []
        for t in texts:
            if t not in gold_of:
                out.append([1.0, 0.0])
                continue
            g = gold_of[t]
            angle = (g if reverse else 5.0 - g) / 5.0 * math.pi / 2
            out.append([math.cos(angle), math.sin(angle)])
        return np.asarray(out, dtype=np.float32)
    return encode


def test_cosine_rows_by_hand():
    a = np.array([[1.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    b = np.array([[1.0, 1.0], [3.0, 4.0], [1.0, 2.0]])
    assert np.allclose(cosine_similarity_rows(a, b), [1 / math.sqrt(2), 1.0, 0.0])


def test_correlations_by_hand():
    # ranks (1,2,3) vs (1,3,2): rho = 1 - 6*2/(3*8) = 0.5; Pearson: cov 1 / var 2 = 0.5
    out = sts_correlations(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]))
    assert out == pytest.approx({"spearman": 50.0, "pearson": 50.0, "n": 3})


def test_perfect_and_reversed_encoder(downstream):
    data = load_stsb(downstream, "test")
    gold_of = dict(zip(data.sentences2, data.scores))
    perfect = evaluate_sts(angle_encoder(gold_of), "stsb", downstream)
    assert perfect["spearman"] == pytest.approx(100.0)
    assert perfect["n"] == 5
    reversed_ = evaluate_sts(angle_encoder(gold_of, reverse=True), "stsb", downstream)
    assert reversed_["spearman"] == pytest.approx(-100.0)


def test_matches_an_independent_computation(downstream, counting_encoder, toy_vector):
    data = load_stsb(downstream, "test")
    cos = [float(toy_vector(a) @ toy_vector(b)) for a, b in zip(data.sentences1, data.sentences2)]
    expected = 100 * spearmanr(cos, data.scores)[0]
    got = evaluate_sts(counting_encoder, "stsb", downstream)
    assert got["spearman"] == pytest.approx(expected, abs=1e-6)
    assert len(counting_encoder.calls) == 1  # both sides in one encode call


def test_sts_year_is_pooled(downstream, toy_vector):
    out = evaluate_sts(lambda t: np.stack([toy_vector(s) for s in t]), "sts12", downstream)
    assert out["n"] == 13


def test_dev_split_and_return_predictions(downstream):
    data = load_stsb(downstream, "dev")
    gold_of = dict(zip(data.sentences2, data.scores))
    assert sts_dev_spearman(angle_encoder(gold_of), downstream) == pytest.approx(100.0)
    out = evaluate_sts_data(angle_encoder(gold_of), data, return_predictions=True)
    assert out["predictions"].shape == (5,)
    assert np.argmax(out["predictions"]) == np.argmax(data.scores)


def test_bad_inputs(downstream):
    with pytest.raises(ValueError, match="not an STS task"):
        evaluate_sts(lambda t: np.zeros((len(t), 2)), "mr", downstream)
    with pytest.raises(ValueError, match="only a 'test' split"):
        evaluate_sts(lambda t: np.zeros((len(t), 2)), "sts12", downstream, split="dev")
    with pytest.raises(ValueError, match="encode returned shape"):
        evaluate_sts(lambda t: np.zeros((3, 2)), "stsb", downstream)


def test_hf_style_local_file(tmp_path):
    path = tmp_path / "sts.jsonl"
    rows = [("a", "b", 0.1), ("c", "d", 0.9), ("e", "f", 0.5)]
    path.write_text("\n".join(f'{{"sentence1": "{a}", "sentence2": "{b}", "score": {s}}}'
                              for a, b, s in rows) + "\n")
    gold_of = {b: s * 5 for _, b, s in rows}
    out = evaluate_hf_sts(angle_encoder(gold_of), path)  # a local file has only 'train'
    assert out["spearman"] == pytest.approx(100.0) and out["n"] == 3
    with pytest.raises(ValueError, match="columns: sentence1, sentence2, score"):
        evaluate_hf_sts(angle_encoder(gold_of), path, score="label")
