"""Word vectors (GloVe package, text files) and the WordTokenizer."""

import gzip

import numpy as np
import pytest
import torch

from textcl.encoders.word_tokenizer import WordTokenizer, split_words
from textcl.encoders.word_vectors import (
    add_special_tokens,
    file_embeddings,
    glove_embeddings,
    load_glove_package,
    load_word_vectors,
    transformer_input_embeddings,
)

VOCAB = ["<pad>", "<unk>", "the", "cat", "sat", "on", "mat", ".", "e-mail", "well"]


# --- WordTokenizer ------------------------------------------------------------


def test_split_words_follows_glove_tokenisation():
    text = "Don't stop, U.S. e-mail 1,000! It\u2019s 3.5% -- can't"
    assert split_words(text) == [
        "do", "n't", "stop", ",", "u.s.", "e-mail", "1,000", "!",
        "it", "'s", "3.5", "%", "--", "ca", "n't",
    ]  # fmt: skip
    assert split_words("The Cat", lowercase=False) == ["The", "Cat"]


def test_word_tokenizer_pads_masks_and_maps_unknown_words():
    tok = WordTokenizer(VOCAB)
    batch = tok(["The cat sat on the mat.", "A cat"], max_length=10)
    assert batch["input_ids"].dtype == torch.long
    assert batch["input_ids"].tolist() == [[2, 3, 4, 5, 2, 6, 7], [1, 3, 0, 0, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1] * 7, [1, 1, 0, 0, 0, 0, 0]]
    assert tok(["The cat sat on the mat."], max_length=3)["input_ids"].tolist() == [[2, 3, 4]]
    assert tok.token_lengths(["The cat sat on the mat.", "A cat"]) == [7, 2]


def test_word_tokenizer_splits_unknown_hyphenated_words():
    tok = WordTokenizer(VOCAB)
    assert tok.tokenize("e-mail well-cat") == ["e-mail", "well", "-", "cat"]


def test_word_tokenizer_save_load_round_trip(tmp_path):
    tok = WordTokenizer(VOCAB + ["Odd\rtoken"], lowercase=False)
    tok.save(tmp_path / "tok")
    again = WordTokenizer.load(tmp_path / "tok")
    assert again.vocab == tok.vocab and again.lowercase is False
    assert again.unk_id == tok.unk_id and again.pad_id == tok.pad_id


def test_word_tokenizer_errors(tmp_path):
    with pytest.raises(ValueError, match="unk_token '<unk>' is not in the vocabulary"):
        WordTokenizer(["<pad>", "the"])
    with pytest.raises(ValueError, match="newline"):
        WordTokenizer(VOCAB + ["a\nb"])
    with pytest.raises(ValueError, match="max_length"):
        WordTokenizer(VOCAB)(["the"], max_length=0)
    with pytest.raises(ValueError, match=r"texts\[1\] has no tokens"):
        WordTokenizer(VOCAB)(["the", "   "], max_length=4)
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        WordTokenizer.load(tmp_path)


# --- text files ---------------------------------------------------------------


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_glove_text_file(tmp_path):
    path = _write(tmp_path / "g.txt", "the 0.1 0.2 0.3\ncat -1 2 3.5\n\n")
    words, vectors = load_word_vectors(path)
    assert words == ["the", "cat"]
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [[0.1, 0.2, 0.3], [-1, 2, 3.5]], rtol=1e-6)


def test_load_word2vec_text_file_skips_header_and_reads_gzip(tmp_path):
    # word2vec writes a trailing space after each vector
    text = "2 3\nthe 0.1 0.2 0.3 \nCat -1 2 3.5 \n"
    path = tmp_path / "w.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(text)
    words, vectors = load_word_vectors(path)
    assert words == ["the", "Cat"] and vectors.shape == (2, 3)
    words, vectors = load_word_vectors(path, vocab_limit=1)
    assert words == ["the"] and vectors.shape == (1, 3)


def test_load_word_vectors_errors(tmp_path):
    ragged = _write(tmp_path / "r.txt", "the 0.1 0.2 0.3\ncat 1 2\n")
    with pytest.raises(ValueError, match=r"r\.txt, line 2: ragged row, expected 3 values .* got 2"):
        load_word_vectors(ragged)
    bad = _write(tmp_path / "b.txt", "the 0.1 x 0.3\n")
    with pytest.raises(ValueError, match="line 1: non-numeric"):
        load_word_vectors(bad)
    with pytest.raises(ValueError, match="no word vectors"):
        load_word_vectors(_write(tmp_path / "e.txt", "\n"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_word_vectors(tmp_path / "missing.txt")


def test_file_embeddings_put_pad_and_unk_first(tmp_path):
    path = _write(tmp_path / "g.txt", "the 1 2\ncat 3 4\n")
    tok, matrix = file_embeddings(path)
    assert tok.vocab == ["<pad>", "<unk>", "the", "cat"]
    np.testing.assert_allclose(matrix, [[0, 0], [2, 3], [1, 2], [3, 4]])  # unk = mean


def test_add_special_tokens_reuses_a_files_own_unk_vector():
    vocab, matrix = add_special_tokens(["a", "<unk>", "b"], np.array([[1.0], [7.0], [3.0]]))
    assert vocab == ["<pad>", "<unk>", "a", "b"]
    np.testing.assert_allclose(matrix[:, 0], [0, 7, 1, 3])


# --- the kumo GloVe package -----------------------------------------------------


def test_glove_package_gives_50d_vectors_in_frequency_order():
    words, vectors = load_glove_package(vocab_limit=100, extra_words={"zygote", "not-a-glove-word"})
    assert words[0] == "the" and "," in words[:100]
    assert words[100:] == ["zygote"]
    assert vectors.shape == (101, 50) and vectors.dtype == np.float32
    assert np.abs(vectors).sum(axis=1).min() > 0


def test_glove_embeddings_keep_corpus_words_beyond_the_cut():
    tok, matrix = glove_embeddings(vocab_size=50, corpus=["The zygote divides."])
    assert tok.vocab[:3] == ["<pad>", "<unk>", "the"]
    assert tok.vocab[-2:] == ["divides", "zygote"]  # GloVe frequency order
    assert matrix.shape == (len(tok), 50)
    words, vectors = load_glove_package(extra_words={"zygote"}, vocab_limit=1)
    np.testing.assert_array_equal(matrix[-1], vectors[1])


def test_transformer_input_embeddings_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        transformer_input_embeddings(tmp_path / "no-such-model")


def test_pad_batch_right_pads_each_row_in_order():
    from textcl.encoders.word_tokenizer import pad_batch

    out = pad_batch([[5, 6, 7], [8], [9, 10]], pad_id=0)
    assert out["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert out["input_ids"].dtype == out["attention_mask"].dtype == torch.long
    # a pad id that is also a real token id stays distinguishable through the mask
    out = pad_batch([[3], [3, 3]], pad_id=3)
    assert out["attention_mask"].tolist() == [[1, 0], [1, 1]]
