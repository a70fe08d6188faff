"""Exact top-k cosine search against a naive full sort: chunking, ties, memmaps, non-finite rows, bad input."""

import numpy as np
import pytest

from textcl.search import ExactIndex, cosine_top_k


def naive_top_k(queries, corpus, k):
    """Score every pair in float64 and sort by (score desc, row asc)."""
    queries, corpus = np.atleast_2d(queries).astype(np.float64), np.asarray(corpus, dtype=np.float64)
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
    scores, ids = cosine_top_k(queries, corpus, k, chunk_size=chunk_size)
    want_scores, want_ids = naive_top_k(queries, corpus, k)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)
    assert scores.dtype == np.float32 and ids.dtype == np.int64


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 100])
def test_ties_go_to_the_lower_row_across_chunks(chunk_size):
    corpus = np.array([[1, 0], [0, 1], [2, 0], [1, 0], [3, 0]], dtype=np.float32)  # rows 0, 2, 3, 4 identical
    scores, ids = cosine_top_k(np.array([1.0, 0.0]), corpus, k=3, chunk_size=chunk_size)
    assert ids.tolist() == [[0, 2, 3]]
    np.testing.assert_allclose(scores, [[1, 1, 1]])


@pytest.mark.parametrize("chunk_size", [4, 9, 64])
def test_many_exact_ties_match_the_naive_order(chunk_size):
    """Integer-valued vectors from a tiny alphabet: many rows share each score, and the k-th place is shared."""
    rng = np.random.default_rng(3)
    corpus = rng.integers(0, 2, size=(60, 3)).astype(np.float32) + np.array([1, 0, 0], dtype=np.float32)
    queries = rng.integers(0, 3, size=(5, 3)).astype(np.float32) + 1
    for k in (1, 7, 20):
        _, ids = cosine_top_k(queries, corpus, k, chunk_size=chunk_size)
        want = naive_top_k(queries, corpus, k)[1]
        # float32 vs float64 rounding could split a tie; the naive scores show the tie classes agree
        np.testing.assert_array_equal(ids, want)


def test_k_larger_than_corpus_returns_every_row():
    scores, ids = cosine_top_k(np.ones((2, 3)), np.eye(3), k=10)
    assert ids.shape == (2, 3) and sorted(ids[0].tolist()) == [0, 1, 2]


def test_reads_a_memmap_chunk_by_chunk(tmp_path):
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(25, 6)).astype(np.float32)
    np.save(tmp_path / "emb.npy", corpus)
    mm = np.load(tmp_path / "emb.npy", mmap_mode="r")
    query = rng.normal(size=(2, 6))
    index = ExactIndex(mm, chunk_size=4)
    assert index.ntotal == 25 and index.dim == 6
    np.testing.assert_array_equal(index.search(query, 4)[1], naive_top_k(query, corpus, 4)[1])


class CountingRows(np.ndarray):
    """An array that records which row slices were read, as a memmap would page them in."""

    def __getitem__(self, key):
        if isinstance(key, slice):
            self.reads.append((key.start, key.stop))
        return super().__getitem__(key)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_corpus_row_is_named_and_found_without_reading_further(bad):
    corpus = np.random.default_rng(2).normal(size=(30, 4)).astype(np.float32)
    corpus[13, 2] = bad
    rows = corpus.view(CountingRows)
    rows.reads = []
    with pytest.raises(ValueError, match=r"corpus embedding row 13 is not finite \((nan|inf)\)"):
        ExactIndex(rows, chunk_size=5).search(np.ones(4), 3)
    assert rows.reads[-1] == (10, 15)  # stopped at the chunk holding row 13


def test_non_finite_query_is_named():
    queries = np.ones((3, 4))
    queries[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"query embedding row 1 is not finite \(nan\)"):
        cosine_top_k(queries, np.eye(4))


@pytest.mark.parametrize("kwargs, msg", [
    (dict(k=0), "k must be >= 1"), (dict(chunk_size=0), "chunk_size must be >= 1"),
    (dict(backend="annoy"), "unknown backend"),
])
def test_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        cosine_top_k(np.ones((1, 3)), np.eye(3), **kwargs)


@pytest.mark.parametrize("corpus, msg", [(np.ones((0, 3)), "non-empty"), (np.ones((2, 3, 1)), "shape"),
                                         (np.array([["a", "b"]]), "numbers")])
def test_bad_corpus_is_explained(corpus, msg):
    with pytest.raises(ValueError, match=msg):
        cosine_top_k(np.ones(3), corpus)


def test_deprecated_backend_still_searches_exactly():
    corpus, query = np.eye(3), np.array([0.0, 1.0, 0.1])
    with pytest.warns(DeprecationWarning, match="always exact"):
        _, ids = cosine_top_k(query, corpus, 1, backend="faiss")
    assert ids.tolist() == [[1]]


def test_dimension_mismatch_is_explained():
    with pytest.raises(ValueError, match="3 dimensions but the corpus has 4"):
        cosine_top_k(np.ones(3), np.eye(4))
