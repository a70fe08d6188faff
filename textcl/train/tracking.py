"""Experiment trackers as training callbacks: TensorBoard and Weights & Biases, through their own writers.

``TrainConfig(report_to="tensorboard")`` (or ``--report-to tensorboard``) writes event files
under ``OUTPUT/runs/``; ``wandb`` logs to the user's wandb project. Both libraries are
optional extras; asking for one that is not installed is an error naming the install command.
Both get the same grouped tags (:func:`tag`): ``train/loss``, ``train/lr``, ``eval/<metric>``.
"""

from __future__ import annotations

import os
from typing import Any

from textcl.train.callbacks import TrainerCallback, TrainerState

__all__ = ["TensorBoardCallback", "WandbCallback", "make_trackers", "tag"]


def tag(key: str) -> str:
    """The tracker tag of a ``metrics.jsonl`` key: dev metrics under ``eval/``, the rest under ``train/``.

    ``eval_stsb_dev_spearman`` -> ``eval/stsb_dev_spearman``, ``best`` -> ``eval/best``,
    ``loss`` -> ``train/loss``, ``train_seconds`` -> ``train/seconds``.
    """
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_"):]
    if key == "best":
        return "eval/best"
    return "train/" + key.removeprefix("train_")


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a metrics record by tag, ``step`` left out (it is the x axis)."""
    return {tag(k): float(v) for k, v in record.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}


class TensorBoardCallback(TrainerCallback):
    """Write every metrics record as TensorBoard scalars (``torch.utils.tensorboard.SummaryWriter``).

    Args:
        log_dir: event-file folder (default ``OUTPUT/runs``).
    """

    def __init__(self, log_dir: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError("report_to='tensorboard' needs the tensorboard package: "
                              'pip install "textcl-toolkit[tensorboard]" (or pip install tensorboard)') from err
        self.log_dir = log_dir
        self.writer = SummaryWriter(log_dir=log_dir)

    def on_log(self, state: TrainerState, record: dict[str, Any]) -> None:
        step = int(record.get("step", state.step))
        for name, value in _scalars(record).items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def on_train_end(self, state: TrainerState) -> None:
        self.writer.close()


class WandbCallback(TrainerCallback):
    """Log every metrics record to Weights & Biases (``wandb.init`` / ``wandb.log``).

    Args:
        config: the run's settings, stored as the wandb run config.
        name: the run name (default: the output folder's name).
    """

    def __init__(self, config: dict[str, Any], name: str | None = None) -> None:
        try:
            import wandb
        except ImportError as err:
            raise ImportError("report_to='wandb' needs the wandb package: pip install wandb") from err
        self.wandb = wandb
        self.run = wandb.init(config=config, name=name, reinit=True)

    def on_log(self, state: TrainerState, record: dict[str, Any]) -> None:
        self.run.log(_scalars(record), step=int(record.get("step", state.step)))

    def on_train_end(self, state: TrainerState) -> None:
        self.run.finish()


def make_trackers(report_to: str, output_dir: str, config: dict[str, Any]) -> list[TrainerCallback]:
    """The tracker callbacks ``report_to`` names (``none``, ``tensorboard``, ``wandb``, comma-separated)."""
    names = [t.strip() for t in report_to.split(",") if t.strip() and t.strip() != "none"]
    trackers: list[TrainerCallback] = []
    for name in dict.fromkeys(names):
        if name == "tensorboard":
            trackers.append(TensorBoardCallback(os.path.join(output_dir, "runs")))
        elif name == "wandb":
            trackers.append(WandbCallback(config, name=os.path.basename(os.path.abspath(output_dir))))
        else:
            raise ValueError(f"unknown tracker {name!r} in report_to: choose none, tensorboard or wandb")
    return trackers
