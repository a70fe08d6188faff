"""``textcl classify`` (train / predict) in-process: metrics.json, saved folder, prediction files, bad input."""

import csv
import json
import os

import pytest

from textcl.classify.classifier import SentenceClassifier
from textcl.cli import main


ANIMALS = ("dog", "cat", "horse")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model_dir(tiny_bert_dir):
    return tiny_bert_dir


def write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def splits(sentences, tmp_path):
    rows = [(s, "animal" if any(a in s for a in ANIMALS) else "other") for s in sentences]
    return {"train": write_csv(tmp_path / "train.csv", rows), "test": write_csv(tmp_path / "test.csv", rows[:6]),
            "rows": rows}


def test_train_frozen_with_test_then_predict(model_dir, splits, tmp_path, capsys):
    out = str(tmp_path / "clf")
    assert main(["classify", "--model", model_dir, "--train", splits["train"], "--validation", splits["train"],
                 "--test", splits["test"], "--freeze", "--head", "linear", "--epochs", "4", "--lr", "0.05",
                 "--output", out, "--device", "cpu"]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["evaluation"] == "test" and metrics["n_test"] == 6 and metrics["n_train"] == 16
    assert 0 <= metrics["accuracy"] <= 100 and 0 <= metrics["macro_f1"] <= 100
    assert metrics["labels"] == ["animal", "other"] and metrics["freeze"] is True
    assert json.loads(capsys.readouterr().out)["accuracy"] == metrics["accuracy"]

    clf = SentenceClassifier.from_pretrained(out, device="cpu")
    texts = [r[0] for r in splits["rows"]]
    src = tmp_path / "new.txt"
    src.write_text("\n".join(texts) + "\n")
    assert main(["classify", "predict", "--model", out, "--input", str(src)]) == 0
    assert capsys.readouterr().out.split() == clf.predict(texts)
    pred = tmp_path / "pred.jsonl"
    assert main(["classify", "predict", "--model", out, "--input", str(src), "--output", str(pred)]) == 0
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    assert [r["label"] for r in rows] == clf.predict(texts) and rows[2]["line"] == 3 and rows[2]["text"] == texts[2]


def test_without_test_split_metrics_are_cross_validated(model_dir, splits, tmp_path):
    out = str(tmp_path / "clf")
    assert main(["classify", "--model", model_dir, "--train", splits["train"], "--freeze", "--head", "mlp",
                 "--epochs", "2", "--cv-folds", "3", "--output", out]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["evaluation"] == "3-fold cross-validation on train" and metrics["n_folds"] == 3
    assert {"accuracy", "macro_f1"} <= set(metrics)


def test_fine_tuning_writes_a_loadable_model(model_dir, splits, tmp_path):
    out = str(tmp_path / "clf")
    assert main(["classify", "--model", model_dir, "--train", splits["train"], "--test", splits["test"],
                 "--epochs", "1", "--batch-size", "8", "--output", out]) == 0
    clf = SentenceClassifier.from_pretrained(out)
    assert clf.freeze is False and clf.labels == ["animal", "other"]


@pytest.mark.parametrize("args, msg", [
    (["--label-col", "sentiment"], r"column\(s\) 'sentiment' not found; it has: text, label"),
    (["--test", "BADTEST"], r"test row 1: label 'plant' was not seen in training"),
    ([], "training needs --output"),
])
def test_bad_training_input_is_explained(model_dir, splits, tmp_path, capsys, args, msg):
    bad_test = write_csv(tmp_path / "bad_test.csv", [("a dog .", "animal"), ("a tree .", "plant")])
    args = [bad_test if a == "BADTEST" else a for a in args]
    argv = ["classify", "--model", model_dir, "--train", splits["train"], "--freeze", *args]
    if msg != "training needs --output":
        argv += ["--output", str(tmp_path / "clf")]
    assert main(argv) == 1
    import re
    assert re.search(msg, capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "clf")  # failed before training


def test_predict_names_an_empty_line(model_dir, splits, tmp_path, capsys):
    out = str(tmp_path / "clf")
    assert main(["classify", "--model", model_dir, "--train", splits["train"], "--test", splits["test"],
                 "--freeze", "--epochs", "1", "--output", out]) == 0
    src = tmp_path / "new.txt"
    src.write_text("a dog .\n\na cat .\n")
    pred = tmp_path / "pred.txt"
    assert main(["classify", "predict", "--model", out, "--input", str(src), "--output", str(pred)]) == 1
    assert "new.txt:2: empty text" in capsys.readouterr().err and not pred.exists()
