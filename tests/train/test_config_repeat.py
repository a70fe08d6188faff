"""``train_config.json`` records the dev evaluator; ``textcl train --config`` repeats the run with its selection."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import SENTENCES

from textcl.cli import main

STS_ROWS = [(4.8, "a man plays the guitar .", "a man is playing music ."),
            (0.4, "a dog runs in the park .", "two people eat food ."),
            (3.9, "a woman plays the piano .", "a woman is playing music ."),
            (1.0, "a cat sleeps on the car .", "a child rides a horse ."),
            (4.5, "a big red car .", "a small blue car ."),
            (0.2, "the girl swims in the water .", "three dogs play ."),
            (3.1, "someone is sleeping .", "a woman is sleeping in the sun ."),
            (2.2, "the dog eats .", "three dogs play ."),
            (0.8, "people are riding in the street .", "a man plays the guitar ."),
            (4.0, "a boy is playing on the beach .", "a child rides a horse .")]


@pytest.fixture
def sts_dir(tmp_path):
    """A SentEval-layout folder holding a 10-pair STS-B dev file."""
    folder = tmp_path / "senteval" / "STS" / "STSBenchmark"
    folder.mkdir(parents=True)
    rows = [f"main-captions\tMSRvid\t2012test\t{i:04d}\t{score:.3f}\t{a}\t{b}" for i, (score, a, b) in enumerate(STS_ROWS)]
    (folder / "sts-dev.csv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "senteval")


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.csv"
    rows = ["anchor,positive"] + [f"{a},{b}" for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1])]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _first_run(tiny_bert_dir, pairs_file, sts_dir, out, *extra):
    return main(["train", "--model", tiny_bert_dir, "--data", pairs_file, "--view", "pair", "--batch-size", "4",
                 "--max-steps", "6", "--eval-steps", "2", "--save-steps", "3", "--log-steps", "1", "--lr", "1e-2",
                 "--eval-sts", sts_dir, "--output", str(out), "--device", "cpu", *extra])


def _evaluations(out):
    """``(step, score, saved)`` of every dev evaluation in a run's metrics.jsonl."""
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    return [(r["step"], r["eval_stsb_dev_spearman"], r["saved"]) for r in records if "eval_stsb_dev_spearman" in r]


def _best_step(evaluations):
    return max(step for step, _, saved in evaluations if saved)


def _record(out):
    with open(os.path.join(out, "train_config.json")) as f:
        return json.load(f)


def test_the_record_names_the_evaluator_and_its_steps(tiny_bert_dir, pairs_file, sts_dir, tmp_path):
    out = tmp_path / "first"
    assert _first_run(tiny_bert_dir, pairs_file, sts_dir, out) == 0
    record = _record(out)
    assert record["evaluator"] == {"kind": "sts_dev", "data_dir": sts_dir, "task": "stsb", "batch_size": 128,
                                   "dtype": "float32", "metric": "stsb_dev_spearman"}
    assert record["train"]["eval_steps"] == 2


def test_config_repeats_the_dev_selection_and_the_kept_weights(tiny_bert_dir, pairs_file, sts_dir, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert _first_run(tiny_bert_dir, pairs_file, sts_dir, first) == 0
    assert main(["train", "--config", str(first / "train_config.json"), "--output", str(second)]) == 0
    evaluations = _evaluations(first)
    # at this lr the dev score peaks early (step 2 here), so the kept model is not the last step's
    assert [step for step, _, _ in evaluations] == [2, 4, 6]
    assert _evaluations(second) == evaluations  # same steps, same scores, same selection
    assert _best_step(_evaluations(second)) == _best_step(evaluations)
    kept, repeated = load_file(str(first / "model" / "model.safetensors")), load_file(
        str(second / "model" / "model.safetensors"))
    assert kept.keys() == repeated.keys()
    assert all(torch.equal(kept[k], repeated[k]) for k in kept)
    assert _record(second)["evaluator"] == _record(first)["evaluator"]


def test_the_recorded_evaluator_settings_are_used_and_a_flag_wins(tiny_bert_dir, pairs_file, sts_dir, tmp_path):
    first = tmp_path / "first"
    assert _first_run(tiny_bert_dir, pairs_file, sts_dir, first, "--max-steps", "2") == 0
    record = _record(first)
    record["evaluator"]["batch_size"] = 3  # a hand-edited record: its evaluator settings are taken
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(record))
    assert main(["train", "--config", str(edited), "--output", str(tmp_path / "second")]) == 0
    assert _record(tmp_path / "second")["evaluator"]["batch_size"] == 3
    other_dir = tmp_path / "other"
    os.rename(sts_dir, other_dir)  # the recorded folder is gone: --eval-sts names the new place, and wins
    assert main(["train", "--config", str(edited), "--eval-sts", str(other_dir),
                 "--output", str(tmp_path / "third")]) == 0
    assert _record(tmp_path / "third")["evaluator"]["data_dir"] == str(other_dir)
    assert len(_evaluations(tmp_path / "third")) == 1


def test_an_evaluator_textcl_train_cannot_rebuild_is_refused(tiny_bert_dir, pairs_file, sts_dir, tmp_path, capsys):
    first = tmp_path / "first"
    assert _first_run(tiny_bert_dir, pairs_file, sts_dir, first, "--max-steps", "2") == 0
    record = _record(first)
    record["evaluator"] = {"class": "my_evaluator", "metric": "dev"}  # a library run's custom evaluator
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(record))
    assert main(["train", "--config", str(edited), "--output", str(tmp_path / "second")]) != 0
    err = capsys.readouterr().err
    assert "my_evaluator" in err and "--eval-sts" in err
    assert not os.path.exists(tmp_path / "second" / "model")


def test_a_run_without_an_evaluator_records_none(tiny_bert_dir, pairs_file, tmp_path):
    out = tmp_path / "plain"
    assert main(["train", "--model", tiny_bert_dir, "--data", pairs_file, "--view", "pair", "--batch-size", "4",
                 "--max-steps", "2", "--lr", "1e-3", "--output", str(out), "--device", "cpu"]) == 0
    assert "evaluator" not in _record(out)
    assert main(["train", "--config", str(out / "train_config.json"), "--output", str(tmp_path / "again")]) == 0
    assert _evaluations(tmp_path / "again") == []


def test_config_repeats_a_run_with_the_default_lr(tiny_bert_dir, pairs_file, tmp_path):
    out = tmp_path / "plain"
    assert main(["train", "--model", tiny_bert_dir, "--data", pairs_file, "--view", "pair", "--batch-size", "4",
                 "--max-steps", "1", "--output", str(out), "--device", "cpu"]) == 0
    assert main(["train", "--config", str(out / "train_config.json"), "--output", str(tmp_path / "again")]) == 0
