"""A run's output folder: one writer, no silent overwrite, resume checks, train_config.json repeats a run."""

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from textcl.cli import main
from textcl.data import load_data
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.storage import OutputLock
from textcl.train.callbacks import TrainerCallback
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer
from textcl.views import PairView
from tiny_models import SENTENCES


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.csv"
    rows = ["anchor,positive"] + [f"{a},{b}" for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1])]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _train(tiny_bert_dir, pairs_file, out, *extra):
    return main(["train", "--model", tiny_bert_dir, "--data", pairs_file, "--view", "pair", "--batch-size", "4",
                 "--max-steps", "4", "--save-steps", "2", "--log-steps", "1", "--lr", "1e-3", "--output", str(out), "--device", "cpu",
                 *extra])


def _weights(folder):
    return load_file(os.path.join(folder, "model.safetensors"))


def test_second_run_on_the_same_output_is_refused_unless_overwrite(tiny_bert_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_bert_dir, pairs_file, out) == 0
    first = _weights(out / "model")
    assert _train(tiny_bert_dir, pairs_file, out) == 1
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--overwrite" in err and "--resume" in err
    assert _train(tiny_bert_dir, pairs_file, out, "--overwrite", "--lr", "2e-3") == 0
    with open(out / "metrics.jsonl") as f:
        steps = [r["step"] for r in map(json.loads, f) if "loss" in r]
    assert steps == [1, 2, 3, 4]  # the old run's records are gone, not appended to
    assert not torch.equal(first["embeddings.word_embeddings.weight"],
                           _weights(out / "model")["embeddings.word_embeddings.weight"])


def test_train_config_json_repeats_the_run_bit_for_bit(tiny_bert_dir, pairs_file, tmp_path):
    assert _train(tiny_bert_dir, pairs_file, tmp_path / "a", "--seed", "7") == 0
    with open(tmp_path / "a" / "train_config.json") as f:
        record = json.load(f)
    assert record["schema"] == "textcl.train_config" and record["train"]["seed"] == 7
    assert record["model"]["model"] == tiny_bert_dir and record["view"] == {"name": "pair"}
    assert record["loss"]["name"] == "infonce" and record["loss"]["temperature"] == 0.05
    assert record["command"]["view"] == "pair" and record["command"]["loss"] == "infonce"
    assert record["data"]["data"] == pairs_file
    assert "token" not in json.dumps(record["model"])
    assert main(["train", "--config", str(tmp_path / "a" / "train_config.json"), "--output",
                 str(tmp_path / "b")]) == 0
    a, b = _weights(tmp_path / "a" / "model"), _weights(tmp_path / "b" / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_changed_settings_and_trims_metrics(tiny_bert_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_bert_dir, pairs_file, out) == 0
    with open(out / "metrics.jsonl", "a") as f:  # records a killed run wrote after its last checkpoint
        f.write(json.dumps({"step": 5, "loss": 9.9}) + "\n" + '{"step": 6, "lo')
    ckpt = str(out / "checkpoint")
    assert _train(tiny_bert_dir, pairs_file, out, "--resume", ckpt, "--max-steps", "6", "--lr", "5e-3") == 1
    err = capsys.readouterr().err
    assert "settings differ" in err and "train.lr" in err and "--allow-changed-settings" in err
    assert _train(tiny_bert_dir, pairs_file, out, "--resume", ckpt, "--max-steps", "6") == 0
    assert "dropped 2 record(s)" in capsys.readouterr().err
    with open(out / "metrics.jsonl") as f:
        steps = [r["step"] for r in map(json.loads, f) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6] and 9.9 not in steps


def test_a_locked_output_is_refused(tiny_bert_dir, pairs_file, tmp_path, capsys):
    out = tmp_path / "run"
    with OutputLock(str(out)):
        assert _train(tiny_bert_dir, pairs_file, out) == 1
    assert "training run" in capsys.readouterr().err
    assert _train(tiny_bert_dir, pairs_file, out) == 0  # released: the folder is free again


def test_tensorboard_events_hold_the_logged_scalars(tiny_bert_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    data = load_data([(a, b) for a, b in zip(SENTENCES, SENTENCES[1:])])
    cfg = TrainConfig(max_steps=3, batch_size=5, log_steps=1, output_dir=str(tmp_path / "tb"), report_to="tensorboard")
    result = Trainer(model, InfoNCE(), PairView(), data, cfg).train()
    events = EventAccumulator(str(tmp_path / "tb" / "runs"))
    events.Reload()
    losses = [e.value for e in events.Scalars("train/loss")]
    logged = [r["loss"] for r in result.history if "loss" in r]
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
    np.testing.assert_allclose(losses, logged, rtol=1e-6)


def test_a_callback_can_stop_training_and_sees_every_hook(tiny_bert_dir, tmp_path):
    seen = []

    class StopAtTwo(TrainerCallback):
        def on_step_end(self, state):
            seen.append(("step", state.step, round(state.loss, 6)))
            return state.step == 2

        def on_save(self, state, path):
            seen.append(("save", state.step, os.path.basename(path)))

        def on_evaluate(self, state, metrics):
            seen.append(("eval", state.step, metrics["dev"]))

    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    data = load_data([(a, b) for a, b in zip(SENTENCES, SENTENCES[1:])])
    cfg = TrainConfig(max_steps=10, batch_size=5, eval_steps=1, save_steps=100, log_steps=1,
                      output_dir=str(tmp_path / "cb"))
    result = Trainer(model, InfoNCE(), PairView(), data, cfg, evaluator=lambda m: {"dev": 1.0},
                     metric_for_best="dev", callbacks=[StopAtTwo()]).train()
    assert result.steps == 2
    kinds = [s[0] for s in seen]
    assert kinds.count("step") == 2 and kinds.count("eval") == 2
    assert ("save", 2, "checkpoint") in seen  # a stopped run still leaves a resumable checkpoint
    logged = [round(r["loss"], 6) for r in result.history if "loss" in r]
    assert [s[2] for s in seen if s[0] == "step"] == logged  # the hook sees the logged loss, not an average


@pytest.mark.parametrize("kwargs, bad", [({"epochs": 1.5}, "epochs"), ({"lr": float("inf")}, "lr"),
                                         ({"lr": float("nan")}, "lr"), ({"batch_size": True}, "batch_size"),
                                         ({"warmup_ratio": 1.0}, "warmup_ratio"), ({"seed": -1}, "seed")])
def test_train_config_refuses_values_that_cannot_train(kwargs, bad):
    with pytest.raises(ValueError, match=rf"^{bad} \(--{bad.replace('_', '-')}\) must be"):
        TrainConfig(**kwargs)


def test_a_batch_without_negatives_is_an_error_not_a_zero_loss(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    with pytest.raises(ValueError, match="at least 2 rows"):
        Trainer(model, InfoNCE(), PairView(), load_data([("a man .", "a dog .")]),
                TrainConfig(output_dir=str(tmp_path / "x")))
    with pytest.raises(ValueError, match="at least 2 rows"):
        Trainer(model, InfoNCE(), PairView(), load_data([("a man .", "a dog ."), ("a cat .", "two cats .")]),
                TrainConfig(batch_size=1, output_dir=str(tmp_path / "x")))
    with pytest.raises(ValueError, match="no negative"):
        InfoNCE()(torch.randn(1, 4), torch.randn(1, 4))
