"""``textcl mine`` in-process: its output equals the library's, in every output kind; bad inputs are one line."""

import csv
import json
import os

import datasets
import numpy as np
import pytest

from textcl.cli import main
from textcl.model import SentenceEncoder
from textcl.search.mining import mine_hard_negatives

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


@pytest.fixture
def pairs(tmp_path, sentences):
    """A .jsonl of 16 (query, answer) pairs: each sentence with the next one."""
    path = tmp_path / "pairs.jsonl"
    rows = [{"query": s, "answer": sentences[(i + 1) % len(sentences)]} for i, s in enumerate(sentences)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def mine(capsys, tiny_bert_dir, *flags):
    code = main(["mine", tiny_bert_dir, "--device", "cpu", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_jsonl_equals_the_library(tiny_bert_dir, model, pairs, tmp_path, capsys):
    out = tmp_path / "mined.jsonl"
    code, stdout, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", str(out), "--num-negatives", "2",
                             "--range-min", "1", "--output-scores")
    assert code == 0, err
    want = mine_hard_negatives(model, datasets.Dataset.from_json(pairs), num_negatives=2, range_min=1,
                               output_scores=True)
    got = read_jsonl(out)
    assert [(r["query"], r["answer"], r["negative"]) for r in got] == list(
        zip(want["query"], want["answer"], want["negative"]))
    np.testing.assert_allclose([r["scores"] for r in got], want["scores"], atol=1e-6)
    assert stdout.count("\n") == 1 and stdout.startswith(f"wrote {out}: {len(want)} triplet rows")
    assert "mining: encoding 16 anchors" in err  # progress goes to stderr
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary file or lock left


def test_csv_folder_and_parquet_outputs(tiny_bert_dir, model, pairs, tmp_path, capsys):
    want = mine_hard_negatives(model, datasets.Dataset.from_json(pairs), num_negatives=3,
                               output_format="n-tuple", sampling_strategy="random", seed=4)
    common = ["--data", pairs, "--output-format", "n-tuple", "--sampling-strategy", "random", "--seed", "4",
              "--quiet"]
    csv_out, folder, parquet = tmp_path / "m.csv", tmp_path / "mined", tmp_path / "m.parquet"
    for out in (csv_out, folder, parquet):
        code, _, err = mine(capsys, tiny_bert_dir, *common, "--output", str(out))
        assert code == 0, err
        assert "mining:" not in err  # --quiet
    with open(csv_out, newline="", encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == want.to_list()
    assert datasets.load_from_disk(str(folder)).to_list() == want.to_list()
    assert datasets.Dataset.from_parquet(str(parquet)).to_list() == want.to_list()


def test_overwrite_and_model_flag(tiny_bert_dir, pairs, tmp_path, capsys):
    out = tmp_path / "mined.jsonl"
    out.write_text("old\n")
    code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", str(out))
    assert code == 1 and out.read_text() == "old\n"
    want = f"textcl mine: error: {out} already exists: pass --overwrite to replace it, or choose another path"
    assert err.strip().splitlines() == [want]
    code = main(["mine", "--model", tiny_bert_dir, "--device", "cpu", "--data", pairs, "--output", str(out),
                 "--overwrite", "--quiet"])
    assert code == 0 and len(read_jsonl(out)) == 3 * 16
    folder = tmp_path / "mined"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", str(folder), "--quiet")
    assert code == 1 and "--overwrite" in err and (folder / "keep.txt").exists()


@pytest.mark.parametrize("flags, message", [
    (["--anchor-column", "question"], ("anchor_column_name (--anchor-column) 'question' is not a column of the "
                                       "data; it has: query, answer")),
    (["--positive-column", "nope"], "positive_column_name (--positive-column) 'nope' is not a column"),
    (["--num-negatives", "0"], "num_negatives (--num-negatives) must be an int >= 1, got 0"),
    (["--range-min", "4", "--range-max", "4"], "range_max (--range-max) must be an int >= 5, got 4"),
    (["--max-score", "2"], "max_score (--max-score) must be a finite number in [-1.0, 1.0]"),
    (["--output-format", "triplet", "--include-positives"], "needs output_format='n-tuple'"),
    (["--output-scores", "--output", "x.csv"], "a .csv cannot hold the list columns"),
    (["--output", "x.txt"], "unknown output format '.txt'"),
    (["--data", "missing.jsonl"], "missing.jsonl"),
])
def test_bad_inputs_are_one_line_errors(tiny_bert_dir, pairs, tmp_path, capsys, flags, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", "out.jsonl", *flags)
    assert code == 1 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("textcl mine: error: ") and message in lines[0], err
    assert not os.path.exists("out.jsonl") and not os.path.exists("x.csv")


def test_output_never_overwrites_an_input(tiny_bert_dir, pairs, tmp_path, capsys):
    with open(pairs, encoding="utf-8") as f:
        before = f.read()
    for output, extra in ((pairs, []), (pairs, ["--overwrite"]), (os.path.join(tiny_bert_dir, "x.jsonl"), [])):
        code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", output, *extra)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "writing it would overwrite or delete that input" in err
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "one"}\n')
    code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--corpus", str(corpus), "--output", str(corpus),
                        "--overwrite")
    assert code == 1 and "the input --corpus" in err and corpus.read_text() == '{"text": "one"}\n'
    with open(pairs, encoding="utf-8") as f:
        assert f.read() == before


def test_corpus_file_adds_candidates(tiny_bert_dir, model, pairs, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    extra = ["an old man walks a dog .", "the sun is shining .", "a band plays on the stage ."]
    corpus.write_text("\n".join(extra) + "\n")
    out = tmp_path / "m.jsonl"
    code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--corpus", str(corpus), "--output", str(out),
                        "--num-negatives", "5", "--quiet")
    assert code == 0, err
    want = mine_hard_negatives(model, datasets.Dataset.from_json(pairs), corpus=extra, num_negatives=5)
    assert [r["negative"] for r in read_jsonl(out)] == want["negative"]
    assert set(extra) & set(want["negative"])  # the extra texts do get picked


def test_no_model_and_nothing_mined(tiny_bert_dir, pairs, tmp_path, capsys):
    assert main(["mine", "--data", pairs, "--output", str(tmp_path / "m.jsonl")]) == 1
    assert "name the model" in capsys.readouterr().err
    code, _, err = mine(capsys, tiny_bert_dir, "--data", pairs, "--output", str(tmp_path / "m.jsonl"),
                        "--max-score", "-1", "--quiet")
    assert code == 1 and "no triplet row was mined" in err and not (tmp_path / "m.jsonl").exists()
