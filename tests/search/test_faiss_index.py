"""The faiss IVF-Flat index: exact when exhaustive, saved atomically, reused, rebuilt when stale."""

import json
import os

import numpy as np
import pytest

from textcl.search import FaissIndex, cosine_top_k, default_nlist, default_nprobe, open_faiss_index, open_index
from textcl.search import faiss_index as faiss_index_module

pytest.importorskip("faiss", reason='faiss is not installed (pip install "textcl-toolkit[faiss]")')


def clustered(n=400, d=16, seed=0):
    """Points around 8 random centres: the structure an IVF index is built for."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d))
    return (centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


@pytest.fixture
def emb_path(tmp_path):
    path = str(tmp_path / "emb.npy")
    np.save(path, clustered())
    return path


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())])


def test_exhaustive_nprobe_is_exact():
    corpus, queries = clustered(), clustered(20, seed=1)
    index = FaissIndex.build(corpus, nlist=8)
    scores, ids = index.search(queries, 10, nprobe=8)
    want_scores, want_ids = cosine_top_k(queries, corpus, 10)
    assert recall(ids, want_ids) == 1.0
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)  # the scores are cosines
    assert index.search(queries, 10, nprobe=1000)[1].tolist() == ids.tolist()  # nprobe is clipped to nlist


def test_one_probe_is_approximate_but_the_hits_are_true_cosines():
    corpus, queries = clustered(), clustered(20, seed=1)
    index = FaissIndex.build(corpus, nlist=8)
    scores, ids = index.search(queries, 5, nprobe=1)
    found = ids >= 0
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    np.testing.assert_allclose(scores[found], np.einsum("qd,qkd->qk", q, c[np.where(found, ids, 0)])[found],
                               atol=1e-5)
    assert np.all(np.diff(np.where(found, scores, -2), axis=1) <= 1e-6)  # best first


def test_defaults():
    assert default_nlist(100_000) == 1265 and default_nlist(100) == 2 and default_nlist(5) == 1
    assert default_nprobe(1265) == 40 and default_nprobe(1) == 1
    assert FaissIndex.build(clustered(), nlist=8).nprobe == 1


def test_saved_reused_and_not_rebuilt(emb_path):
    index, status = open_faiss_index(emb_path, nlist=8)
    assert status.startswith(f"built {emb_path}.faiss (no saved index")
    meta = json.load(open(emb_path + ".faiss.json"))
    assert meta["nlist"] == 8 and meta["embeddings"]["shape"] == [400, 16]
    assert meta["index_bytes"] == os.path.getsize(emb_path + ".faiss")
    mtime = os.stat(emb_path + ".faiss").st_mtime_ns
    queries = clustered(10, seed=2)
    first = index.search(queries, 5, nprobe=8)

    again, status = open_faiss_index(emb_path)  # nlist None: whatever the saved index has
    assert status == f"loaded {emb_path}.faiss"
    assert os.stat(emb_path + ".faiss").st_mtime_ns == mtime
    np.testing.assert_array_equal(again.search(queries, 5, nprobe=8)[1], first[1])
    assert not [f for f in os.listdir(os.path.dirname(emb_path)) if ".tmp-" in f]  # no temporary left over


def test_build_is_not_called_when_reused(emb_path, monkeypatch):
    open_faiss_index(emb_path, nlist=8)
    calls = []
    monkeypatch.setattr(FaissIndex, "build", classmethod(lambda cls, *a, **k: calls.append(1)))
    open_faiss_index(emb_path, nlist=8)
    assert calls == []


@pytest.mark.parametrize("change, why", [
    ("rewrite", "the embeddings changed since the index was built"),
    ("grow", "the embeddings changed since the index was built: size, mtime_ns, shape"),
    ("nlist", "nlist 4 asked, the saved index has 8"),
    ("truncate_index", "size differs from its sidecar"),
    ("no_sidecar", "no sidecar"),
    ("garbage_sidecar", "unreadable sidecar"),
    ("rebuild", "--rebuild asked"),
])
def test_stale_index_is_rebuilt(emb_path, change, why):
    open_faiss_index(emb_path, nlist=8)
    nlist = None
    if change == "rewrite":  # same shape, new values, mtime kept: the sampled hash catches it
        st = os.stat(emb_path)
        np.save(emb_path, clustered(seed=5))
        os.utime(emb_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "grow":
        np.save(emb_path, clustered(n=410))
    elif change == "nlist":
        nlist = 4
    elif change == "truncate_index":
        with open(emb_path + ".faiss", "r+b") as f:
            f.truncate(100)
    elif change == "no_sidecar":
        os.remove(emb_path + ".faiss.json")
    elif change == "garbage_sidecar":
        open(emb_path + ".faiss.json", "w").write("{oops")
    index, status = open_faiss_index(emb_path, nlist=nlist, rebuild=change == "rebuild")
    assert status.startswith("built") and why in status, status
    emb = np.load(emb_path)
    assert index.ntotal == len(emb)
    assert recall(index.search(emb[:5], 3, nprobe=index.nlist)[1], cosine_top_k(emb[:5], emb, 3)[1]) == 1.0
    assert open_faiss_index(emb_path)[1].startswith("loaded")  # and the rebuilt one is reused


def test_index_path_and_unreadable_index(emb_path, tmp_path):
    where = str(tmp_path / "sub.faiss")
    open_faiss_index(emb_path, index_path=where, nlist=8)
    assert os.path.exists(where) and os.path.exists(where + ".json") and not os.path.exists(emb_path + ".faiss")
    with pytest.raises(ValueError, match="not a readable faiss index"):
        FaissIndex.load(emb_path)  # a .npy is not an index


def test_nan_row_is_named_and_nothing_is_saved(emb_path):
    emb = np.load(emb_path)
    emb[123, 4] = np.nan
    np.save(emb_path, emb)
    with pytest.raises(ValueError, match=r"corpus embedding row 123 is not finite \(nan\)"):
        open_faiss_index(emb_path, nlist=8)
    assert not os.path.exists(emb_path + ".faiss") and not os.path.exists(emb_path + ".faiss.json")


def test_nan_query_is_named():
    index = FaissIndex.build(clustered(), nlist=4)
    with pytest.raises(ValueError, match=r"query embedding row 0 is not finite \(inf\)"):
        index.search(np.full(16, np.inf), 3)


@pytest.mark.parametrize("kwargs, msg", [(dict(nlist=0), "nlist must be between 1"),
                                         (dict(nlist=401), "nlist must be between 1"),
                                         (dict(nprobe=0), r"nprobe \(--nprobe\) must be an int >= 1")])
def test_bad_build_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        FaissIndex.build(clustered(), **kwargs)


def test_missing_faiss_names_the_install_command(emb_path, monkeypatch):
    monkeypatch.setattr(faiss_index_module, "faiss_available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "textcl-toolkit\[faiss\]"'):
        open_index("faiss", emb_path)


def test_exact_index_refuses_faiss_options(emb_path):
    with pytest.raises(ValueError, match="nprobe only apply to the faiss index"):
        open_index("exact", emb_path, nprobe=4)
    with pytest.raises(ValueError, match="unknown index 'annoy'"):
        open_index("annoy", emb_path)


def test_unsigned_quantised_embeddings_are_refused(tmp_path):
    path = str(tmp_path / "packed.npy")
    np.save(path, np.packbits(clustered() > 0, axis=-1))  # what `textcl encode --precision ubinary` writes
    with pytest.raises(ValueError, match="cosine search cannot use: encode with --precision float32 or int8"):
        open_index("exact", path)
