"""Fine-tuning a classifier (encoder and head together) through the one training loop, :class:`Trainer`.

The head is the weight of a :class:`~textcl.losses.SoftmaxLoss`; rows are ``(text, class id)`` read
by a :class:`~textcl.views.base.LabeledTextView`. The trainer brings the compute dtype, gradient
accumulation, DDP under ``torchrun``, checkpoints and resume; the classifier adds validation accuracy
as the evaluator, early stopping after ``patience`` evaluations, and keeps the best weights.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from typing import Any

import datasets
import numpy as np

from textcl.classify.labels import EarlyStopping, FitResult
from textcl.losses import SoftmaxLoss
from textcl.train.callbacks import TrainerCallback, TrainerState
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer
from textcl.views.base import LabeledTextView

__all__ = ["fine_tune"]


class _KeepBest(TrainerCallback):
    """Early stopping on validation accuracy; keeps a copy of the best weights (encoder and head)."""

    def __init__(self, clf: Any, patience: int) -> None:
        self.clf, self.stopper, self.best_state = clf, EarlyStopping(patience), None
        self.best_step: int | None = None

    def on_evaluate(self, state: TrainerState, metrics: dict[str, float]) -> bool:
        if self.stopper.update(metrics["accuracy"]):
            self.best_state = {k: v.detach().clone() for k, v in self.clf.state_dict().items()}
            self.best_step = state.step
        self.clf.head.train()  # evaluation left the head in eval mode
        return self.stopper.should_stop


def fine_tune(clf: Any, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None,
              *, epochs: int, batch_size: int, lr: float, weight_decay: float, warmup_ratio: float,
              max_grad_norm: float, patience: int, eval_steps: int | None, seed: int, dtype: str = "float32",
              grad_accum_steps: int = 1, run_dir: str | None = None, resume: bool = False,
              encode_batch_size: int = 64) -> FitResult:
    """Train a :class:`~textcl.classify.classifier.SentenceClassifier`'s encoder and head on ``(texts, y)``.

    See :meth:`SentenceClassifier.fit` for the arguments it passes on.

    Args:
        run_dir: the training run's folder (checkpoints, ``metrics.jsonl``); a temporary folder when None.
        resume: continue the run in ``run_dir`` from its checkpoint.
    """
    start = time.perf_counter()
    data = datasets.Dataset.from_dict({"text": list(texts), "label": [int(v) for v in y]})
    steps_per_epoch = max(1, math.ceil(math.ceil(len(texts) / batch_size) / grad_accum_steps))
    keep = _KeepBest(clf, patience) if validation is not None else None

    def accuracy(_model: Any) -> dict[str, float]:
        pred = clf._predict_ids(validation[0], encode_batch_size)
        return {"accuracy": float(100 * np.mean(pred == validation[1]))}

    projection = clf.encoder.projection
    train_only_projection = projection if projection is not None and projection.mlp_only_train else None
    if train_only_projection is not None:
        clf.encoder.projection = None  # a train-only projection is skipped at inference: the head never sees it
    with contextlib.ExitStack() as stack:
        folder = run_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="textcl-classify-"))
        config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                             warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm, seed=seed, dtype=dtype,
                             grad_accum_steps=grad_accum_steps, eval_steps=eval_steps or steps_per_epoch,
                             log_steps=1, save_steps=steps_per_epoch if run_dir else 10**9, output_dir=folder,
                             no_duplicates=False)
        trainer = Trainer(clf.encoder, SoftmaxLoss(clf.head), LabeledTextView(), data, config,
                          evaluator=accuracy if validation is not None else None,
                          metric_for_best="accuracy" if validation is not None else None,
                          callbacks=[keep] if keep is not None else [])
        clf.head.train()
        trained = trainer.train(resume_from=f"{folder}/checkpoint" if resume else None, overwrite=not resume)
    result = FitResult(0, trained.steps, None, None, False, 0.0)
    losses: list[float] = []
    for record in trained.history:
        if "loss" in record:
            losses.append(record["loss"])
            result.epochs = record["epoch"] + 1
        if "eval_accuracy" in record:
            epoch = math.ceil(record["step"] / steps_per_epoch)
            result.history.append({"epoch": epoch, "step": record["step"], "val_accuracy": record["eval_accuracy"],
                                   "train_loss": float(np.mean(losses)) if losses else 0.0})
            losses = []
    if validation is None:
        result.history.append({"epoch": result.epochs, "step": trained.steps,
                               "train_loss": float(np.mean(losses)) if losses else 0.0})
    if keep is not None and keep.best_state is not None:
        clf.load_state_dict(keep.best_state)
        result.best_epoch = math.ceil(keep.best_step / steps_per_epoch)
        result.best_val_accuracy = keep.stopper.best
        result.stopped_early = keep.stopper.should_stop and trained.steps < epochs * steps_per_epoch
    if train_only_projection is not None:
        clf.encoder.projection = train_only_projection
    clf.eval()
    result.train_seconds = time.perf_counter() - start
    return result
