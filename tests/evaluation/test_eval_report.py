"""Full evaluation runs: single encoding of distinct sentences, summaries, table, JSON, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_tiny_bert

import textcl

from textcl.evaluation.report import (
    EmbeddingTable,
    default_data_dir,
    encode_unique,
    evaluate,
    format_markdown,
    format_time_split,
    task_texts,
    write_json,
)
from textcl.data.senteval import load_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_encode_unique_calls_encode_once_per_distinct_sentence(counting_encoder):
    texts = ["b", "a", "b", "ccc", "a", "dd"]
    table = encode_unique(counting_encoder, texts, chunk_size=2, show_progress=False)
    assert sorted(counting_encoder.seen) == ["a", "b", "ccc", "dd"]
    assert [len(c) for c in counting_encoder.calls] == [2, 2]
    assert counting_encoder.calls[0] == ["a", "b"]  # sorted by length, then text
    emb = table(["dd", "a", "a"])
    assert np.array_equal(emb, counting_encoder(["dd", "a", "a"]))
    with pytest.raises(KeyError, match="not encoded beforehand"):
        table(["zzz"])


def test_embedding_table_checks_lengths():
    with pytest.raises(ValueError, match="2 sentences but 1 embeddings"):
        EmbeddingTable(["a", "b"], np.zeros((1, 3)))


def test_evaluate_encodes_each_task_on_its_own(downstream, counting_encoder):
    tasks = ("sts12", "stsb", "sickr", "mr", "sst2")
    results = evaluate(counting_encoder, ",".join(tasks), downstream, show_progress=False,
                       n_folds=5, inner_folds=3)
    per_task = {t: set(task_texts(t, load_task(t, downstream))) for t in tasks}
    # one encode call per task here (each task has < 512 distinct sentences), in task order,
    # holding exactly that task's distinct sentences
    assert [sorted(c) for c in counting_encoder.calls] == [sorted(per_task[t]) for t in tasks]
    # STS-B is scored on test only: its train/dev sentences are not encoded
    stsb = load_task("stsb", downstream)
    assert per_task["stsb"] == set(stsb["test"].texts())
    meta = results["meta"]
    assert meta["n_unique_sentences"] == sum(len(v) for v in per_task.values())
    assert set(meta["time_split"]) == set(tasks)
    assert all(v["encode"] >= 0 and v["probe"] >= 0 for v in meta["time_split"].values())
    assert meta["encode_seconds"] == pytest.approx(sum(v["encode"] for v in meta["time_split"].values()),
                                                   abs=0.011)


class BatchDependentEncoder:
    """A toy encoder whose output for a sentence depends on the rest of its batch.

    Like float32 sums in a transformer batch, but large enough to change probe scores.
    """

    def __init__(self, toy_vector) -> None:
        self.toy_vector = toy_vector

    def __call__(self, texts: list[str]) -> np.ndarray:
        context = np.mean([len(t) for t in texts])  # depends on which sentences share the call
        return np.stack([self.toy_vector(t) + 0.5 * self.toy_vector(f"{t}|{context:.4f}") for t in texts])


def test_task_score_does_not_depend_on_the_other_tasks(downstream, toy_vector):
    encode = BatchDependentEncoder(toy_vector)
    mr_texts = task_texts("mr", load_task("mr", downstream))
    # the encoder really is batch dependent: a shared table would change MR's embeddings
    shared = encode_unique(encode, mr_texts + ["a much longer sentence from another task " * 3],
                           show_progress=False)
    alone_table = encode_unique(encode, mr_texts, show_progress=False)
    assert not np.allclose(shared(mr_texts), alone_table(mr_texts))

    kwargs = {"show_progress": False, "n_folds": 5, "inner_folds": 3, "geometry": False}
    alone = evaluate(encode, "mr", downstream, **kwargs)
    together = evaluate(encode, "stsb,sickr,mr,sst2,trec", downstream, **kwargs)
    assert together["mr"] == alone["mr"]  # exactly: same embeddings, same folds, same C


def test_format_time_split(downstream, counting_encoder):
    results = evaluate(counting_encoder, "stsb,mr", downstream, show_progress=False, n_folds=2,
                       inner_folds=2)
    results["meta"]["time_split"] = {"stsb": {"encode": 2.0, "probe": 0.5},
                                     "mr": {"encode": 4.0, "probe": 6.0}}
    results["meta"]["encode_seconds"], results["meta"]["probe_seconds"] = 6.0, 6.5
    assert format_time_split(results).splitlines() == [
        "| Task | encode s | probe s | probe / encode |", "|---|---:|---:|---:|",
        "| STS-B | 2.0 | 0.5 | 0.25 |", "| MR | 4.0 | 6.0 | 1.50 |", "| **total** | 6.0 | 6.5 | 1.08 |"]


def test_evaluate_results_and_summaries(downstream, counting_encoder):
    results = evaluate(counting_encoder, "all", downstream, show_progress=False, n_folds=2,
                       inner_folds=2)
    sts = ["sts12", "stsb", "sickr"]
    transfer = ["mr", "sst2", "trec", "mrpc"]
    for t in sts:
        assert set(results[t]) == {"spearman", "pearson", "n"}
    assert results["sts_avg"]["tasks"] == sts
    assert results["sts_avg"]["spearman"] == pytest.approx(np.mean([results[t]["spearman"] for t in sts]))
    assert results["transfer_avg"]["tasks"] == transfer
    assert results["transfer_avg"]["accuracy"] == pytest.approx(
        np.mean([results[t]["accuracy"] for t in transfer]))
    assert results["mrpc"]["f1"] >= 0
    assert results["alignment_uniformity"]["n_pairs"] == 2
    assert results["meta"]["tasks"] == ["sts12", "stsb", "sickr", "mr", "sst2", "trec", "mrpc"]


def test_markdown_json_and_plots(downstream, counting_encoder, tmp_path):
    results = evaluate(counting_encoder, ["stsb", "sickr", "mr"], downstream, show_progress=False,
                       n_folds=2, inner_folds=2, plots_dir=tmp_path / "plots")
    table = format_markdown(results)
    assert table.splitlines()[0] == "| Task | Metric | Score | n |"
    stsb = results["stsb"]
    assert f"| STS-B | Spearman / Pearson | {stsb['spearman']:.2f} / {stsb['pearson']:.2f} | 5 |" in table
    assert "| **STS avg** (STS-B, SICK-R) |" in table
    assert "| **Transfer avg** (MR) |" in table
    assert "Alignment / uniformity" in table

    path = write_json(results, tmp_path / "out" / "results.json")
    loaded = json.loads(path.read_text())
    assert loaded["stsb"]["spearman"] == pytest.approx(stsb["spearman"])
    assert loaded["sts_avg"]["tasks"] == ["stsb", "sickr"]

    plots = sorted(p.rsplit("/", 1)[-1] for p in results["meta"]["plots"])
    assert plots == ["alignment_uniformity.png", "sts_sickr.png", "sts_stsb.png"]
    for p in results["meta"]["plots"]:
        assert open(p, "rb").read(8) == PNG_MAGIC


def test_data_dir_from_environment(downstream, monkeypatch):
    monkeypatch.setenv("TEXTCL_DATA", str(downstream))
    assert default_data_dir() == downstream
    monkeypatch.delenv("TEXTCL_DATA")
    with pytest.raises(ValueError, match="TEXTCL_DATA"):
        default_data_dir()


def test_evaluate_bad_inputs(downstream, counting_encoder, tmp_path):
    with pytest.raises(ValueError, match="known tasks"):
        evaluate(counting_encoder, "stsb,imdb", downstream)
    with pytest.raises(FileNotFoundError, match="get_transfer_data.bash"):
        evaluate(counting_encoder, "subj", downstream)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no task data"):
        evaluate(counting_encoder, "all", tmp_path / "empty")
    assert counting_encoder.calls == []  # errors come before any encoding


def test_bundled_cr_scores_the_same_alone_and_next_to_mr(downstream, tmp_path):
    """A real transformer (tiny, random) on a subsample of the bundled CR, with and without MR."""
    from textcl.model import SentenceEncoder

    bundled = Path(textcl.__file__).parent / "data" / "bundled" / "senteval" / "CR"
    (downstream / "CR").mkdir()
    for name in ("custrev.pos", "custrev.neg"):  # 60 + 60 of the real reviews
        lines = (bundled / name).read_text(encoding="latin-1").splitlines()[:60]
        (downstream / "CR" / name).write_text("\n".join(lines) + "\n", encoding="latin-1")
    model = SentenceEncoder.from_pretrained(make_tiny_bert(str(tmp_path / "bert")), pooling="mean",
                                            max_length=64, device="cpu")

    def encode(texts):
        return model.encode(texts, batch_size=16, dtype="float32")

    kwargs = {"show_progress": False, "n_folds": 3, "inner_folds": 3, "chunk_size": 64}
    alone = evaluate(encode, "cr", downstream, **kwargs)
    with_mr = evaluate(encode, "mr,cr", downstream, **kwargs)
    assert with_mr["cr"] == alone["cr"] and alone["cr"]["n"] == 120
