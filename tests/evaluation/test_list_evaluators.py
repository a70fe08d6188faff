"""Evaluators over Python lists: metrics against sentence-transformers' definitions, checks, Trainer selection."""

from __future__ import annotations

import numpy as np
import pytest

from textcl.data.tables import as_dataset_dict, read_eval_table
from textcl.evaluation.evaluators import STSEvaluator, TripletEvaluator
from textcl.evaluation.probes import probe_user_data
from textcl.evaluation.retrieval import RetrievalEvaluator, retrieval_metrics
from textcl.evaluation.sts import evaluate_hf_sts, sts_correlations
from textcl.evaluation.user_data import retrieval_sets, user_data_evaluator


class TableModel:
    """Encodes each sentence to a fixed vector (unknown sentences: a seeded random one)."""

    def __init__(self, vectors: dict[str, list[float]], dim: int = 3) -> None:
        self.vectors, self.dim, self.calls = vectors, dim, []

    def encode(self, texts, batch_size=64, dtype=None):
        self.calls.append((list(texts), dtype))
        rows = []
        for t in texts:
            if t in self.vectors:
                rows.append(self.vectors[t])
            else:
                rows.append(np.random.default_rng(sum(map(ord, t))).standard_normal(self.dim))
        return np.asarray(rows, dtype=np.float32)


def st_reference(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, float]:
    """sentence-transformers' own ``compute_metrics`` over the same ranked hits, x100."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    q, r = hits.shape
    corpus = {f"d{j:03d}": "x" for j in range(max(r, int(n_relevant.max())) + r)}
    relevant, results = {}, []
    for i in range(q):
        ranked = [f"d{j:03d}" for j in range(r)]
        rel = {ranked[j] for j in range(r) if hits[i, j]}
        extra = [f"d{r + j:03d}" for j in range(int(n_relevant[i]) - len(rel))]  # relevant, never retrieved
        relevant[f"q{i}"] = rel | set(extra)
        results.append([{"corpus_id": c, "score": 1.0 - j / (r + 1)} for j, c in enumerate(ranked)])
    ev = InformationRetrievalEvaluator({f"q{i}": "q" for i in range(q)}, corpus, relevant, write_csv=False)
    flat = {f"{m.replace('@k', '@' + str(k))}": v * 100 for m, vals in ev.compute_metrics(results).items()
            for k, v in vals.items()}
    return flat


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("results", [3, 10, 40])
def test_retrieval_metrics_match_sentence_transformers(seed, results):
    rng = np.random.default_rng(seed)
    q = 12
    hits = rng.random((q, results)) < rng.uniform(0.05, 0.5)
    n_relevant = np.maximum(hits.sum(axis=1), 1) + rng.integers(0, 4, q)  # some relevant documents never found
    ours, theirs = retrieval_metrics(hits, n_relevant), st_reference(hits, n_relevant)
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-9), key


def test_retrieval_closed_forms():
    perfect = retrieval_metrics(np.array([[True, False], [True, False]]), np.array([1, 1]))
    assert perfect["ndcg@10"] == perfect["mrr@10"] == perfect["map@100"] == perfect["accuracy@1"] == 100.0
    assert perfect["precision@3"] == pytest.approx(100 / 3)
    second = retrieval_metrics(np.array([[False, True]]), np.array([1]))
    assert second["mrr@10"] == 50.0 and second["ndcg@10"] == pytest.approx(100 / np.log2(3))
    assert second["accuracy@1"] == 0.0 and second["recall@3"] == 100.0
    with pytest.raises(ValueError, match="without relevant documents"):
        retrieval_metrics(np.array([[False, True]]), np.array([0]))


def test_retrieval_evaluator_ranks_and_breaks_ties_by_id():
    queries = {"q1": "apple", "q2": "pear", "q3": "no relevant document: not scored"}
    corpus = {"b": "twin", "a": "twin copy", "c": "pear doc"}  # "a" and "b" get the same vector: a tie
    model = TableModel({"apple": [1, 0, 0], "pear": [0, 1, 0], "twin": [1, 0, 0], "twin copy": [1, 0, 0],
                        "pear doc": [0, 1, 0.1]})
    ev = RetrievalEvaluator(queries, corpus, {"q1": {"b"}, "q2": {"c"}, "q3": set()}, name="dev")
    out = ev(model)
    assert ev.primary_metric == "dev_ndcg@10" and ev.query_ids == ["q1", "q2"]
    assert out["dev_mrr@10"] == pytest.approx(75.0)  # q1: "a" ranks first on the tie, "b" second; q2: first
    assert out["dev_accuracy@1"] == 50.0 and out["dev_recall@3"] == 100.0
    assert all(dtype == "float32" for _, dtype in model.calls)


@pytest.mark.parametrize("kwargs, match", [
    ({"relevant_docs": {"q": {"zz"}}}, "document id 'zz'"),
    ({"relevant_docs": {"q": set()}}, "no query has a relevant"),
    ({"relevant_docs": {"q": "d"}}, "not a string"),
    ({"relevant_docs": {"other": {"d"}}}, "query id 'other'"),
    ({"corpus": {"d": 5}}, r"corpus\[0\] is int"),
    ({"ndcg_at_k": [0]}, "ndcg_at_k"),
])
def test_retrieval_evaluator_refuses_bad_input(kwargs, match):
    args = {"queries": {"q": "x"}, "corpus": {"d": "y"}, "relevant_docs": {"q": {"d"}}} | kwargs
    with pytest.raises(ValueError, match=match):
        RetrievalEvaluator(**args)


def test_sts_evaluator_reuses_the_sts_correlations():
    s1, s2 = ["a", "b", "c", "d"], ["w", "x", "y", "z"]
    vec = {"a": [1, 0, 0], "w": [1, 0.1, 0], "b": [0, 1, 0], "x": [1, 1, 0], "c": [0, 0, 1], "y": [1, 0, 0],
           "d": [1, 1, 1], "z": [1, 1, 0.9]}
    gold = [5.0, 2.0, 0.0, 4.0]
    out = STSEvaluator(s1, s2, gold, name="dev")(TableModel(vec))
    cos = [np.dot(vec[a], vec[b]) / np.linalg.norm(vec[a]) / np.linalg.norm(vec[b]) for a, b in zip(s1, s2)]
    ref = sts_correlations(np.array(cos), np.array(gold))
    assert out == {"dev_spearman": pytest.approx(ref["spearman"]), "dev_pearson": pytest.approx(ref["pearson"])}
    dot = STSEvaluator(s1, s2, gold, similarity_fn="dot")(TableModel(vec))
    ref_dot = sts_correlations(np.array([np.dot(vec[a], vec[b]) for a, b in zip(s1, s2)]), np.array(gold))
    assert dot["spearman"] == pytest.approx(ref_dot["spearman"])


@pytest.mark.parametrize("args, match", [
    ((["a", "b"], ["c"], [1, 2]), "sentences2 has 1 sentences"),
    ((["a", "b"], ["c", "d"], [1, float("nan")]), "finite"),
    ((["a", "b"], ["c", "d"], [1]), "one score per pair"),
    ((["a"], ["c"], [1]), "at least two pairs"),
    ((["a", None], ["c", "d"], [1, 2]), r"sentences1\[1\] is NoneType"),
])
def test_sts_evaluator_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        STSEvaluator(*args)
    with pytest.raises(ValueError, match="unknown similarity"):
        STSEvaluator(["a", "b"], ["c", "d"], [1, 2], similarity_fn="hamming")
    with pytest.raises(TypeError, match="list of sentences"):
        STSEvaluator("ab", "cd", [1, 2])


def test_triplet_evaluator_counts_strict_wins():
    vec = {"a": [1, 0, 0], "p": [1, 0.2, 0], "n": [0, 1, 0], "p2": [0, 1, 0], "n2": [1, 0, 0], "tie": [1, 0.2, 0]}
    model = TableModel(vec)
    ev = TripletEvaluator(["a", "a", "a"], ["p", "p2", "p"], ["n", "n2", "tie"], name="tri")
    assert ev(model) == {"tri_accuracy": pytest.approx(100 / 3)}  # a tie is not a win, as sentence-transformers
    assert TripletEvaluator(["a"], ["p"], ["n"], margin=2.0)(model)["accuracy"] == 0.0
    with pytest.raises(ValueError, match="margin"):
        TripletEvaluator(["a"], ["p"], ["n"], margin=-1)


def test_tables_take_python_lists_and_name_missing_columns(tmp_path):
    cols = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "score": [1, 2.5]}
    assert read_eval_table(cols, "sts") == {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "score": [1.0, 2.5]}
    splits = as_dataset_dict({"train": cols, "test": {k: v[:1] for k, v in cols.items()}})
    assert set(splits) == {"train", "test"} and len(splits["test"]) == 1
    assert read_eval_table({"train": cols, "test": {k: v[:1] for k, v in cols.items()}}, "sts")["score"] == [1.0]
    with pytest.raises(ValueError, match="lacks column.*negative.*needs anchor, positive, negative"):
        read_eval_table({"anchor": ["a"], "positive": ["b"]}, "triplet")
    with pytest.raises(ValueError, match="unknown evaluation kind 'nli'"):
        read_eval_table(cols, "nli")
    with pytest.raises(ValueError, match="row 2 has score None"):
        read_eval_table({**cols, "score": [1.0, None]}, "sts")
    with pytest.raises(ValueError, match="row 1 has an empty sentence2"):
        read_eval_table({**cols, "sentence2": ["", "d"]}, "sts")
    with pytest.raises(ValueError, match="different lengths"):
        as_dataset_dict({"sentence1": ["a"], "sentence2": ["b", "c"]})


def test_retrieval_sets_from_relevant_pairs():
    queries, corpus, relevant = retrieval_sets(["q1", "q1", "q2", None], ["d1", "d2", "d1", "d3"])
    assert queries == {0: "q1", 1: "q2"} and corpus == {0: "d1", 1: "d2", 2: "d3"}
    assert relevant == {0: {0, 1}, 1: {0}}
    ev = user_data_evaluator({"query": ["q1", "q1", "q2", ""], "document": ["d1", "d2", "d1", "d3"]}, "retrieval")
    assert ev.corpus == ["d1", "d2", "d3"] and ev.relevant == [{0, 1}, {0}]


def test_evaluate_hf_sts_and_probe_user_data_take_python_lists():
    vec = {"a": [1, 0, 0], "w": [1, 0.1, 0], "b": [0, 1, 0], "x": [1, 1, 0], "c": [0, 0, 1], "y": [1, 0, 0]}
    model = TableModel(vec)
    out = evaluate_hf_sts(model.encode, {"sentence1": ["a", "b", "c"], "sentence2": ["w", "x", "y"],
                                         "score": [5.0, 3.0, 0.0]})
    assert out["n"] == 3 and out["spearman"] == pytest.approx(100.0)
    texts = [f"good {i}" for i in range(10)] + [f"bad {i}" for i in range(10)]
    vectors = {t: [1.0 if t.startswith("good") else -1.0, i * 0.01, 0] for i, t in enumerate(texts)}
    probe = probe_user_data(TableModel(vectors).encode, {"text": texts, "label": [1] * 10 + [0] * 10}, n_folds=2,
                            inner_folds=2)
    assert probe["accuracy"] == 100.0 and probe["n_test"] == 0


def test_trainer_keeps_the_checkpoint_its_evaluator_scores_best(tiny_bert_dir, tmp_path):
    from tiny_models import SENTENCES

    from textcl.data import load_data
    from textcl.losses import InfoNCE
    from textcl.model import SentenceEncoder
    from textcl.train.config import TrainConfig
    from textcl.train.evaluators import STSEvaluator as TrainSTSEvaluator
    from textcl.train.trainer import Trainer
    from textcl.views import PairView

    assert TrainSTSEvaluator is STSEvaluator
    pairs = [(SENTENCES[i], SENTENCES[(i + 1) % 16]) for i in range(16)]
    evaluator = STSEvaluator([a for a, _ in pairs], [b for _, b in pairs], [float(i % 5) for i in range(16)],
                             name="dev", batch_size=8)
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    cfg = TrainConfig(epochs=1, batch_size=8, lr=5e-3, output_dir=str(tmp_path / "run"), log_steps=1,
                      eval_steps=2, save_steps=2, max_steps=8)
    result = Trainer(model, InfoNCE(), PairView(), load_data(pairs * 4), cfg, evaluator=evaluator,
                     metric_for_best=evaluator.primary_metric).train()
    scores = [h["eval_dev_spearman"] for h in result.history if "eval_dev_spearman" in h]
    assert len(scores) == 4 and len(set(np.round(scores, 6))) > 1  # the score moved: selection is not trivial
    assert result.best_metric == max(scores)
    best = SentenceEncoder.from_pretrained(result.model_path, device="cpu")
    assert evaluator(best)["dev_spearman"] == pytest.approx(max(scores), abs=1e-4)
