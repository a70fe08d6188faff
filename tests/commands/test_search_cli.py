"""``textcl search`` in-process: exact and faiss indexes over a saved .npy, reuse, non-finite rows, bad flags."""

import json

import numpy as np
import pytest

from textcl.cli import main
from textcl.model import SentenceEncoder
from textcl.search import faiss_index as faiss_index_module

pytestmark = pytest.mark.usefixtures("one_thread")
QUERIES = ["a man plays the guitar .", "a dog runs in the park ."]


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


@pytest.fixture
def corpus(tmp_path, sentences, model):
    """(text file, .npy of its embeddings)."""
    txt = tmp_path / "corpus.txt"
    txt.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    emb = tmp_path / "emb.npy"
    np.save(emb, model.encode(sentences))
    return str(txt), str(emb)


def search(capsys, tiny_bert_dir, *flags):
    args = ["search", "--model", tiny_bert_dir, "--device", "cpu", "--json", "--top-k", "4"]
    for q in QUERIES:
        args += ["--query", q]
    code = main(args + list(flags))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else out), err


def brute_force(model, sentences, k=4):
    q, c = model.encode(QUERIES), model.encode(sentences)
    sims = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
    return [sorted(range(len(c)), key=lambda j: (-sims[i, j], j))[:k] for i in range(len(q))], sims


def test_exact_over_npy_matches_brute_force(tiny_bert_dir, model, sentences, corpus, capsys):
    txt, emb = corpus
    code, results, err = search(capsys, tiny_bert_dir, "--corpus", txt, "--corpus-embeddings", emb)
    assert code == 0 and "textcl search" not in err  # no index status for exact search
    want, sims = brute_force(model, sentences)
    for i, res in enumerate(results):
        assert [h["row"] for h in res["hits"]] == want[i]
        assert [h["text"] for h in res["hits"]] == [sentences[j] for j in want[i]]
        assert [h["line"] for h in res["hits"]] == [j + 1 for j in want[i]]
        np.testing.assert_allclose([h["score"] for h in res["hits"]], sims[i, want[i]], atol=1e-5)


def test_faiss_builds_once_then_reuses_and_matches_exact(tiny_bert_dir, corpus, capsys):
    pytest.importorskip("faiss")
    txt, emb = corpus
    exact = search(capsys, tiny_bert_dir, "--corpus", txt, "--corpus-embeddings", emb)[1]
    flags = ["--corpus", txt, "--corpus-embeddings", emb, "--index", "faiss", "--nlist", "2", "--nprobe", "2"]
    code, built, err = search(capsys, tiny_bert_dir, *flags)
    assert code == 0 and f"textcl search: built {emb}.faiss (no saved index)" in err
    assert built == exact  # nprobe = nlist scans every list: exact
    code, reused, err = search(capsys, tiny_bert_dir, *flags)
    assert code == 0 and f"textcl search: loaded {emb}.faiss" in err and reused == exact
    np.save(emb, np.load(emb)[::-1].copy())  # same shape, rows reversed: stale
    code, rebuilt, err = search(capsys, tiny_bert_dir, *flags[2:])
    assert code == 0 and "built" in err and "the embeddings changed" in err
    n = len(np.load(emb))
    assert [h["row"] for h in rebuilt[0]["hits"]] == [n - 1 - h["row"] for h in exact[0]["hits"]]


@pytest.mark.parametrize("index", ["exact", "faiss"])
def test_nan_in_corpus_fails_naming_the_row_with_no_output(tiny_bert_dir, corpus, capsys, index):
    if index == "faiss":
        pytest.importorskip("faiss")
    txt, emb = corpus
    bad = np.load(emb)
    bad[5, 3] = np.nan
    np.save(emb, bad)
    code, out, err = search(capsys, tiny_bert_dir, "--corpus-embeddings", emb, "--index", index)
    assert code == 1 and out == ""
    assert "textcl search: error: corpus embedding row 5 is not finite (nan)" in err


def test_faiss_missing_says_how_to_install(tiny_bert_dir, corpus, capsys, monkeypatch):
    monkeypatch.setattr(faiss_index_module, "faiss_available", lambda: False)
    code, out, err = search(capsys, tiny_bert_dir, "--corpus-embeddings", corpus[1], "--index", "faiss")
    assert code == 1 and out == "" and 'pip install "textcl-toolkit[faiss]"' in err


@pytest.mark.parametrize("flags, msg", [
    (["--index", "faiss", "--corpus", "{txt}"], "--index faiss needs --corpus-embeddings"),
    (["--corpus-embeddings", "{emb}", "--nprobe", "4"], "only apply to the faiss index"),
    (["--corpus", "{txt}", "--nlist", "4"], "apply to --index faiss over --corpus-embeddings"),
    (["--corpus-embeddings", "{emb}", "--top-k", "0"], "top_k (--top-k) must be an int >= 1"),
    (["--corpus-embeddings", "{txt}"], "is not a readable .npy"),
])
def test_bad_flags_are_explained(tiny_bert_dir, corpus, capsys, flags, msg):
    txt, emb = corpus
    code, out, err = search(capsys, tiny_bert_dir, *[f.format(txt=txt, emb=emb) for f in flags])
    assert code == 1 and out == "" and msg in err


def test_deprecated_backend_warns_and_searches_exactly(tiny_bert_dir, corpus, capsys):
    txt, emb = corpus
    exact = search(capsys, tiny_bert_dir, "--corpus", txt, "--corpus-embeddings", emb)[1]
    code, results, err = search(capsys, tiny_bert_dir, "--corpus", txt, "--corpus-embeddings", emb,
                                "--backend", "faiss")
    assert code == 0 and results == exact and "--backend is deprecated" in err and "--index exact" in err
