"""SentenceEncoder.encode: precision choice and fallback, length-sorted batches, input order."""

import numpy as np
import pytest
import torch

from textcl import dtype as precision_module
from textcl.model import SentenceEncoder
from textcl.dtype import resolve_dtype


@pytest.fixture
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_auto_falls_back_to_float32_without_fast_bf16(model, sentences, monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu") == "float32"
    # the default is "auto": on such a CPU it must be exactly the float32 result
    np.testing.assert_array_equal(model.encode(sentences), model.encode(sentences, dtype="float32"))


def test_auto_uses_bf16_where_the_cpu_has_it(model, sentences, monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)
    assert resolve_dtype("auto", "cpu") == "bfloat16"
    fp32 = model.encode(sentences, dtype="float32")
    auto = model.encode(sentences)
    assert auto.dtype == np.float32
    assert not np.array_equal(auto, fp32)  # bf16 really ran
    # bf16 keeps ~3 significant digits; LayerNorm / softmax stay float32 under autocast
    assert _cosines(auto, fp32).min() > 0.999
    np.testing.assert_allclose(auto, fp32, atol=5e-3)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_length_sorting_keeps_the_input_order(model, sentences, precision):
    texts = sentences + [" ".join(sentences[:3]), "a dog ."]  # very different lengths
    batched = model.encode(texts, batch_size=4, dtype=precision)
    one_by_one = np.stack([model.encode([t], dtype=precision)[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5 if precision == "float32" else 2e-3)


def test_length_sorted_batches_tokenize_once_and_pad_per_batch(model, sentences):
    texts = sentences + ["a man plays the guitar and a woman plays the piano in the park ."]
    batches = list(model.encoder.length_sorted_batches(texts, batch_size=5))
    order = np.concatenate([idx for idx, _ in batches])
    assert sorted(order.tolist()) == list(range(len(texts)))  # every sentence exactly once
    lengths = [int(f["attention_mask"].sum(1).max()) for _, f in batches]
    assert lengths == sorted(lengths, reverse=True)  # longest batch first
    for idx, features in batches:
        # each batch padded to its own longest sentence, identical to tokenizing that batch alone
        expected = model.encoder.tokenize([texts[i] for i in idx])
        assert features.keys() == expected.keys()
        for key in expected:
            assert torch.equal(features[key], expected[key]), key
        assert int(features["attention_mask"].sum(1).max()) == features["input_ids"].shape[1]


def test_sorting_by_tokens_not_characters(model):
    # "!" is one token per character; "playing" is one token for seven characters
    short_in_chars = "! ! ! ! ! ! ! !"
    long_in_chars = "someone playing guitar"
    (first, _), (second, _) = model.encoder.length_sorted_batches([long_in_chars, short_in_chars], batch_size=1)
    assert first.tolist() == [1] and second.tolist() == [0]


def test_encoders_without_length_sorted_batches_still_encode(model, sentences, monkeypatch):
    # the generic path (RNN / word-average encoders): sort by estimated length, tokenize per batch
    from textcl.encoders.base import Encoder

    monkeypatch.setattr(type(model.encoder), "length_sorted_batches", Encoder.length_sorted_batches)
    np.testing.assert_allclose(model.encode(sentences, batch_size=3, dtype="float32"),
                               np.stack([model.encode([s], dtype="float32")[0] for s in sentences]),
                               atol=1e-5)
