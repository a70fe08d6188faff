"""Augmentations: exact effect on a fixed input and seed, validation, resumable random state."""

import pytest
import torch

from textcl.views import (FeatureCutoff, SpanCutoff, TokenCutoff, TokenShuffle, WordDeletion, WordRepetition)

TEXT = "a man plays the guitar on the beach ."
WORDS = TEXT.split()
MASK = torch.tensor([[1] * 10, [1] * 6 + [0] * 4])  # (2, 10): 10 and 6 real tokens, right-padded


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_word_deletion_exact_effect():
    out = WordDeletion(rate=0.3, seed=0).augment(TEXT)
    draws = torch.rand(len(WORDS), generator=_gen(0))  # the rule: word i goes when its draw < rate
    assert out == " ".join(w for w, d in zip(WORDS, draws) if d >= 0.3)
    assert out == "a man guitar on the beach ."


def test_word_deletion_keeps_one_word():
    assert len(WordDeletion(rate=0.999, seed=1).augment("x y z").split()) == 1
    assert WordDeletion(rate=0.5, seed=0).augment("   ") == "   "  # no words: unchanged


def test_word_repetition_exact_effect_and_default_side():
    aug = WordRepetition(rate=0.32, seed=0)
    out = aug.augment(TEXT)
    g = _gen(0)
    n = min(int(torch.randint(0, max(2, int(0.32 * 9)) + 1, (1,), generator=g)), 9)
    repeated = set(torch.randperm(9, generator=g)[:n].tolist())
    assert out == " ".join(w for i, w in enumerate(WORDS) for _ in range(2 if i in repeated else 1))
    assert out == "a a man plays the guitar on the the beach ."
    assert aug.side == "positive" and aug.view_indices() == (1,)  # ESimCSE: positives only


def test_token_shuffle_exact_effect():
    out = TokenShuffle(seed=0).augment(TEXT)
    g = _gen(0)
    torch.rand(1, generator=g)
    order = torch.randperm(9, generator=g).tolist()
    assert out == " ".join(WORDS[i] for i in order) == "a the guitar plays . the beach on man"
    assert sorted(out.split()) == sorted(WORDS)


def test_token_shuffle_rate_is_the_probability_of_shuffling():
    aug = TokenShuffle(rate=0.5, seed=0)
    outs = aug([TEXT] * 200)
    unchanged = sum(o == TEXT for o in outs)
    assert 70 < unchanged < 130  # ~100 of 200 left in order (a random 9-word order is almost never the original)


def test_token_cutoff_exact_effect():
    keep, feature = TokenCutoff(rate=0.3, seed=0).masks(MASK, 8)
    assert feature is None and keep.shape == (2, 10)
    assert keep.tolist() == [[1, 0, 1, 1, 0, 1, 1, 0, 1, 1], [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]]
    assert (keep[1, 6:] == 1).all()  # padding is never chosen
    assert [int((k == 0).sum()) for k in keep] == [3, 1]  # int(0.3 * 10), int(0.3 * 6)


def test_span_cutoff_exact_effect():
    keep, _ = SpanCutoff(rate=0.3, seed=0).masks(MASK, 8)
    assert keep.tolist() == [[1, 1, 1, 1, 0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]]
    g = _gen(0)
    start = int(torch.randint(0, 10 - 3 + 1, (1,), generator=g))
    assert (keep[0, start:start + 3] == 0).all()


def test_feature_cutoff_exact_effect():
    token, keep = FeatureCutoff(rate=0.25, seed=0).masks(MASK, 8)
    assert token is None and keep.shape == (2, 8)
    assert keep.tolist() == [[0, 1, 1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 0, 1, 0]]
    g = _gen(0)
    first = torch.randperm(8, generator=g)[:2]
    assert (keep[0, first] == 0).all()


@pytest.mark.parametrize("cls", [WordDeletion, TokenCutoff, SpanCutoff, FeatureCutoff])
@pytest.mark.parametrize("rate", [0, -0.1, 1.0, float("nan"), "0.2", True])
def test_rates_below_one_are_validated(cls, rate):
    with pytest.raises(ValueError, match="rate must be"):
        cls(rate=rate)


@pytest.mark.parametrize("cls", [WordRepetition, TokenShuffle])
def test_rate_one_allowed_where_it_means_always(cls):
    assert cls(rate=1.0).rate == 1.0
    with pytest.raises(ValueError, match="rate must be"):
        cls(rate=1.5)


def test_side_and_seed_are_validated():
    with pytest.raises(ValueError, match="side must be one of anchor, positive, both"):
        WordDeletion(side="left")
    with pytest.raises(ValueError, match="seed must be an int"):
        WordDeletion(seed=1.5)


@pytest.mark.parametrize("make", [lambda: WordDeletion(rate=0.3, seed=5), lambda: WordRepetition(seed=5),
                                  lambda: TokenShuffle(seed=5)])
def test_same_seed_same_draws_and_state_resumes(make):
    a, b = make(), make()
    assert a([TEXT] * 5) == b([TEXT] * 5)
    state = a.state_dict()
    expected = a([TEXT] * 5)
    c = make()
    c.load_state_dict(state)
    assert c([TEXT] * 5) == expected  # a restored generator continues exactly where the saved one stood
