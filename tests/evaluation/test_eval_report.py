"""Full evaluation runs: single encoding of distinct sentences, summaries, table, JSON, plots."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from textcl.evaluation.report import (
    EmbeddingTable,
    default_data_dir,
    encode_unique,
    evaluate,
    format_markdown,
    write_json,
)
from textcl.evaluation.senteval import load_task

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


def test_evaluate_encodes_each_sentence_once_across_tasks(downstream, counting_encoder):
    results = evaluate(counting_encoder, "sts12,stsb,sickr,mr,sst2", downstream, show_progress=False,
                       n_folds=5, inner_folds=3)
    expected = set()
    for task in ("sts12", "stsb", "sickr", "mr", "sst2"):
        for data in load_task(task, downstream).values():
            expected.update(data.texts())
    counts = Counter(counting_encoder.seen)
    assert set(counts) == expected and max(counts.values()) == 1
    # STS12's MSRvid pair repeats STS-B's first pair, and SICK's three files are identical
    assert results["meta"]["n_unique_sentences"] == len(expected) < results["meta"]["n_sentences"]


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
