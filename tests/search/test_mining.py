"""Hard-negative mining against a brute-force NumPy reference, over a grid of options.

The reference ranks every corpus text for every anchor from the full similarity matrix, removes
the anchor's own text and all its positives, cuts the rank window, applies the filters and picks
the top or a seeded random draw, as the module docstring of ``textcl.search.mining`` states.
"""

import hashlib
import itertools

import datasets
import numpy as np
import pytest

from textcl.search.mining import mine_hard_negatives, mine_hard_negatives_with_stats

DIM = 6


def fake_embedding(text: str) -> np.ndarray:
    """A fixed random vector per text (a low dimension, so cosines spread over [-1, 1])."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


class StubModel:
    """The ``encode`` of a sentence encoder, with deterministic embeddings and a record of the calls."""

    def __init__(self):
        self.calls = []

    def encode(self, sentences, batch_size=32, prompt=None, prompt_name=None, **kwargs):
        self.calls.append({"n": len(sentences), "batch_size": batch_size, "prompt": prompt,
                           "prompt_name": prompt_name})
        return np.stack([fake_embedding((prompt or "") + s) for s in sentences])


def make_pairs():
    """49 rows, 48 distinct pairs: 40 anchors, 4 of them with 3 positives; some anchors are also corpus texts."""
    anchors, positives = [], []
    for i in range(40):
        anchors.append(f"anchor {i}")
        positives.append(f"positive {i}")
    for i in range(4):  # repeated anchors: every positive of them is never a negative
        for j in (1, 2):
            anchors.append(f"anchor {i}")
            positives.append(f"positive {i}.{j}")
    anchors[10], positives[11] = "shared text", "shared text"  # an anchor equal to another anchor's positive
    anchors.append("anchor 7")
    positives.append("positive 7")  # a repeated pair counts once
    return anchors, positives


EXTRA_CORPUS = [f"corpus {i}" for i in range(14)] + ["anchor 5", "positive 3"]  # overlaps the data


def normalized(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference(anchors, positives, corpus, num_negatives, range_min, range_max, filters, strategy, seed,
              include_positives=False):
    """{anchor: [negatives]} and the cosine matrix, by brute force over the whole corpus."""
    uniq = list(dict.fromkeys(anchors))
    pos_of = {a: [] for a in uniq}
    for a, p in zip(anchors, positives):
        if p not in pos_of[a]:
            pos_of[a].append(p)
    texts = list(dict.fromkeys(list(corpus or []) + positives))
    sims = normalized(np.stack([fake_embedding(t) for t in uniq])) @ normalized(
        np.stack([fake_embedding(t) for t in texts])).T  # (anchors, corpus)
    if range_max is None:
        wide = any(filters.get(k) is not None for k in ("absolute_margin", "relative_margin", "max_score"))
        range_max = range_min + num_negatives * (10 if wide else 1) + max(map(len, pos_of.values()))
    rng = np.random.default_rng(seed)
    out = {}
    for i, a in enumerate(uniq):
        ranked = sorted(range(len(texts)), key=lambda j: (-sims[i, j], j))
        if include_positives:  # only the anchor's own text goes, unless it is one of its positives
            ranked = [j for j in ranked if texts[j] != a or a in pos_of[a]]
        else:
            ranked = [j for j in ranked if texts[j] != a and texts[j] not in pos_of[a]]
        positive = min(sims[i, texts.index(p)] for p in pos_of[a])
        kept = []
        for j in ranked[range_min:range_max]:
            s = sims[i, j]
            if filters.get("absolute_margin") is not None and s + filters["absolute_margin"] > positive:
                continue
            if filters.get("relative_margin") is not None and s > positive - abs(positive) * filters["relative_margin"]:
                continue
            if filters.get("max_score") is not None and s > filters["max_score"]:
                continue
            if filters.get("min_score") is not None and s < filters["min_score"]:
                continue
            kept.append(j)
        if strategy == "random":
            kept = [kept[t] for t in sorted(rng.permutation(len(kept))[:num_negatives])]
        out[a] = [texts[j] for j in kept[:num_negatives]]
    return out, pos_of, {t: k for k, t in enumerate(texts)}, uniq, sims


def expected_triplets(neg, pos_of, uniq):
    return [(a, p, n) for a in uniq for p in pos_of[a] for n in neg[a]]


FILTER_GRID = [{}, {"max_score": 0.5}, {"min_score": -0.3}, {"absolute_margin": 0.0}, {"absolute_margin": 0.1},
               {"relative_margin": 0.05}, {"max_score": 0.8, "relative_margin": 0.1, "min_score": -0.5}]


@pytest.mark.parametrize("filters", FILTER_GRID, ids=lambda f: ",".join(f) or "none")
@pytest.mark.parametrize("strategy", ["top", "random"])
def test_triplets_equal_brute_force(filters, strategy):
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    for num_negatives, range_min, range_max, corpus, seed in itertools.product(
            (1, 3), (0, 2), (None, 12), (None, EXTRA_CORPUS), (0, 7)):
        if strategy == "top" and seed:
            continue
        got = mine_hard_negatives(StubModel(), data, corpus=corpus, num_negatives=num_negatives,
                                  range_min=range_min, range_max=range_max, sampling_strategy=strategy,
                                  seed=seed, **filters)
        neg, pos_of, _, uniq, _ = reference(anchors, positives, corpus, num_negatives, range_min, range_max,
                                            filters, strategy, seed)
        case = (num_negatives, range_min, range_max, corpus is not None, seed)
        assert got.column_names == ["query", "answer", "negative"]
        assert list(zip(got["query"], got["answer"], got["negative"])) == expected_triplets(neg, pos_of, uniq), case


def test_never_a_positive_or_the_anchor_and_filters_do_bite():
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"a": anchors, "p": positives})
    positives_of = {}
    for a, p in zip(anchors, positives):
        positives_of.setdefault(a, set()).add(p)
    wide = mine_hard_negatives(StubModel(), data, corpus=EXTRA_CORPUS, num_negatives=20, range_max=60)
    assert len(wide) > 0
    for a, n in zip(wide["a"], wide["negative"]):
        assert n != a and n not in positives_of[a]
    # the excluded texts would rank in the window for some anchors, so the check above is not vacuous
    _, pos_of, _, uniq, sims = reference(anchors, positives, EXTRA_CORPUS, 20, 0, 60, {}, "top", 0)
    texts = list(dict.fromkeys(EXTRA_CORPUS + positives))
    raw_top = {a: [texts[j] for j in np.argsort(-sims[i], kind="stable")[:20]] for i, a in enumerate(uniq)}
    assert sum(a in raw_top[a] for a in uniq) >= 1  # "anchor 5" is also a corpus text: cosine 1
    assert sum(any(p in raw_top[a] for p in pos_of[a]) for a in uniq) >= 10
    plain = mine_hard_negatives(StubModel(), data, num_negatives=3)
    assert len(plain) == 3 * 48  # every distinct (anchor, positive) pair gets all 3 without filters
    _, stats = mine_hard_negatives_with_stats(StubModel(), data, num_negatives=3, range_max=6, max_score=0.6)
    assert stats.skipped["max_score"] > 0 and 0 < stats.short < stats.anchors


@pytest.mark.parametrize("output_scores", [False, True])
def test_other_formats_follow_the_same_negatives(output_scores):
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    options = {"num_negatives": 3, "range_min": 1, "relative_margin": 0.05, "corpus": EXTRA_CORPUS}
    neg, pos_of, _, uniq, sims = reference(anchors, positives, EXTRA_CORPUS, 3, 1, None,
                                           {"relative_margin": 0.05}, "top", 0)
    texts = list(dict.fromkeys(EXTRA_CORPUS + positives))
    cos = {(a, t): float(sims[i, texts.index(t)]) for i, a in enumerate(uniq) for t in texts}
    assert any(len(v) < 3 for v in neg.values())  # some anchors are short: n-tuple drops them

    tup = mine_hard_negatives(StubModel(), data, output_format="n-tuple", output_scores=output_scores, **options)
    full = [(a, p) for a in uniq for p in pos_of[a] if len(neg[a]) == 3]
    assert list(zip(tup["query"], tup["answer"])) == full
    for n in (1, 2, 3):
        assert tup[f"negative_{n}"] == [neg[a][n - 1] for a, _ in full]

    pairs = mine_hard_negatives(StubModel(), data, output_format="labeled-pair", output_scores=output_scores,
                                **options)
    want = [row for a in uniq for row in [(a, p, 1) for p in pos_of[a]] + [(a, n, 0) for n in neg[a]]]
    assert list(zip(pairs["query"], pairs["answer"])) == [(a, t) for a, t, _ in want]

    lists = mine_hard_negatives(StubModel(), data, output_format="labeled-list", output_scores=output_scores,
                                **options)
    want_lists = [(a, [p] + neg[a]) for a in uniq for p in pos_of[a] if neg[a]]
    assert list(zip(lists["query"], lists["answer"])) == want_lists

    if output_scores:
        np.testing.assert_allclose(pairs["score"], [cos[(a, t)] for a, t, _ in want], atol=1e-5)
        for row, (a, docs) in zip(lists["scores"], want_lists):
            np.testing.assert_allclose(row, [cos[(a, t)] for t in docs], atol=1e-5)
        for row, (a, p) in zip(tup["scores"], full):
            np.testing.assert_allclose(row, [cos[(a, t)] for t in [p] + neg[a]], atol=1e-5)
    else:
        assert pairs["label"] == [label for _, _, label in want]
        assert lists["labels"] == [[1] + [0] * len(neg[a]) for a, _ in want_lists]


def test_triplet_scores_and_stats():
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    out, stats = mine_hard_negatives_with_stats(StubModel(), data, num_negatives=2, output_scores=True,
                                                absolute_margin=0.1)
    neg, pos_of, _, uniq, sims = reference(anchors, positives, None, 2, 0, None, {"absolute_margin": 0.1}, "top", 0)
    texts = list(dict.fromkeys(positives))
    want = [[sims[uniq.index(a), texts.index(p)], sims[uniq.index(a), texts.index(n)]]
            for a, p, n in expected_triplets(neg, pos_of, uniq)]
    np.testing.assert_allclose(out["scores"], want, atol=1e-5)
    assert all(pos - n >= 0.1 - 1e-6 for pos, n in out["scores"])  # the margin holds for the pair's positive
    assert (stats.anchors, stats.pairs, stats.corpus, stats.rows) == (len(uniq), 48, len(texts), len(out))
    assert stats.negatives == sum(map(len, neg.values()))
    assert stats.short == sum(len(v) < 2 for v in neg.values())
    assert stats.range_max == 0 + 2 * 10 + 3


def test_random_is_seeded():
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})

    def run(seed):
        return mine_hard_negatives(StubModel(), data, sampling_strategy="random", range_max=15, seed=seed)["negative"]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_prompts_batch_size_argument_order_and_inputs():
    anchors, positives = make_pairs()
    model = StubModel()
    data = list(zip(anchors, positives))  # anything load_data reads: here tuples -> text0, text1
    out = mine_hard_negatives(model, data, query_prompt="query: ", corpus_prompt="doc: ", batch_size=5)
    assert out.column_names == ["text0", "text1", "negative"]
    assert [(c["prompt"], c["batch_size"]) for c in model.calls] == [("query: ", 5), ("doc: ", 5)]
    named = mine_hard_negatives(StubModel(), data, query_prompt_name="query")
    assert len(named) == 3 * 48  # 48 distinct pairs
    ds = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    st_order = mine_hard_negatives(ds, StubModel())  # sentence-transformers' (dataset, model)
    assert st_order.to_list() == mine_hard_negatives(StubModel(), ds).to_list()


def test_a_real_tiny_model_matches_the_reference(tiny_bert_dir, sentences, one_thread):
    from textcl.model import SentenceEncoder

    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    anchors, positives = sentences[:8], sentences[8:]
    out = mine_hard_negatives(model, list(zip(anchors, positives)), num_negatives=2, corpus=sentences)
    a, c = normalized(model.encode(anchors)), normalized(model.encode(list(dict.fromkeys(sentences + positives))))
    texts = list(dict.fromkeys(sentences + positives))
    want = []
    for i, anchor in enumerate(anchors):
        ranked = [j for j in np.argsort(-(a[i] @ c.T), kind="stable") if texts[j] not in (anchor, positives[i])]
        want += [(anchor, positives[i], texts[j]) for j in ranked[:2]]
    assert list(zip(out["text0"], out["text1"], out["negative"])) == want


def test_faiss_equals_exact():
    pytest.importorskip("faiss")
    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    for options in ({}, {"range_min": 2, "max_score": 0.6}, {"sampling_strategy": "random", "seed": 5}):
        exact = mine_hard_negatives(StubModel(), data, corpus=EXTRA_CORPUS, output_scores=True, **options)
        approx = mine_hard_negatives(StubModel(), data, corpus=EXTRA_CORPUS, output_scores=True, use_faiss=True,
                                     **options)
        assert approx["negative"] == exact["negative"]
        np.testing.assert_allclose(approx["scores"], exact["scores"], atol=1e-5)


@pytest.mark.parametrize("filters", [{}, {"min_score": -0.3}])
def test_matches_sentence_transformers_without_filters(filters):
    """Without max_score and margins, sentence-transformers' own function picks the same negatives."""
    torch = pytest.importorskip("torch")
    st_util = pytest.importorskip("sentence_transformers.util")

    class StubST:
        device = torch.device("cpu")

        def encode_document(self, sentences, **kwargs):
            return normalized(np.stack([fake_embedding(s) for s in sentences]))

        encode_query = encode_document

        def get_embedding_dimension(self):
            return DIM

        def similarity(self, a, b):
            return torch.as_tensor(a) @ torch.as_tensor(b).T

        def similarity_pairwise(self, a, b):
            return (torch.as_tensor(a) * torch.as_tensor(b)).sum(-1)

    anchors, positives = make_pairs()
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    for num_negatives, range_min, range_max, fmt in itertools.product(
            (1, 3), (0, 3), (None, 10), ("triplet", "n-tuple")):
        options = {"num_negatives": num_negatives, "range_min": range_min, "range_max": range_max,
                   "output_format": fmt, "corpus": EXTRA_CORPUS, **filters}
        theirs = st_util.mine_hard_negatives(data, StubST(), verbose=False, **options)
        ours = mine_hard_negatives(StubModel(), data, **options)
        assert ours.to_list() == theirs.to_list(), options


@pytest.mark.parametrize("kwargs, message", [
    ({"num_negatives": 0}, "num_negatives (--num-negatives) must be an int >= 1"),
    ({"range_min": -1}, "range_min (--range-min) must be an int >= 0"),
    ({"range_min": 3, "range_max": 3}, "range_max (--range-max) must be an int >= 4"),
    ({"num_negatives": 5, "range_max": 4}, "num_negatives (5) must fit in the rank window"),
    ({"max_score": 1.5}, "max_score (--max-score) must be a finite number in [-1.0, 1.0]"),
    ({"min_score": 0.5, "max_score": 0.2}, "min_score (0.5) must be <= max_score (0.2)"),
    ({"relative_margin": -0.1}, "relative_margin (--relative-margin)"),
    ({"absolute_margin": float("nan")}, "absolute_margin (--absolute-margin)"),
    ({"sampling_strategy": "bottom"}, "unknown sampling_strategy 'bottom'"),
    ({"output_format": "pairs"}, "unknown output_format 'pairs'"),
    ({"include_positives": True}, "needs output_format='n-tuple'"),
    ({"anchor_column_name": "question"}, "anchor_column_name (--anchor-column) 'question' is not a column"),
    ({"positive_column_name": "query"}, "the anchor and positive columns are both 'query'"),
    ({"batch_size": 0}, "batch_size (--batch-size) must be an int >= 1"),
    ({"seed": -1}, "seed (--seed) must be an int in [0,"),
])
def test_bad_options_are_one_line_errors(kwargs, message):
    data = datasets.Dataset.from_dict({"query": ["a", "b"], "answer": ["c", "d"]})
    model = StubModel()
    with pytest.raises(ValueError) as err:
        mine_hard_negatives(model, data, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert model.calls == []  # refused before anything was encoded


def test_bad_data_is_refused():
    one = datasets.Dataset.from_dict({"text": ["a", "b"]})
    with pytest.raises(ValueError, match="needs \\(anchor, positive\\) pairs"):
        mine_hard_negatives(StubModel(), one)
    empty = datasets.Dataset.from_dict({"q": ["a", ""], "p": ["c", "d"]})
    with pytest.raises(ValueError, match="row 1, column 'q'"):
        mine_hard_negatives(StubModel(), empty)
    with pytest.raises(ValueError, match="corpus text 1"):
        mine_hard_negatives(StubModel(), datasets.Dataset.from_dict({"q": ["a"], "p": ["b"]}), corpus=["x", None])


def test_include_positives_ranks_them_among_the_candidates():
    anchors, positives = make_pairs()
    anchors.append("self")
    positives.append("self")  # an anchor that is its own positive stays a candidate
    data = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    out = mine_hard_negatives(StubModel(), data, include_positives=True, output_format="n-tuple", num_negatives=4,
                              range_max=10, corpus=EXTRA_CORPUS)
    neg, pos_of, _, uniq, _ = reference(anchors, positives, EXTRA_CORPUS, 4, 0, 10, {}, "top", 0,
                                        include_positives=True)
    rows = [(a, p, *neg[a]) for a in uniq for p in pos_of[a] if len(neg[a]) == 4]
    assert list(zip(out["query"], out["answer"], *(out[f"negative_{n}"] for n in range(1, 5)))) == rows
    assert sum(any(p in neg[a] for p in pos_of[a]) for a in uniq) >= 3  # positives do rank among them
    assert "self" in neg["self"]


def test_faiss_missing_is_refused_before_encoding(monkeypatch):
    from textcl.search import faiss_index

    monkeypatch.setattr(faiss_index, "faiss_available", lambda: False)
    model = StubModel()
    with pytest.raises(ImportError, match="pip install"):
        mine_hard_negatives(model, datasets.Dataset.from_dict({"q": ["a"], "p": ["b"]}), use_faiss=True)
    assert model.calls == []
