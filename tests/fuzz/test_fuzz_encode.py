"""Fuzz ``SentenceEncoder.encode``: any unicode (control characters, emoji, RTL, combining marks),
empty and whitespace texts, non-strings, huge texts. Either finite embeddings of the right shape,
or the documented ``ValueError`` / ``TypeError``; nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textcl.encoders.rnn import RNNEncoder
from textcl.encoders.word_average import WordAverageEncoder
from textcl.encoders.word_tokenizer import WordTokenizer
from textcl.model import SentenceEncoder

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = ["<pad>", "<unk>"] + "the cat sat on mat a dog ran . , ! é 日本 😀 مرحبا".split()
FUZZ = settings(derandomize=True, deadline=None, max_examples=15, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# every unicode category, surrogates excluded (a Python str cannot be encoded with them anyway)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
# short enough for the tiny BERT's 64 positions: huge texts have their own test below
NASTY = st.sampled_from(["\x00", "\u200b", "\u202e", "\ufeff", "\r\n", "\t", "😀" * 50, "مرحبا بالعالم",
                         "e\u0301" * 20, "\U0010ffff", "a" * 5000, "\n\n.\n", "the\x00cat\x07sat"])
TEXT = st.one_of(ANY_TEXT, NASTY, st.lists(NASTY, min_size=1, max_size=4).map("".join))


@pytest.fixture(scope="module")
def models(tiny_bert_dir):
    torch.manual_seed(0)
    matrix = torch.randn(len(VOCAB), 8)
    return {
        "transformer": SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu"),
        "rnn": SentenceEncoder(RNNEncoder(WordTokenizer(VOCAB), matrix, hidden_size=6, max_length=64)).to("cpu"),
        "word_average": SentenceEncoder(WordAverageEncoder(WordTokenizer(VOCAB), matrix.numpy())).to("cpu"),
    }


def _check_encode(model: SentenceEncoder, texts) -> None:
    try:
        emb = model.encode(texts, dtype="float32", batch_size=3)
    except (ValueError, TypeError) as err:
        assert str(err), "an error without a message"
        as_list = [texts] if isinstance(texts, str) else texts
        if isinstance(as_list, (list, tuple)) and as_list and all(isinstance(t, str) and t.strip() for t in as_list):
            raise AssertionError(f"valid non-empty strings were refused: {err}") from err
        return
    n = 1 if isinstance(texts, str) else len(texts)
    assert emb.shape == ((model.embedding_dim,) if isinstance(texts, str) else (n, model.embedding_dim))
    assert emb.dtype == np.float32 and np.isfinite(emb).all()


@pytest.mark.parametrize("kind", ["transformer", "rnn", "word_average"])
@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=5))
def test_any_unicode_list(models, kind, texts):
    _check_encode(models[kind], texts)


@pytest.mark.parametrize("kind", ["transformer", "rnn", "word_average"])
@FUZZ
@given(text=TEXT)
def test_single_string(models, kind, text):
    _check_encode(models[kind], text)


NON_STRINGS = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=5),
                        st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                 max_size=1))


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
@FUZZ
@given(items=st.lists(st.one_of(NON_STRINGS, st.just("a cat")), min_size=0, max_size=4))
def test_non_strings_are_type_errors(models, kind, items):
    has_bad = any(not isinstance(x, str) for x in items)
    if not items:
        with pytest.raises(ValueError, match="empty"):
            models[kind].encode(items)
    elif has_bad:
        first = next(i for i, x in enumerate(items) if not isinstance(x, str))
        with pytest.raises(TypeError, match=rf"texts\[{first}\]"):
            models[kind].encode(items)
    else:
        _check_encode(models[kind], items)


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"bytes", object()])
def test_a_non_iterable_is_a_type_error(models, bad):
    with pytest.raises(TypeError):
        models["rnn"].encode(bad)


@pytest.mark.parametrize("kind", ["transformer", "rnn", "word_average"])
def test_a_huge_text_is_truncated_not_a_crash(models, kind):
    """A 200,000-word text: the transformer has only 64 positions, the RNN max_length 64."""
    emb = models[kind].encode(["the cat sat " * 70000, "a dog"], dtype="float32")
    assert emb.shape == (2, models[kind].embedding_dim) and np.isfinite(emb).all()


@pytest.mark.parametrize("kind", ["transformer", "rnn", "word_average"])
def test_same_text_same_embedding_whatever_the_batch(models, kind):
    texts = ["😀 the cat", "\u202e.dog", "x" * 300, "日本 a", "the"]
    alone = np.stack([models[kind].encode(t, dtype="float32") for t in texts])
    together = models[kind].encode(texts, dtype="float32", batch_size=2)
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)
