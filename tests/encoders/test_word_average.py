"""WordAverageEncoder: the averaged word-vector baseline."""

import json

import numpy as np
import pytest
import torch

from textcl.encoders.rnn import RNNEncoder
from textcl.encoders.word_average import WordAverageEncoder
from textcl.encoders.word_tokenizer import WordTokenizer

VOCAB = ["<pad>", "<unk>"] + "the cat sat on mat a dog ran fast . , is big small red blue and it".split()
TEXTS = ["the cat sat on the mat .", "a zebra ran", "zebra"]


pytestmark = pytest.mark.usefixtures("one_thread")


def make_encoder(**kwargs):
    matrix = np.random.default_rng(0).normal(size=(len(VOCAB), 8)).astype(np.float32)
    return WordAverageEncoder(WordTokenizer(VOCAB), matrix, **kwargs), matrix


def numpy_average(matrix, text, skip_unknown):
    ids = [VOCAB.index(w) if w in VOCAB else 1 for w in text.split()]
    if skip_unknown:
        ids = [i for i in ids if i != 1]
    return matrix[ids].mean(axis=0) if ids else np.zeros(matrix.shape[1], dtype=np.float32)


@pytest.mark.parametrize("skip_unknown", [True, False])
def test_average_equals_numpy_mean_over_real_tokens(skip_unknown):
    enc, matrix = make_encoder(skip_unknown=skip_unknown)
    got = enc(enc.tokenize(TEXTS)).numpy()
    want = np.stack([numpy_average(matrix, t, skip_unknown) for t in TEXTS])
    assert got.shape == (3, 8) and enc.embedding_dim == 8
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    if skip_unknown:  # a sentence of only unknown words has nothing to average
        np.testing.assert_array_equal(got[2], 0)


def test_padding_does_not_change_a_sentence():
    enc, _ = make_encoder()
    alone = enc(enc.tokenize(["a dog ran"]))
    batch = enc(enc.tokenize(["big red dog and a small blue cat , fast", "a dog ran"]))
    torch.testing.assert_close(alone[0], batch[1])


def test_nothing_is_trainable():
    enc, _ = make_encoder()
    assert not any(p.requires_grad for p in enc.parameters())


def test_save_load_gives_identical_embeddings(tmp_path):
    enc, _ = make_encoder(skip_unknown=False, max_length=4)
    enc.save(tmp_path / "avg")
    config = json.loads((tmp_path / "avg" / "encoder_config.json").read_text())
    assert config["kind"] == "word_average"
    again = WordAverageEncoder.load(tmp_path / "avg")
    assert again.get_config() == enc.get_config()
    torch.testing.assert_close(again(again.tokenize(TEXTS)), enc(enc.tokenize(TEXTS)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="describes a 'word_average' encoder, not 'rnn'"):
        RNNEncoder.load(tmp_path / "avg")


def test_from_word_vectors_and_from_glove(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("the 1 2\ncat 3 5\n", encoding="utf-8")
    enc = WordAverageEncoder.from_word_vectors(path)
    torch.testing.assert_close(enc(enc.tokenize(["The cat"])), torch.tensor([[2.0, 3.5]]))
    glove = WordAverageEncoder.from_glove(vocab_size=10)
    assert glove(glove.tokenize(["the ."])).shape == (1, 50)


def test_bad_inputs_give_clear_errors(tmp_path):
    enc, _ = make_encoder()
    with pytest.raises(ValueError, match=r"texts\[0\] is empty"):
        enc.tokenize(["  "])
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        enc.tokenize(["the", None])
    with pytest.raises(FileNotFoundError, match="missing"):
        WordAverageEncoder.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="vectors.txt"):
        WordAverageEncoder.from_word_vectors(tmp_path / "vectors.txt")


# --- load overrides (issue 10: overrides on saved word-vector folders) -------------


def test_load_accepts_the_uniform_overrides(tmp_path):
    from textcl.model import SentenceEncoder

    enc, matrix = make_encoder(max_length=64)
    SentenceEncoder(enc).save(str(tmp_path / "m"))
    # pooling="mean" is what the average is; max_length cuts; transformer options are ignored
    loaded = SentenceEncoder.from_pretrained(
        str(tmp_path / "m"), pooling="mean", max_length=2, trust_remote_code=False, device="cpu"
    )
    assert loaded.encoder.max_length == 2
    want = np.stack([numpy_average(matrix, " ".join(t.split()[:2]), True) for t in TEXTS])
    np.testing.assert_allclose(loaded.encode(TEXTS, dtype="float32"), want, rtol=1e-6, atol=1e-6)
    direct = WordAverageEncoder.load(tmp_path / "m", trust_remote_code=True, revision="main")
    assert direct.get_config() == enc.get_config()


def test_load_refuses_a_pooling_it_does_not_compute(tmp_path):
    enc, _ = make_encoder()
    enc.save(tmp_path / "avg")
    with pytest.raises(ValueError, match="unknown pooling for a 'word_average' encoder 'max'; expected one of 'mean'"):
        WordAverageEncoder.load(tmp_path / "avg", pooling="max")
    with pytest.raises(ValueError, match=r"max_length \(--max-length\) must be an int >= 1"):
        WordAverageEncoder.load(tmp_path / "avg", max_length=-1)
