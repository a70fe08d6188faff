"""Views turn rows into aligned text lists (and labels)."""

import pytest
import torch

from textcl.views import DropoutView, LabeledPairView, PairView, TripletView, make_view


def test_dropout_view_repeats_the_same_sentences():
    vb = DropoutView()([("a",), ("b",)])
    assert vb.texts == [["a", "b"], ["a", "b"]] and vb.texts[0] is vb.texts[1]


def test_pair_and_triplet_views_shapes():
    assert PairView()([("a", "A"), ("b", "B")]).texts == [["a", "b"], ["A", "B"]]
    vb = TripletView()([("a", "A", "x"), ("b", "B", "y"), ("c", "C", "z")])
    assert [len(t) for t in vb.texts] == [3, 3, 3] and vb.texts[2] == ["x", "y", "z"]


def test_labeled_pair_view_labels():
    vb = LabeledPairView()([("a", "b", 1), ("c", "d", 0)])
    assert torch.equal(vb.labels, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="0/1 labels"):
        LabeledPairView()([("a", "b", "yes")])


def test_wrong_column_count_and_unknown_view():
    with pytest.raises(ValueError, match="needs 3 column"):
        TripletView()([("a", "b")])
    with pytest.raises(ValueError, match="dropout, pair, triplet"):
        make_view("quadruplet")
