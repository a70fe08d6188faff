"""Approximate cosine search with a faiss IVF-Flat index, saved next to the embeddings and reused.

Why IVF-Flat (and not HNSW): it builds in seconds (k-means on a sample, then
one pass over the corpus, which can be read chunk by chunk from a memmap), it
stores the vectors uncompressed so its scores are exact cosines, its one
search knob ``nprobe`` trades recall for speed predictably, and ``nprobe =
nlist`` makes it exhaustive (exactly the exact top-k, up to ties), which the
tests rely on. HNSW reaches a given recall somewhat faster at search time but
builds an order of magnitude slower on a CPU and never becomes exact.

Vectors are L2-normalised before they are added and queried, and the index
scores by inner product, so scores are cosines. ``faiss`` is an optional
extra: ``pip install "textcl-toolkit[faiss]"`` (or ``pip install faiss-cpu``).
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

import numpy as np

from textcl.search.exact import as_matrix, check_finite, normalize_rows, prepare_queries
from textcl.search.stamp import embeddings_stamp, stamp_differences
from textcl.settings import check_int
from textcl.storage.atomic import atomic_output_file, atomic_write_json
from textcl.storage.guard import check_not_an_input, output_lock
from textcl.storage.read import read_json, read_npy

__all__ = ["FaissIndex", "open_faiss_index", "faiss_available", "require_faiss", "default_nlist",
           "default_nprobe", "INDEX_FORMAT_VERSION"]

INDEX_FORMAT_VERSION = 1
INSTALL_HINT = 'faiss is not installed: pip install "textcl-toolkit[faiss]" (or pip install faiss-cpu)'


def faiss_available() -> bool:
    """True when ``faiss`` can be imported."""
    return importlib.util.find_spec("faiss") is not None


def require_faiss() -> Any:
    """The ``faiss`` module.

    Raises:
        ImportError: faiss is missing, with the command that installs it.
    """
    if not faiss_available():
        raise ImportError(INSTALL_HINT)
    import faiss

    return faiss


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: 4 * sqrt(n) (faiss's guideline), at least 39 training points a list."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def default_nprobe(nlist: int) -> int:
    """Lists scanned per query by default: 1/32 of them (recall@10 0.97 on the 100k-sentence benchmark)."""
    return max(1, math.ceil(nlist / 32))


class FaissIndex:
    """A faiss IVF-Flat inner-product index over L2-normalised embeddings.

    Args:
        index: a trained, filled ``faiss.IndexIVFFlat`` (inner product).
        nprobe: lists scanned per query by default (``default_nprobe(nlist)`` when None).

    Example:
        >>> index = FaissIndex.build(np.load("emb.npy", mmap_mode="r"))
        >>> scores, ids = index.search(model.encode(["a man plays guitar"]), k=10, nprobe=32)
        >>> index.save("emb.npy.faiss")
    """

    def __init__(self, index: Any, nprobe: int | None = None):
        self.index = index
        self.nprobe = default_nprobe(self.nlist) if nprobe is None else check_nprobe(nprobe)

    @property
    def nlist(self) -> int:
        """Number of inverted lists (k-means cells)."""
        return int(self.index.nlist)

    @property
    def ntotal(self) -> int:
        """Vectors in the index."""
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(self.index.d)

    @classmethod
    def build(cls, embeddings: Any, nlist: int | None = None, nprobe: int | None = None, seed: int = 0,
              train_size: int | None = None, chunk_size: int = 16384) -> "FaissIndex":
        """Train the coarse quantiser on a sample, then add every row chunk by chunk.

        Args:
            embeddings: (n, d) corpus embeddings (an array or a memmap).
            nlist: number of lists (``default_nlist(n)`` when None; at most n).
            nprobe: default lists scanned per query.
            seed: k-means and sampling seed (the same seed and data give the same index).
            train_size: rows sampled for k-means (default: min(n, 256 * nlist)).
            chunk_size: rows normalised and added at a time.

        Raises:
            ImportError: faiss is missing.
            ValueError: bad arguments, or a non-finite row (named).
        """
        faiss = require_faiss()
        emb = as_matrix(embeddings, "corpus embeddings")
        n, d = emb.shape
        nlist = default_nlist(n) if nlist is None else nlist
        if not 1 <= nlist <= n:
            raise ValueError(f"nlist must be between 1 and the corpus size {n}, got {nlist}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        train_size = min(n, 256 * nlist) if train_size is None else min(n, train_size)
        if train_size < nlist:
            raise ValueError(f"train_size must be >= nlist ({nlist}), got {train_size}")
        # sorted random rows: a memmap reads them in one forward pass
        rows = np.sort(np.random.default_rng(seed).choice(n, size=train_size, replace=False))
        sample = np.asarray(emb[rows])  # (train_size, d)
        if not np.isfinite(sample).all():
            bad = rows[int(np.argmin(np.isfinite(sample).all(axis=1)))]
            check_finite(np.asarray(emb[bad:bad + 1]), "corpus embedding", offset=int(bad))
        index = faiss.index_factory(d, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.cp.max_points_per_centroid = max(256, math.ceil(train_size / nlist))  # no silent re-sampling
        index.train(np.ascontiguousarray(normalize_rows(sample)))
        for start in range(0, n, chunk_size):
            chunk = np.asarray(emb[start:start + chunk_size])  # (c, d)
            check_finite(chunk, "corpus embedding", offset=start)
            index.add(np.ascontiguousarray(normalize_rows(chunk)))
        return cls(index, nprobe)

    def search(self, queries: Any, k: int = 5, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-k cosine search.

        Args:
            queries: (q, d) or (d,) query embeddings.
            k: results per query (>= 1; at most the corpus size is returned).
            nprobe: lists scanned (default ``self.nprobe``; clipped to ``nlist``, where the search is exact).

        Returns:
            ``(scores, ids)``, each (q, min(k, n)), best first. When the scanned lists hold fewer
            than k vectors, the missing places have id -1 and score -inf.

        Raises:
            ValueError: bad ``k`` / ``nprobe``, different sizes, or a non-finite query (named).
        """
        faiss = require_faiss()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        nprobe = self.nprobe if nprobe is None else check_nprobe(nprobe)
        q = prepare_queries(queries, self.dim)  # (q, d)
        params = faiss.SearchParametersIVF(nprobe=min(nprobe, self.nlist))
        scores, ids = self.index.search(np.ascontiguousarray(q), min(k, self.ntotal), params=params)
        scores = scores.astype(np.float32)
        scores[ids < 0] = -np.inf
        return scores, ids.astype(np.int64)

    def save(self, path: str) -> None:
        """Write the index to ``path`` atomically (temporary sibling, fsync, rename)."""
        faiss = require_faiss()
        with atomic_output_file(path) as tmp:
            faiss.write_index(self.index, tmp)

    @classmethod
    def load(cls, path: str, nprobe: int | None = None) -> "FaissIndex":
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: the file is unreadable or not an IVF index.
        """
        faiss = require_faiss()
        try:
            index = faiss.read_index(path)
        except RuntimeError as err:
            raise ValueError(f"{path} is not a readable faiss index ({str(err).strip().splitlines()[-1]})") from err
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is None or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{path} is not an inner-product IVF index written by textcl")
        return cls(ivf if ivf is index else index, nprobe)


def check_nprobe(nprobe: int) -> int:
    return check_int("nprobe", nprobe)


def open_faiss_index(embeddings_path: str, index_path: str | None = None, nlist: int | None = None,
                     nprobe: int | None = None, rebuild: bool = False, seed: int = 0) -> tuple[FaissIndex, str]:
    """The saved IVF-Flat index of a ``.npy``, built (and saved) when missing or stale.

    The index lives at ``index_path`` (default ``EMBEDDINGS.faiss``) with a JSON sidecar
    (``INDEX.json``) that records the ``.npy``'s stamp (size, mtime, shape, dtype, sampled
    SHA-256), the build parameters and the index file's size. The saved index is reused only
    when all of them still match; otherwise it is rebuilt and the status says why.

    Args:
        embeddings_path: the corpus ``.npy`` (e.g. from ``textcl encode``), read memory-mapped.
        index_path: where the index is saved (default ``embeddings_path + ".faiss"``).
        nlist: lists for a new index; an existing index with another ``nlist`` is rebuilt.
            None keeps whatever a valid saved index has (``default_nlist(n)`` for a new one).
        nprobe: default lists scanned per query.
        rebuild: build even when a valid index exists.
        seed: k-means seed of a new index.

    Returns:
        ``(index, status)``; status is ``"loaded PATH"`` or ``"built PATH (why)"``.

    Raises:
        ImportError: faiss is missing.
        ValueError: the ``.npy`` is not a (rows, dim) matrix or holds a non-finite row.
    """
    require_faiss()
    index_path = index_path or embeddings_path + ".faiss"
    sidecar_path = index_path + ".json"
    stamp = embeddings_stamp(embeddings_path)
    why = "--rebuild asked" if rebuild else stale_reason(index_path, sidecar_path, stamp, nlist)
    if why is None:
        try:
            index = FaissIndex.load(index_path, nprobe)
            if index.ntotal == stamp["shape"][0] and index.dim == stamp["shape"][1]:
                return index, f"loaded {index_path}"
            why = f"the index holds {index.ntotal} x {index.dim} vectors, the embeddings {stamp['shape']}"
        except ValueError as err:
            why = str(err)
    for path, flag in ((index_path, "--index-path"), (sidecar_path, "--index-path")):
        check_not_an_input(path, {"--corpus-embeddings": embeddings_path}, flag)
    with output_lock(index_path, "faiss index build"):
        return _build(embeddings_path, index_path, sidecar_path, stamp, nlist, nprobe, seed, why)


def _build(embeddings_path: str, index_path: str, sidecar_path: str, stamp: dict[str, Any], nlist: int | None,
           nprobe: int | None, seed: int, why: str) -> tuple["FaissIndex", str]:
    """Build, save and stamp the index (the caller holds the index's lock)."""
    index = FaissIndex.build(read_npy(embeddings_path, mmap_mode="r"), nlist=nlist, nprobe=nprobe, seed=seed)
    if os.path.exists(sidecar_path):  # a crash between the two writes then leaves no sidecar, so no reuse
        os.remove(sidecar_path)
    index.save(index_path)
    atomic_write_json(sidecar_path, {
        "format": "textcl-faiss-index", "format_version": INDEX_FORMAT_VERSION,
        "index": f"IVF{index.nlist},Flat", "metric": "inner_product on L2-normalised vectors (cosine)",
        "nlist": index.nlist, "seed": seed, "faiss_version": require_faiss().__version__,
        "index_bytes": os.path.getsize(index_path),
        "embeddings": {"path": os.path.abspath(embeddings_path), **stamp},
    })
    return index, f"built {index_path} ({why})"


def stale_reason(index_path: str, sidecar_path: str, stamp: dict[str, Any], nlist: int | None) -> str | None:
    """Why the saved index cannot be reused, or None when it can."""
    if not os.path.exists(index_path):
        return "no saved index"
    try:
        meta = read_json(sidecar_path)
    except FileNotFoundError:
        return f"no sidecar {sidecar_path}"
    except (OSError, ValueError) as err:
        return f"unreadable sidecar {sidecar_path}: {err}"
    if not isinstance(meta, dict) or meta.get("format") != "textcl-faiss-index":
        return f"{sidecar_path} is not a textcl index sidecar"
    if meta.get("format_version") != INDEX_FORMAT_VERSION:
        return f"index format version {meta.get('format_version')}, this textcl writes {INDEX_FORMAT_VERSION}"
    changed = stamp_differences(meta.get("embeddings") or {}, stamp)
    if changed:
        return f"the embeddings changed since the index was built: {', '.join(changed)} differ"
    if nlist is not None and meta.get("nlist") != nlist:
        return f"nlist {nlist} asked, the saved index has {meta.get('nlist')}"
    if meta.get("index_bytes") != os.path.getsize(index_path):
        return "the index file's size differs from its sidecar (a partial or foreign write)"
    return None
