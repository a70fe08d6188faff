"""ScoredPairView (scores as labels, optionally rescaled) and DistillationView (teacher vectors as labels)."""

import numpy as np
import pytest
import torch

from textcl.views import VIEWS, DistillationView, ScoredPairView, make_view

ROWS = {"sentence1": ["a man plays .", "a dog runs .", "a cat ."], "sentence2": ["music .", "a dog .", "a car ."],
        "score": [5.0, 2.5, 0]}


def test_scores_pass_as_read_and_texts_in_order():
    vb = ScoredPairView()(ROWS)
    assert vb.texts == [ROWS["sentence1"], ROWS["sentence2"]]
    assert vb.labels.dtype == torch.float32 and vb.labels.tolist() == [5.0, 2.5, 0.0]


@pytest.mark.parametrize("low, high", [(0, 5), (0.0, 5.0), (-1, 5), (0, 10)])
def test_score_range_maps_onto_unit_interval(low, high):
    vb = ScoredPairView(score_range=(low, high))(ROWS)
    expected = [(s - low) / (high - low) for s in ROWS["score"]]
    assert vb.labels.tolist() == pytest.approx(expected)
    assert 0.0 <= vb.labels.min() and vb.labels.max() <= 1.0


def test_out_of_range_and_bad_scores_are_named():
    with pytest.raises(ValueError, match=r"score 5.0 is outside score_range \(0.0, 1.0\)"):
        ScoredPairView(score_range=(0, 1))(ROWS)
    with pytest.raises(ValueError, match="score column must hold numbers"):
        ScoredPairView()({**ROWS, "score": ["high", 1, 2]})
    with pytest.raises(ValueError, match="non-finite"):
        ScoredPairView()({**ROWS, "score": [float("nan"), 1, 2]})
    for bad in [(5, 0), (0,), (0, float("inf")), "0,5", (True, 5)]:
        with pytest.raises(ValueError, match="score_range must be"):
            ScoredPairView(score_range=bad)


def test_registered_and_recorded():
    assert VIEWS["scored_pair"] is ScoredPairView and VIEWS["distillation"] is DistillationView
    assert isinstance(make_view("scored_pair"), ScoredPairView)
    assert ScoredPairView(score_range=(0, 5)).get_config() == {"name": "scored_pair", "score_range": [0.0, 5.0]}
    assert DistillationView().get_config() == {"name": "distillation"}


def test_distillation_view_gives_teacher_vectors():
    teacher = np.arange(6, dtype=np.float64).reshape(3, 2)
    vb = DistillationView()({"text": ["a", "b", "c"], "label": [list(r) for r in teacher]})
    assert vb.texts == [["a", "b", "c"]] and vb.labels.dtype == torch.float32
    assert vb.labels.tolist() == teacher.tolist()
    with pytest.raises(ValueError, match="one teacher vector per row"):
        DistillationView()({"text": ["a", "b"], "label": [[1.0, 2.0], [1.0]]})
    with pytest.raises(ValueError, match="one teacher vector per row"):
        DistillationView()({"text": ["a", "b"], "label": [1.0, 2.0]})
