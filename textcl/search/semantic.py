"""Sentences in, hits out: ``semantic_search`` and the helpers ``textcl search`` calls."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Sequence

import numpy as np

from textcl.search.exact import ExactIndex

__all__ = ["Hit", "SearchIndex", "IndexKind", "INDEX_KINDS", "semantic_search", "open_embeddings", "open_index"]

IndexKind = Literal["exact", "faiss"]
INDEX_KINDS = ("exact", "faiss")


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        corpus_id: row of the corpus matrix.
        score: cosine similarity with the query.
        text: the corpus sentence, when the corpus texts are known.
    """

    corpus_id: int
    score: float
    text: str | None = None


class SearchIndex(Protocol):
    """What :func:`semantic_search` needs of an index (``ExactIndex``, ``FaissIndex``)."""

    @property
    def ntotal(self) -> int: ...

    def search(self, queries: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]: ...


def open_embeddings(path: str) -> np.ndarray:
    """A saved (rows, dim) embedding ``.npy``, memory-mapped (nothing is read yet).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a .npy, or not a non-empty numeric (rows, dim) matrix.
    """
    try:
        emb = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable .npy of embeddings ({err}): write it with `textcl encode` "
                         "or numpy.save") from err
    if not isinstance(emb, np.ndarray) or emb.ndim != 2 or 0 in emb.shape:
        raise ValueError(f"{path} holds an array of shape {getattr(emb, 'shape', None)}, not (rows, dim)")
    if emb.dtype.kind == "u":  # uint8 is offset and ubinary packed: cosine over their bytes means nothing
        raise ValueError(f"{path} holds {emb.dtype} values (`textcl encode --precision uint8/ubinary`), which "
                         "cosine search cannot use: encode with --precision float32 or int8")
    if not (np.issubdtype(emb.dtype, np.floating) or np.issubdtype(emb.dtype, np.integer)):
        raise ValueError(f"{path} holds {emb.dtype} values, not numbers")
    return emb


def open_index(kind: IndexKind, embeddings_path: str, index_path: str | None = None, nlist: int | None = None,
               nprobe: int | None = None, rebuild: bool = False, chunk_size: int = 16384
               ) -> tuple[SearchIndex, str | None]:
    """The search index ``textcl search --index KIND`` uses over a saved ``.npy``.

    Args:
        kind: ``exact`` (memory-mapped chunked scan) or ``faiss`` (saved IVF-Flat index,
            see :func:`textcl.search.open_faiss_index`).
        embeddings_path: the corpus ``.npy``.
        index_path, nlist, nprobe, rebuild: faiss options (refused for ``exact``).
        chunk_size: rows read at a time.

    Returns:
        ``(index, status)``; status says whether a faiss index was loaded or built (None for exact).

    Raises:
        ValueError: unknown kind, faiss options with ``exact``, or a bad ``.npy``.
        ImportError: ``faiss`` asked for but not installed.
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index {kind!r}: choose one of {', '.join(INDEX_KINDS)}")
    emb = open_embeddings(embeddings_path)
    if kind == "exact":
        given = [name for name, v in (("index_path", index_path), ("nlist", nlist), ("nprobe", nprobe)) if v]
        if given or rebuild:
            raise ValueError(f"{', '.join(given) or 'rebuild'} only apply to the faiss index: pass --index faiss")
        return ExactIndex(emb, chunk_size), None
    from textcl.search.faiss_index import open_faiss_index

    return open_faiss_index(embeddings_path, index_path=index_path, nlist=nlist, nprobe=nprobe, rebuild=rebuild)


def semantic_search(model: Any, queries: str | Sequence[str], corpus: Sequence[str] | None = None,
                    corpus_embeddings: Any = None, top_k: int = 5, batch_size: int = 64,
                    index: SearchIndex | None = None, backend: str | None = None) -> list[list[Hit]]:
    """Find the corpus sentences nearest to each query.

    Args:
        model: anything with ``encode(texts, batch_size=...) -> (n, d)`` (a SentenceEncoder).
        queries: a query or a list of queries.
        corpus: the corpus sentences (encoded here unless embeddings or an index are given).
        corpus_embeddings: precomputed (n, d) corpus embeddings, e.g. ``np.load("emb.npy", mmap_mode="r")``;
            searched exactly.
        top_k: hits per query.
        batch_size: encoding batch size.
        index: a ready index over the corpus (``ExactIndex``, ``FaissIndex``); overrides
            ``corpus_embeddings``.
        backend: deprecated and ignored (every former value searched exactly).

    Returns:
        One list of :class:`Hit` per query, best first (``text`` set when ``corpus`` is given).
        An approximate index may return fewer than ``top_k`` hits.

    Raises:
        ValueError: no corpus at all, corpus and embeddings of different lengths, or non-finite
            embeddings (the first bad row named).
    """
    if backend is not None:
        warnings.warn("semantic_search(backend=...) is deprecated and ignored: pass index= for approximate "
                      "search", DeprecationWarning, stacklevel=2)
    queries = [queries] if isinstance(queries, str) else list(queries)
    if index is None:
        if corpus is None and corpus_embeddings is None:
            raise ValueError("pass the corpus sentences, their embeddings, an index, or a combination")
        if corpus_embeddings is None:
            corpus_embeddings = model.encode(list(corpus), batch_size=batch_size)
        index = ExactIndex(corpus_embeddings)
    if corpus is not None and len(corpus) != index.ntotal:
        raise ValueError(f"the corpus has {len(corpus)} sentences but {index.ntotal} embedding rows: "
                         "re-encode the corpus with the same input file and options")
    scores, ids = index.search(model.encode(queries, batch_size=batch_size), top_k)
    return [[Hit(int(i), float(s), corpus[int(i)] if corpus is not None else None)
             for s, i in zip(score_row, id_row) if i >= 0]
            for score_row, id_row in zip(scores, ids)]
