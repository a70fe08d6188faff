"""Semantic search over sentence embeddings: exact by default, approximate with a saved faiss index.

- :class:`ExactIndex` / :func:`cosine_top_k`: exact top-k cosine over an array or a
  memory-mapped ``.npy``, read chunk by chunk (``exact.py``).
- :class:`FaissIndex` / :func:`open_faiss_index`: an IVF-Flat index, saved next to the
  ``.npy`` with a sidecar that detects a changed file, and reused (``faiss_index.py``,
  ``stamp.py``; needs ``pip install "textcl-toolkit[faiss]"``).
- :func:`semantic_search`: sentences in, :class:`Hit` lists out (``semantic.py``).
- :func:`mine_hard_negatives`: hard negatives for (anchor, positive) rows (``mining.py``).

Every path refuses non-finite embeddings, naming the first bad row.

Example:
    >>> scores, ids = cosine_top_k(model.encode(["a man plays guitar"]), np.load("emb.npy", mmap_mode="r"), k=5)
    >>> index, status = open_faiss_index("emb.npy")       # built once, then loaded
    >>> hits = semantic_search(model, ["a man plays guitar"], corpus, index=index, top_k=5)
    >>> hits[0][0].text, hits[0][0].score
"""

from textcl.search.exact import ExactIndex, cosine_top_k
from textcl.search.faiss_index import (FaissIndex, default_nlist, default_nprobe, faiss_available, open_faiss_index,
                                       require_faiss)
from textcl.search.mining import mine_hard_negatives
from textcl.search.semantic import (INDEX_KINDS, Hit, IndexKind, SearchIndex, open_embeddings, open_index,
                                    semantic_search)

__all__ = ["Hit", "ExactIndex", "FaissIndex", "SearchIndex", "IndexKind", "INDEX_KINDS", "cosine_top_k",
           "semantic_search", "open_index", "open_embeddings", "open_faiss_index", "faiss_available",
           "require_faiss", "default_nlist", "default_nprobe", "mine_hard_negatives"]
