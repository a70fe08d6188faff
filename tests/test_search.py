"""Top-k cosine search against a naive full sort: chunking, ties, memmaps, bad input."""

import numpy as np
import pytest

from textcl.search import Hit, cosine_top_k, faiss_available, semantic_search


def naive_top_k(queries, corpus, k):
    """Score every pair and sort by (score desc, row asc)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    sims = q @ c.T
    ids = np.stack([sorted(range(len(c)), key=lambda j: (-sims[i, j], j))[:k] for i in range(len(q))])
    return np.take_along_axis(sims, ids, axis=1), ids


@pytest.mark.parametrize("chunk_size", [3, 7, 1000])
@pytest.mark.parametrize("k", [1, 5, 40])
def test_matches_naive_search(chunk_size, k):
    rng = np.random.default_rng(0)
    corpus, queries = rng.normal(size=(40, 8)) * rng.uniform(0.1, 5, size=(40, 1)), rng.normal(size=(4, 8))
    scores, ids = cosine_top_k(queries, corpus, k, chunk_size=chunk_size, backend="numpy")
    want_scores, want_ids = naive_top_k(queries, corpus, k)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)
    assert scores.dtype == np.float32 and ids.dtype == np.int64


def test_ties_go_to_the_lower_row_across_chunks():
    corpus = np.array([[1, 0], [0, 1], [2, 0], [1, 0], [3, 0]], dtype=np.float32)  # rows 0, 2, 3, 4 identical
    scores, ids = cosine_top_k(np.array([1.0, 0.0]), corpus, k=3, chunk_size=2, backend="numpy")
    assert ids.tolist() == [[0, 2, 3]]
    np.testing.assert_allclose(scores, [[1, 1, 1]])


def test_k_larger_than_corpus_returns_every_row():
    scores, ids = cosine_top_k(np.ones((2, 3)), np.eye(3), k=10, backend="numpy")
    assert ids.shape == (2, 3) and sorted(ids[0].tolist()) == [0, 1, 2]


def test_reads_a_memmap(tmp_path):
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(25, 6)).astype(np.float32)
    np.save(tmp_path / "emb.npy", corpus)
    mm = np.load(tmp_path / "emb.npy", mmap_mode="r")
    query = rng.normal(size=(2, 6))
    np.testing.assert_array_equal(cosine_top_k(query, mm, 4, chunk_size=4, backend="numpy")[1],
                                  naive_top_k(query, corpus, 4)[1])


@pytest.mark.parametrize("kwargs, msg", [
    (dict(k=0), "k must be >= 1"), (dict(chunk_size=0), "chunk_size must be >= 1"),
    (dict(backend="annoy"), "unknown backend"),
])
def test_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        cosine_top_k(np.ones((1, 3)), np.eye(3), **kwargs)


def test_dimension_mismatch_is_explained():
    with pytest.raises(ValueError, match="3 dimensions but the corpus has 4"):
        cosine_top_k(np.ones(3), np.eye(4))


@pytest.mark.skipif(not faiss_available(), reason="faiss is not installed")
def test_faiss_backend_agrees_with_numpy():
    rng = np.random.default_rng(2)
    corpus, queries = rng.normal(size=(50, 8)), rng.normal(size=(3, 8))
    np.testing.assert_allclose(cosine_top_k(queries, corpus, 5, backend="faiss")[0],
                               cosine_top_k(queries, corpus, 5, backend="numpy")[0], atol=1e-5)


class FakeModel:
    """Embeds a sentence as its counts of the letters a, b, c."""

    def encode(self, texts, batch_size=64):
        return np.array([[t.count(ch) for ch in "abc"] for t in texts], dtype=np.float32) + 1e-3


def test_semantic_search_with_texts_or_embeddings():
    corpus = ["aaa", "bbb", "abab", "ccc"]
    hits = semantic_search(FakeModel(), "aab", corpus, top_k=2, backend="numpy")
    assert [h.text for h in hits[0]] == ["abab", "aaa"]
    emb = FakeModel().encode(corpus)
    no_text = semantic_search(FakeModel(), ["ccc"], corpus_embeddings=emb, top_k=1, backend="numpy")
    assert no_text[0][0].corpus_id == 3 and no_text[0][0].text is None and isinstance(no_text[0][0], Hit)
    with pytest.raises(ValueError, match="4 sentences but 3 embedding rows"):
        semantic_search(FakeModel(), "a", corpus, corpus_embeddings=emb[:3])
