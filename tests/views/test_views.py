"""Views: columns in, aligned text lists (and labels) out."""

import pytest
import torch

from textcl.views import VIEWS, DropoutView, LabeledPairView, PairView, TripletView, make_view


def test_dropout_view_repeats_the_column():
    vb = DropoutView()({"text": ["a", "b"]})
    assert vb.texts == [["a", "b"], ["a", "b"]] and vb.labels is None and vb.batch_size == 2


def test_pair_and_triplet_views_read_their_columns_in_order():
    assert PairView()({"anchor": ["a", "b"], "positive": ["A", "B"]}).texts == [["a", "b"], ["A", "B"]]
    vb = TripletView()({"anchor": ["a", "b", "c"], "positive": ["A", "B", "C"], "negative": ["x", "y", "z"]})
    assert vb.texts == [["a", "b", "c"], ["A", "B", "C"], ["x", "y", "z"]]


def test_labeled_pair_view_labels():
    vb = LabeledPairView()({"text1": ["a", "c"], "text2": ["b", "d"], "label": [1, 0]})
    assert vb.texts == [["a", "c"], ["b", "d"]] and torch.equal(vb.labels, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="0/1 labels"):
        LabeledPairView()({"text1": ["a"], "text2": ["b"], "label": ["yes"]})


def test_views_declare_columns_and_refuse_missing_or_ragged_ones():
    assert TripletView.columns == ("anchor", "positive", "negative")
    assert LabeledPairView.text_columns == ("text1", "text2")
    with pytest.raises(ValueError, match="lacks negative"):
        TripletView()({"anchor": ["a"], "positive": ["b"]})
    with pytest.raises(ValueError, match="different lengths"):
        PairView()({"anchor": ["a", "b"], "positive": ["b"]})


def test_make_view_by_name():
    assert set(VIEWS) == {"dropout", "pair", "triplet", "labeled_pair", "scored_pair", "distillation"}
    assert isinstance(make_view("pair"), PairView)
    with pytest.raises(ValueError, match="choose one of"):
        make_view("nope")
