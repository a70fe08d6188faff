"""Compositions of a base view and augmentations; the --view spec; the embedding hooks."""

import pytest
import torch

from textcl.model import SentenceEncoder
from textcl.train.length_buckets import LengthBuckets
from textcl.views import (AugmentedView, DropoutView, FeatureCutoff, PairView, TokenCutoff, WordDeletion,
                          WordRepetition, make_view, parse_view_spec)
from textcl.views.embedding_hooks import FEATURE_KEEP, TOKEN_KEEP, embedding_masks, masked_input_embeddings

TEXTS = ["a man plays the guitar on the beach .", "a dog runs in the park ."]


def test_spec_parsing_and_order():
    base, parts = parse_view_spec("pair+word_deletion=0.2@positive+feature_cutoff")
    assert base == "pair" and parts == [("word_deletion", 0.2, "positive"), ("feature_cutoff", None, None)]
    view = make_view("dropout+word_repetition+token_cutoff=0.3", seed=7)
    assert isinstance(view, AugmentedView) and isinstance(view.base, DropoutView)
    assert [type(a) for a in view.augmentations] == [WordRepetition, TokenCutoff]
    assert view.augmentations[1].rate == 0.3 and view.columns == ("text",) and view.acts_on_embeddings
    assert isinstance(make_view("pair"), PairView)


@pytest.mark.parametrize("spec, match", [
    ("word_repetition", "after a base view: 'dropout\\+word_repetition'"),
    ("dropout+nope", "unknown augmentation 'nope'"),
    ("dropout+word_deletion=x", "must be a number"),
    ("dropout+word_deletion@left", "side after '@'"),
    ("dropout+word_deletion=1.5", "rate must be"),
])
def test_bad_specs_are_named(spec, match):
    with pytest.raises(ValueError, match=match):
        make_view(spec)


def test_text_augmentations_apply_in_written_order_to_their_side():
    view = AugmentedView(DropoutView(), [WordDeletion(rate=0.3, side="positive", seed=1),
                                          WordRepetition(rate=0.5, seed=2)])
    vb = view({"text": TEXTS})
    deleted = WordDeletion(rate=0.3, side="positive", seed=1)(TEXTS)
    assert vb.texts[1] == WordRepetition(rate=0.5, seed=2)(deleted)  # delete first, then repeat
    assert vb.texts[0] is vb.sources[0] and vb.texts[0] == TEXTS  # anchors untouched
    assert vb.sources == [TEXTS, TEXTS] and vb.embedding_augmentations is None


def test_both_sides_draw_independently_and_state_round_trips():
    view = make_view("dropout+word_deletion=0.4@both", seed=3)
    first = view({"text": TEXTS * 4})
    assert first.texts[0] != first.texts[1]
    state = view.state_dict()
    nxt = view({"text": TEXTS * 4}).texts
    again = make_view("dropout+word_deletion=0.4@both", seed=3)
    again.load_state_dict(state)
    assert again({"text": TEXTS * 4}).texts == nxt
    with pytest.raises(ValueError, match="view the run was started with"):
        DropoutView().load_state_dict(state)


def test_embedding_masks_cover_each_side():
    view = AugmentedView(PairView(), [TokenCutoff(rate=0.5, side="anchor", seed=0),
                                       FeatureCutoff(rate=0.5, side="positive", seed=0)])
    vb = view({"anchor": TEXTS, "positive": TEXTS})
    att = torch.ones(4, 6, dtype=torch.long)
    masks = embedding_masks(vb, att, dim=4)
    assert masks[TOKEN_KEEP].shape == (4, 6) and masks[FEATURE_KEEP].shape == (4, 1, 4)
    assert (masks[TOKEN_KEEP][:2] == 0).sum() == 6 and (masks[TOKEN_KEEP][2:] == 1).all()  # anchors only
    assert (masks[FEATURE_KEEP][:2] == 1).all() and (masks[FEATURE_KEEP][2:] == 0).sum() == 4  # positives only


def test_hooks_zero_the_chosen_embeddings_and_follow_rows_through_length_buckets(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu").eval()
    texts = ["a man plays .", "a dog runs in the park with a red car .", "someone is sleeping .", "the dog eats ."]
    features = model.tokenize(texts)
    token_keep = torch.ones(features["input_ids"].shape)
    token_keep[1, 2] = token_keep[2, 1] = 0
    feature_keep = torch.ones(4, 1, 32)
    feature_keep[0, 0, :5] = 0
    module = model.encoder.input_embedding_module()
    seen = []
    with masked_input_embeddings(model, module):
        handle = module.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
        direct = model({**features, TOKEN_KEEP: token_keep, FEATURE_KEEP: feature_keep})
        bucketed = LengthBuckets(model, rows=2)({**features, TOKEN_KEEP: token_keep, FEATURE_KEEP: feature_keep})
        handle.remove()
    raw = module(features["input_ids"])  # (4, seq, 32)
    assert torch.equal(seen[0], raw * token_keep[:, :, None] * feature_keep)
    assert (seen[0][1, 2] == 0).all() and (seen[0][0, :, :5] == 0).all() and torch.equal(seen[0][3], raw[3])
    torch.testing.assert_close(bucketed, direct, atol=1e-5, rtol=1e-5)  # masks followed their rows
    plain = model(features)  # outside the block: no hook, no masks
    assert not torch.allclose(plain[1], direct[1]) and torch.allclose(plain[3], direct[3], atol=1e-6)
