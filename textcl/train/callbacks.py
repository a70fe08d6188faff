"""Training callbacks (hooks the trainer calls after a step, an evaluation, a save and a log line), its state and result.

Any hook may stop training by setting ``state.should_stop = True`` (or returning True);
the trainer then saves a final checkpoint and the model, as at the end of a run.

Example:
    >>> class StopAtLoss(TrainerCallback):
    ...     def on_step_end(self, state):
    ...         return state.loss < 0.1
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

__all__ = [
    "FunctionCallback",
    "PrintEvaluation",
    "TrainResult",
    "TrainerCallback",
    "TrainerState",
    "TrainingDivergedError",
    "as_callbacks",
    "check_finite_loss",
    "evaluation_line",
]


@dataclass
class TrainerState:
    """What callbacks see of a running training.

    Attributes:
        step: optimizer steps taken so far.
        epoch: current epoch (0-based).
        total_steps: steps the run will take.
        loss: the loss of the last optimizer step (the value logged, not a running average).
        lr: the learning rate after the last step.
        best_metric: the best dev metric so far, if an evaluator runs.
        best_step: the step that scored ``best_metric``.
        should_stop: set to True to end training after this step.
        log_history: every metrics record written so far.
    """

    step: int = 0
    epoch: int = 0
    total_steps: int = 0
    loss: float = float("nan")
    lr: float = 0.0
    best_metric: float | None = None
    best_step: int | None = None
    should_stop: bool = False
    log_history: list[dict[str, Any]] = field(default_factory=list)


class TrainerCallback:
    """Base class; override the hooks you need. A hook returning True stops training."""

    def on_step_end(self, state: TrainerState) -> bool | None:
        """After every optimizer step."""

    def on_evaluate(self, state: TrainerState, metrics: dict[str, float]) -> bool | None:
        """After every dev evaluation, with its metrics."""

    def on_save(self, state: TrainerState, path: str) -> bool | None:
        """After a checkpoint or the selected model was written to ``path``."""

    def on_log(self, state: TrainerState, record: dict[str, Any]) -> bool | None:
        """After a record was appended to ``metrics.jsonl``."""

    def on_train_end(self, state: TrainerState) -> None:
        """Once, when training ends (also after a stop requested by a callback)."""


class FunctionCallback(TrainerCallback):
    """Wraps a plain function ``record -> None`` called with every metrics record (the older API)."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self.fn = fn

    def on_log(self, state: TrainerState, record: dict[str, Any]) -> bool | None:
        return bool(self.fn(record))


def evaluation_line(state: TrainerState, metrics: dict[str, float], metric_for_best: str) -> str:
    """One line for an evaluation: ``step 200: stsb_dev_spearman 81.23 (best 81.23 at step 200)``.

    The selecting metric comes first, with the best score so far; any other metrics follow.
    """
    line = f"step {state.step}: {metric_for_best} {metrics[metric_for_best]:.2f}"
    if state.best_metric is not None:  # a checkpoint of an older textcl has no best step
        at = f" at step {state.best_step}" if state.best_step is not None else ""
        line += f" (best {state.best_metric:.2f}{at})"
    others = [f"{k} {v:.2f}" for k, v in metrics.items() if k != metric_for_best and isinstance(v, (int, float))]
    return "; ".join([line, *others])


class PrintEvaluation(TrainerCallback):
    """Print each evaluation's scores on one line of stderr, above the training bar (``tqdm.write``).

    Args:
        metric_for_best: the metric that selects the kept model (printed first, with the best so far).
    """

    def __init__(self, metric_for_best: str) -> None:
        self.metric_for_best = metric_for_best

    def on_evaluate(self, state: TrainerState, metrics: dict[str, float]) -> None:
        tqdm.write(evaluation_line(state, metrics, self.metric_for_best), file=sys.stderr)


def as_callbacks(callbacks: Sequence[TrainerCallback | Callable[[dict[str, Any]], Any]]) -> list[TrainerCallback]:
    """Accept callback objects and plain functions alike."""
    out = []
    for cb in callbacks:
        if isinstance(cb, TrainerCallback):
            out.append(cb)
        elif callable(cb):
            out.append(FunctionCallback(cb))
        else:
            raise TypeError(f"callbacks must be TrainerCallback objects or functions, got {type(cb).__name__}")
    return out


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left untouched."""


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        model_path: folder of the selected model (best on the dev metric, else the last).
        steps: optimizer steps taken.
        train_seconds: wall time of the loop (evaluation excluded).
        sentences_per_second: encoded sentences (all views) per second of training.
        best_metric: best dev score seen, if an evaluator ran.
        history: every metrics record written to ``metrics.jsonl``.
    """

    model_path: str
    steps: int
    train_seconds: float
    sentences_per_second: float
    best_metric: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def check_finite_loss(loss: float, step: int, epoch: int, checkpoint_dir: str) -> None:
    """Raise :class:`TrainingDivergedError` when the loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"loss is {loss} at step {step} (epoch {epoch}); training stopped without saving. The last "
            f"good checkpoint is {checkpoint_dir!r} (if one was written). Lower the learning rate, raise the "
            "temperature, use float32 or check the data for empty rows.")
