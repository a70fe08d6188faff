"""What training shows: one line per evaluation above the bar, no transformers save bars, grouped tracker tags."""

import itertools

import pytest
from tiny_models import SENTENCES

from textcl.data import load_data
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.callbacks import TrainerState, evaluation_line
from textcl.train.checkpoint import quiet_saves
from textcl.train.config import TrainConfig
from textcl.train.tracking import WandbCallback, tag
from textcl.train.trainer import Trainer
from textcl.views import PairView

SHARDS = "Writing model shards"


def _pairs():
    return load_data([(a, b) for a, b in itertools.pairwise(SENTENCES)])


def _scripted(scores):
    """An evaluator returning ``scores`` in turn (and a second metric), so the best step is known."""
    calls = iter(scores)

    def evaluate(model):
        return {"dev": next(calls), "other": 1.5}
    return evaluate


def _lines(err: str) -> list[str]:
    """What a terminal shows line by line: the text after the last carriage return of each line."""
    return [segment.split("\r")[-1] for segment in err.split("\n")]


@pytest.mark.parametrize("scores, best_steps", [((50.0, 70.0, 60.0), (1, 2, 2)), ((80.0, 10.0, 80.0), (1, 1, 1)),
                                                ((1.0, 2.0, 3.0), (1, 2, 3))])
def test_every_evaluation_prints_one_line_with_the_best_so_far(tiny_bert_dir, tmp_path, capsys, scores, best_steps):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    cfg = TrainConfig(max_steps=3, batch_size=5, eval_steps=1, save_steps=100, log_steps=1,
                      output_dir=str(tmp_path / "run"))
    Trainer(model, InfoNCE(), PairView(), _pairs(), cfg, evaluator=_scripted(scores), metric_for_best="dev").train()
    lines = _lines(capsys.readouterr().err)
    for step, (score, best) in enumerate(zip(scores, best_steps), start=1):
        expected = f"step {step}: dev {score:.2f} (best {scores[best - 1]:.2f} at step {best}); other 1.50"
        assert lines.count(expected) == 1, (expected, lines)


def test_evaluation_line_format():
    state = TrainerState(step=200, best_metric=81.234, best_step=200)
    assert evaluation_line(state, {"stsb_dev_spearman": 81.234}, "stsb_dev_spearman") == \
        "step 200: stsb_dev_spearman 81.23 (best 81.23 at step 200)"
    state = TrainerState(step=400, best_metric=81.234, best_step=200)
    assert evaluation_line(state, {"a": 3.0, "m": 79.0}, "m") == "step 400: m 79.00 (best 81.23 at step 200); a 3.00"
    state = TrainerState(step=400, best_metric=81.234)  # resumed from a checkpoint without a best step
    assert evaluation_line(state, {"m": 79.0}, "m") == "step 400: m 79.00 (best 81.23)"


def test_no_line_without_an_evaluator(tiny_bert_dir, tmp_path, capsys):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    cfg = TrainConfig(max_steps=2, batch_size=5, log_steps=1, output_dir=str(tmp_path / "run"))
    Trainer(model, InfoNCE(), PairView(), _pairs(), cfg).train()
    assert not [line for line in _lines(capsys.readouterr().err) if line.startswith("step ")]


def test_a_plain_save_shows_the_transformers_bar(tiny_bert_dir, tmp_path, capfd):
    """The bar the trainer silences exists: a save outside training prints it (else the next test proves nothing)."""
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        pytest.skip("transformers' progress bars are disabled in this environment")
    SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu").save(str(tmp_path / "plain"))
    assert SHARDS in capfd.readouterr().err


def test_training_saves_show_no_transformers_bar(tiny_bert_dir, tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    before = hf_logging.is_progress_bar_enabled()
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    cfg = TrainConfig(max_steps=4, batch_size=5, eval_steps=1, save_steps=2, log_steps=1,
                      output_dir=str(tmp_path / "run"))
    result = Trainer(model, InfoNCE(), PairView(), _pairs(), cfg, evaluator=_scripted((1.0, 2.0, 3.0, 4.0)),
                     metric_for_best="dev").train()
    err = capfd.readouterr().err
    assert [r["step"] for r in result.history if r.get("saved")] == [1, 2, 3, 4]  # the model was saved 4 times
    assert (tmp_path / "run" / "checkpoint").is_dir()
    assert SHARDS not in err
    assert "Training" in err  # the training bar itself is still drawn
    assert hf_logging.is_progress_bar_enabled() == before  # the user's setting is back


def test_quiet_saves_restores_the_setting_also_after_an_error():
    from transformers.utils import logging as hf_logging

    for enabled in (True, False):
        (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
        with pytest.raises(RuntimeError), quiet_saves():
            assert not hf_logging.is_progress_bar_enabled()
            raise RuntimeError("save failed")
        assert hf_logging.is_progress_bar_enabled() == enabled
    hf_logging.enable_progress_bar()


@pytest.mark.parametrize("key, expected", [("loss", "train/loss"), ("lr", "train/lr"), ("epoch", "train/epoch"),
                                           ("eval_stsb_dev_spearman", "eval/stsb_dev_spearman"),
                                           ("eval_ndcg@10", "eval/ndcg@10"), ("best", "eval/best"),
                                           ("train_seconds", "train/seconds"),
                                           ("sentences_per_second", "train/sentences_per_second")])
def test_tags_are_grouped(key, expected):
    assert tag(key) == expected


def test_tensorboard_groups_train_and_eval_scalars(tiny_bert_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    cfg = TrainConfig(max_steps=3, batch_size=5, eval_steps=1, log_steps=1, output_dir=str(tmp_path / "tb"),
                      report_to="tensorboard")
    result = Trainer(model, InfoNCE(), PairView(), _pairs(), cfg, evaluator=_scripted((5.0, 7.0, 6.0)),
                     metric_for_best="dev").train()
    events = EventAccumulator(str(tmp_path / "tb" / "runs"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/epoch", "eval/dev", "eval/other", "eval/best"} <= scalars
    assert all(t.startswith(("train/", "eval/")) for t in scalars), scalars
    assert [(e.step, e.value) for e in events.Scalars("eval/dev")] == [(1, 5.0), (2, 7.0), (3, 6.0)]
    assert [e.value for e in events.Scalars("eval/best")] == [5.0, 7.0, 7.0]
    logged = [r["lr"] for r in result.history if "lr" in r]
    assert [e.value for e in events.Scalars("train/lr")] == pytest.approx(logged, rel=1e-6)


def test_wandb_gets_the_same_tags(monkeypatch):
    logged = []

    class FakeRun:
        def log(self, values, step):
            logged.append((step, values))

    class FakeWandb:
        @staticmethod
        def init(**kwargs):
            return FakeRun()

    monkeypatch.setitem(__import__("sys").modules, "wandb", FakeWandb)
    callback = WandbCallback({"lr": 1e-3})
    callback.on_log(TrainerState(), {"step": 2, "loss": 0.5, "lr": 1e-3, "epoch": 0})
    callback.on_log(TrainerState(), {"step": 2, "eval_dev": 61.0, "best": 61.0, "saved": True})
    assert logged == [(2, {"train/loss": 0.5, "train/lr": 1e-3, "train/epoch": 0.0}),
                      (2, {"eval/dev": 61.0, "eval/best": 61.0})]
