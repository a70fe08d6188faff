"""Trainer: overfitting a small set, best-model selection, resume, NaN handling, checkpoint errors."""

import json
import os

import numpy as np
import pytest
import torch

from tiny_models import SENTENCES
from textcl.data import load_data
from textcl.losses import InfoNCE, PairwiseContrastiveLoss, TripletLoss
from textcl.model import SentenceEncoder
from textcl.train.checkpoint import load_checkpoint
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer, TrainingDivergedError
from textcl.views import DropoutView, LabeledPairView, PairView, TripletView


def _pairs(n=32):
    # n distinct (anchor, positive) pairs: the positive is the anchor's two clauses swapped
    rows = []
    for i in range(n):
        a, b = SENTENCES[i % 16], SENTENCES[(i // 16 + i + 1) % 16]
        rows.append((f"{a} {b}", f"{b} {a}"))
    return load_data(rows)


def _model(tiny_bert_dir, **kw):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", **kw)


def _cfg(tmp_path, **kw):
    base = dict(epochs=1, batch_size=32, lr=2e-3, output_dir=str(tmp_path / "run"), log_steps=1,
                eval_steps=5, save_steps=5)
    base.update(kw)
    return TrainConfig(**base)


def _losses(tmp_path):
    with open(tmp_path / "run" / "metrics.jsonl") as f:
        return [r["loss"] for r in map(json.loads, f) if "loss" in r]


def test_overfits_32_pairs(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir)
    cfg = _cfg(tmp_path, max_steps=40, lr=1e-2)
    result = Trainer(model, InfoNCE(temperature=0.05), PairView(), _pairs(), cfg).train()
    losses = _losses(tmp_path)
    assert result.steps == 40 and len(losses) == 40
    assert losses[0] > 2.5  # ~log(32) = 3.47 at the start
    assert np.mean(losses[-5:]) < 0.65 * losses[0]
    assert os.path.isfile(os.path.join(result.model_path, "textcl_config.json"))


@pytest.mark.parametrize("view, loss, rows", [
    (DropoutView(), InfoNCE(), [(s,) for s in SENTENCES]),
    (TripletView(), InfoNCE(), [(s, s, SENTENCES[-1 - i]) for i, s in enumerate(SENTENCES)]),
    (TripletView(), TripletLoss(margin=0.5), [(s, s, SENTENCES[-1 - i]) for i, s in enumerate(SENTENCES)]),
    (LabeledPairView(), PairwiseContrastiveLoss(margin=0.5), [(s, s, i % 2) for i, s in enumerate(SENTENCES)]),
])
def test_every_view_and_loss_trains(tiny_bert_dir, tmp_path, view, loss, rows):
    model = _model(tiny_bert_dir)
    result = Trainer(model, loss, view, load_data(rows), _cfg(tmp_path, batch_size=8, max_steps=3)).train()
    assert result.steps == 3 and all(np.isfinite(_losses(tmp_path)))


def test_best_checkpoint_is_kept(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir)
    scores = iter([1.0, 3.0, 2.0])
    trainer = Trainer(model, InfoNCE(), PairView(), _pairs(), _cfg(tmp_path, max_steps=15, eval_steps=5),
                      evaluator=lambda m: {"dev": next(scores)}, metric_for_best="dev")
    result = trainer.train()
    assert result.best_metric == 3.0
    evals = [h for h in result.history if "eval_dev" in h]
    assert [e["saved"] for e in evals] == [True, True, False]


def test_resume_continues_where_it_stopped(tiny_bert_dir, tmp_path):
    data, cfg = _pairs(), dict(batch_size=8, lr=1e-3, save_steps=2, max_steps=4)
    full = _model(tiny_bert_dir)
    Trainer(full, InfoNCE(), PairView(), data, _cfg(tmp_path / "a", **cfg)).train()

    def crash_at_step_3(record):
        if record.get("step") == 3:
            raise KeyboardInterrupt  # killed after the step-2 checkpoint was written

    part = _model(tiny_bert_dir)
    with pytest.raises(KeyboardInterrupt):
        Trainer(part, InfoNCE(), PairView(), data, _cfg(tmp_path / "b", **cfg), callbacks=[crash_at_step_3]).train()
    resumed = _model(tiny_bert_dir)
    result = Trainer(resumed, InfoNCE(), PairView(), data, _cfg(tmp_path / "b", **cfg)).train(
        resume_from=str(tmp_path / "b" / "run" / "checkpoint"))
    assert result.steps == 4
    for p_full, p_res in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(p_full, p_res, atol=1e-6, rtol=1e-5)


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir)
    calls = {"n": 0}

    class NaNAfter2(InfoNCE):
        def forward(self, *a, **k):
            calls["n"] += 1
            out = super().forward(*a, **k)
            return out * float("nan") if calls["n"] > 2 else out

    trainer = Trainer(model, NaNAfter2(), PairView(), _pairs(), _cfg(tmp_path, batch_size=8, max_steps=6,
                                                                      save_steps=2))
    with pytest.raises(TrainingDivergedError, match="loss is nan at step 3"):
        trainer.train()
    state = load_checkpoint(str(tmp_path / "run" / "checkpoint"), _model(tiny_bert_dir))
    assert state["step"] == 2


def test_corrupt_checkpoint_is_named(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir)
    Trainer(model, InfoNCE(), PairView(), _pairs(), _cfg(tmp_path, batch_size=16, max_steps=1)).train()
    ckpt = tmp_path / "run" / "checkpoint"
    (ckpt / "trainer_state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="trainer_state.pt is corrupt"):
        load_checkpoint(str(ckpt), model)
    with pytest.raises(FileNotFoundError, match="not a complete textcl checkpoint"):
        load_checkpoint(str(tmp_path), model)


def test_data_errors_before_training(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir)
    with pytest.raises(ValueError, match="reads 3 column"):
        Trainer(model, InfoNCE(), TripletView(), _pairs(), _cfg(tmp_path))
    with pytest.raises(ValueError, match="row 1, column 'text1'"):
        Trainer(model, InfoNCE(), PairView(), load_data([("a", "b"), ("c", "")]), _cfg(tmp_path))


def test_rnn_encoder_trains_and_reloads(tmp_path):
    from textcl.encoders.rnn import RNNEncoder
    from textcl.encoders.word_tokenizer import WordTokenizer

    words = sorted({w for s in SENTENCES for w in s.split()})
    tok = WordTokenizer(["<pad>", "<unk>"] + words)
    enc = RNNEncoder(tok, num_embeddings=len(tok.vocab), word_dim=8, hidden_size=8, pooling="max",
                     freeze_embeddings=False)
    model = SentenceEncoder(enc)
    rows = [(s, s) for s in SENTENCES] * 2
    result = Trainer(model, InfoNCE(), PairView(), load_data(rows), _cfg(tmp_path, max_steps=20, lr=1e-2)).train()
    losses = _losses(tmp_path)
    assert np.mean(losses[-3:]) < losses[0]
    reloaded = SentenceEncoder.from_pretrained(result.model_path, device="cpu")
    np.testing.assert_allclose(reloaded.encode(SENTENCES), model.encode(SENTENCES), atol=1e-6)
