"""Fine-tuning runs through the one training loop: dtype, accumulation, checkpoints and resume come with it."""

from __future__ import annotations

import json
import os

import pytest

from textcl.classify import SentenceClassifier
from textcl.model import SentenceEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(sentences):
    return list(sentences), [i % 2 for i in range(len(sentences))]


def _clf(tiny_bert_dir):
    return SentenceClassifier(SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu"), [0, 1], freeze=False)


def test_accumulation_takes_one_step_per_group_of_micro_batches(tiny_bert_dir, data):
    plain = _clf(tiny_bert_dir).fit(*data, epochs=1, batch_size=4, lr=1e-3)
    grouped = _clf(tiny_bert_dir).fit(*data, epochs=1, batch_size=4, lr=1e-3, grad_accum_steps=2)
    assert grouped.steps == -(-plain.steps // 2)


def test_bfloat16_fine_tuning_runs_and_predicts(tiny_bert_dir, data):
    clf = _clf(tiny_bert_dir)
    result = clf.fit(*data, epochs=1, batch_size=4, lr=1e-3, dtype="bfloat16")
    assert result.steps > 0 and set(clf.predict(data[0])) <= {0, 1}


def test_a_fine_tuning_run_resumes_from_its_checkpoint(tiny_bert_dir, data, tmp_path):
    run = tmp_path / "run"
    first = _clf(tiny_bert_dir).fit(*data, epochs=1, batch_size=4, lr=1e-3, run_dir=str(run))
    assert os.path.isdir(run / "checkpoint")
    with open(run / "train_config.json") as f:
        assert json.load(f)["loss"]["name"] == "softmax"
    again = _clf(tiny_bert_dir).fit(*data, epochs=2, batch_size=4, lr=1e-3, run_dir=str(run), resume=True)
    assert again.steps == 2 * first.steps
    with open(run / "metrics.jsonl") as f:
        steps = [r["step"] for r in map(json.loads, f) if "loss" in r]
    assert steps == list(range(1, 2 * first.steps + 1))  # the resumed run repeats no step


def test_validation_keeps_the_best_weights_and_stops_early(tiny_bert_dir, data):
    clf = _clf(tiny_bert_dir)
    result = clf.fit(*data, *data, epochs=6, batch_size=4, lr=1e-3, patience=1)
    assert result.best_val_accuracy is not None and result.best_epoch is not None
    assert [h["val_accuracy"] for h in result.history][result.best_epoch - 1] == result.best_val_accuracy
